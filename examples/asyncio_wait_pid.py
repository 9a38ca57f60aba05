"""Wait for several processes in asyncio, children or not, each with its exit status.

    python examples/asyncio_wait_pid.py [PID ...]

Without arguments it starts a helper process that starts two more (*not* our
children: asyncio alone cannot wait for those) plus one child of its own, and waits for
all three at once. kevents never reaps, so the child's status is still there for its
own ``wait()``. Runs on Linux, Windows and the BSDs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import kevents_asyncio

# the helper: starts two processes, prints their pids, waits for them
HELPER = (
    "import subprocess, sys\n"
    "ps = [subprocess.Popen([sys.executable, '-c', f'import sys, time; time.sleep({t}); "
    "sys.exit({code})']) for t, code in ((0.2, 0), (0.4, 3))]\n"
    "print(*(p.pid for p in ps), flush=True)\n"
    "for p in ps: p.wait()\n"
)


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
    helper = subprocess.Popen([sys.executable, "-c", HELPER], stdout=subprocess.PIPE, text=True)
    assert helper.stdout is not None
    others = [int(p) for p in helper.stdout.readline().split()]
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(5)"]
    )
    print(f"waiting for {others} (not our children) and {child.pid} (our child)")
    await asyncio.wait_for(asyncio.gather(*(watch(p) for p in [*others, child.pid])), 20)
    print(f"the child's own wait() still has its status: {child.wait()}")
    helper.wait()
    helper.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(kevents_asyncio.run(main(sys.argv[1:])))
