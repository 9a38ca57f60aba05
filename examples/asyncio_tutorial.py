"""The tutorial's program (docs/tutorial.rst) in asyncio, on kevents_asyncio's loop:
child processes, SIGTERM and SIGHUP, a config file and a timer, one task each.

    python examples/asyncio_tutorial.py CONFIG     # CONFIG: lines "name seconds"
    python examples/asyncio_tutorial.py            # a sample config, driven for about 3 s
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import kevents_asyncio
from tutorial import load, sample_run  # the config format and the sample run


async def worker(name: str, seconds: float) -> None:
    """Run the worker, again each time it exits, until cancelled."""
    while True:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"import time; time.sleep({seconds})"
        )
        print(f"start  {name} (pid {child.pid})", flush=True)
        try:
            code = await child.wait()  # the loop hears of the exit through a PROC knote
        except asyncio.CancelledError:
            child.terminate()
            await child.wait()
            raise
        print(f"exit   {name}: {code}", flush=True)


async def supervise(path: str) -> None:
    workers: dict[str, asyncio.Task[None]] = {}

    def reload() -> None:
        print("reload", flush=True)
        wanted = load(path)
        for name in workers.keys() - wanted.keys():
            workers.pop(name).cancel()
        for name in wanted.keys() - workers.keys():
            workers[name] = asyncio.create_task(worker(name, wanted[name]))

    async def on_config_change() -> None:
        async for _ in kevents_asyncio.file_changes(path):  # a VNODE knote on the file
            reload()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.5)  # asyncio's timers; the loop waits in the queue
            print(f"tick   {len(workers)} running", flush=True)

    reload()
    helpers = [asyncio.create_task(on_config_change()), asyncio.create_task(tick())]
    try:
        async with kevents_asyncio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM) as sigs:
            async for signum, _count in sigs:
                if signum == signal.SIGHUP:
                    reload()
                else:
                    print(f"SIGTERM: stopping {len(workers)} worker(s)", flush=True)
                    break
    finally:
        tasks = [*helpers, *workers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def main(argv: list[str]) -> int:
    # the config given, or the sample run (tutorial.py's)
    with contextlib.nullcontext(argv[0]) if argv else sample_run() as path:
        await supervise(path)
    return 0


if __name__ == "__main__":
    sys.exit(kevents_asyncio.run(main(sys.argv[1:])))
