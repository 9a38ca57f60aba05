"""The tutorial's program (docs/tutorial.rst) in Trio, with kevents_trio: child
processes, SIGTERM and SIGHUP, a config file and a timer, one task each.

    python examples/trio_tutorial.py CONFIG     # CONFIG: lines "name seconds"
    python examples/trio_tutorial.py            # a sample config, driven for about 3 s
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import kevents_trio as kt
import trio


def load(path: str) -> dict[str, float]:
    """The config: one worker per line, "name seconds"."""
    with open(path) as f:
        return {name: float(secs) for name, secs in (line.split() for line in f if line.strip())}


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


# The sample run: a shell edits the config, then sends us SIGHUP and SIGTERM.
DRIVER = "sleep 0.8; echo 'gamma 0.3' >> {0}; sleep 0.8; kill -HUP {1}; sleep 0.8; kill {1}"


async def main(argv: list[str]) -> int:
    if argv:
        await supervise(argv[0])
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "workers.conf")
        with open(path, "w") as f:
            f.write("alpha 0.4\nbeta 1.0\n")
        driver = subprocess.Popen(["sh", "-c", DRIVER.format(path, os.getpid())])
        await supervise(path)
        driver.wait()
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1:]))
