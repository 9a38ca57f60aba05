"""The supervisor demo, in asyncio: children restarted with back-off, the config file
reloaded when it changes, SIGHUP reloads too, SIGTERM stops everything - processes,
signals and a file in one kevents loop, with no SIGCHLD handler and no watcher thread.

    python examples/asyncio_supervisor.py    # edits its config, sends itself SIGHUP and
                                             # SIGTERM, then exits
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile

import kevents_asyncio

WORKER = (
    "import random, sys, time\n"
    "time.sleep(random.uniform(0.1, 0.4))\n"
    "sys.exit(random.choice([0, 1]))\n"
)


async def worker(name: str) -> None:
    backoff = 0.05
    while True:
        p = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER)
        print(f"start {name} (pid {p.pid})", flush=True)
        try:
            code = await p.wait()  # the loop learns of the exit through a PROC knote
        except asyncio.CancelledError:
            if p.returncode is None:
                p.kill()  # cancelled while it runs: no orphans
                await p.wait()
            raise
        backoff = 0.05 if code == 0 else min(backoff * 2, 1.0)
        print(f"exit  {name}: {code}; again in {backoff:.2f}s", flush=True)
        await asyncio.sleep(backoff)


def load(path: str) -> list[str]:
    with open(path) as f:
        names: list[str] = json.load(f)["workers"]
    print(f"config: workers {names}", flush=True)
    return names


async def supervise(path: str) -> None:
    tasks: dict[str, asyncio.Task[None]] = {}

    def apply(names: list[str]) -> None:
        for name in set(tasks) - set(names):
            tasks.pop(name).cancel()
        for name in names:
            if name not in tasks:
                tasks[name] = asyncio.ensure_future(worker(name))

    apply(load(path))
    config_dir = os.path.dirname(path)

    async def config_changes() -> None:  # the directory: editors replace files
        async for _ in kevents_asyncio.file_changes(config_dir):
            apply(load(path))

    watcher = asyncio.ensure_future(config_changes())
    try:
        async with kevents_asyncio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM) as sigs:
            async for sig, count in sigs:
                if sig == signal.SIGHUP:
                    print(f"SIGHUP x{count}: reloading", flush=True)
                    apply(load(path))
                else:
                    print("SIGTERM: stopping", flush=True)
                    break
    finally:
        watcher.cancel()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(watcher, *tasks.values(), return_exceptions=True)


async def script(path: str) -> None:  # the demo drives itself
    await asyncio.sleep(0.8)
    with open(path + ".new", "w") as f:
        json.dump({"workers": ["alpha", "gamma"]}, f)
    os.replace(path + ".new", path)  # as an editor saves
    await asyncio.sleep(0.8)
    os.kill(os.getpid(), signal.SIGHUP)
    await asyncio.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "supervisor.json")
        with open(path, "w") as f:
            json.dump({"workers": ["alpha", "beta"]}, f)
        driver = asyncio.ensure_future(script(path))
        await supervise(path)
        await driver
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(kevents_asyncio.run(main()))
