"""Wait for several processes in asyncio, children or not, each with its exit status.

    python examples/asyncio_wait_pid.py [PID ...]

Without arguments it starts two processes that are *not* its children (a shell's
background jobs) and one child of its own, and waits for all three at once: asyncio
alone can wait only for its own children. kevents never reaps, so the child's status
is still there for asyncio's own ``wait()``.
"""

from __future__ import annotations

import asyncio
import sys

import kevents_asyncio


async def watch(pid: int) -> None:
    try:
        status = await kevents_asyncio.wait_process_exit(pid)
    except OSError as exc:
        print(f"pid {pid}: {exc.strerror}")
        return
    how = f"exit status {status.exitcode}" if status.known else "exit status unknown"
    print(f"pid {pid} exited: {how}")


async def main(argv: list[str]) -> int:
    if argv:
        await asyncio.gather(*(watch(int(a)) for a in argv))
        return 0
    shell = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        "sleep 0.2 & echo $!; (sleep 0.4; exit 3) & echo $!; wait",
        stdout=asyncio.subprocess.PIPE,
    )
    assert shell.stdout is not None
    others = [int(await shell.stdout.readline()) for _ in range(2)]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(5)"
    )
    print(f"waiting for {others} (grandchildren) and {child.pid} (our child)")
    await asyncio.wait_for(asyncio.gather(*(watch(p) for p in [*others, child.pid])), 10)
    print(f"asyncio's own wait() still sees the child's status: {await child.wait()}")
    await shell.wait()
    return 0


if __name__ == "__main__":
    sys.exit(kevents_asyncio.run(main(sys.argv[1:])))
