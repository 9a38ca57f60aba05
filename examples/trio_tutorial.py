"""The tutorial's program (docs/tutorial.rst) in Trio, with kevents_trio: child
processes, SIGTERM and SIGHUP, a config file and a timer, one task each.

    python examples/trio_tutorial.py CONFIG     # CONFIG: lines "name seconds"
    python examples/trio_tutorial.py            # a sample config, driven for about 3 s
"""

from __future__ import annotations

import contextlib
import signal
import sys

import kevents_trio as kt
import trio
from tutorial import load, sample_run  # the config format and the sample run


async def worker(name: str, seconds: float, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
    """Run the worker, again each time it exits, until its cancel scope is cancelled."""
    with trio.CancelScope() as scope:
        task_status.started(scope)
        while True:
            cmd = [sys.executable, "-c", f"import time; time.sleep({seconds})"]
            child = await trio.lowlevel.open_process(cmd)
            print(f"start  {name} (pid {child.pid})", flush=True)
            try:
                status = await kt.wait_process_exit(child.pid)  # a PROC knote; never reaps
            finally:
                if child.poll() is None:
                    child.terminate()  # cancelled while it runs: no orphans
                with trio.CancelScope(shield=True):
                    await child.wait()  # Trio reaps it; the status was still there
            print(f"exit   {name}: {status.exitcode}", flush=True)


async def supervise(path: str) -> None:
    workers: dict[str, trio.CancelScope] = {}
    async with trio.open_nursery() as nursery:

        async def reload() -> None:
            print("reload", flush=True)
            wanted = load(path)
            for name in workers.keys() - wanted.keys():
                workers.pop(name).cancel()
            for name in wanted.keys() - workers.keys():
                workers[name] = await nursery.start(worker, name, wanted[name])

        async def on_config_change() -> None:
            async for _ in kt.file_changes(path):  # a VNODE knote on the file
                await reload()

        async def tick() -> None:
            while True:
                await trio.sleep(0.5)
                print(f"tick   {len(workers)} running", flush=True)

        await reload()
        nursery.start_soon(on_config_change)
        nursery.start_soon(tick)
        async with kt.open_signal_receiver(signal.SIGHUP, signal.SIGTERM) as sigs:
            async for signum, _count in sigs:
                if signum == signal.SIGHUP:
                    await reload()
                else:
                    print(f"SIGTERM: stopping {len(workers)} worker(s)", flush=True)
                    nursery.cancel_scope.cancel()
                    break


async def main(argv: list[str]) -> int:
    # the config given, or the sample run (tutorial.py's)
    with contextlib.nullcontext(argv[0]) if argv else sample_run() as path:
        await supervise(path)
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1:]))
