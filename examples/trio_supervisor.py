"""The supervisor demo, in Trio: children restarted with back-off, SIGHUP reloads,
SIGTERM stops everything; each concern is a task using kevents_trio's waits.

    python examples/trio_supervisor.py      # sends itself SIGHUP and SIGTERM, then exits
"""

from __future__ import annotations

import os
import signal
import sys

import kevents_trio as kt
import trio

WORKER = (
    "import random, sys, time\n"
    "time.sleep(random.uniform(0.1, 0.4))\n"
    "sys.exit(random.choice([0, 1]))\n"
)


async def worker(name: str) -> None:
    backoff = 0.05
    while True:
        p = await trio.lowlevel.open_process([sys.executable, "-c", WORKER])
        print(f"start {name} (pid {p.pid})", flush=True)
        try:
            status = await kt.wait_process_exit(p.pid)  # any pid; kevents never reaps
        finally:
            if p.poll() is None:
                p.kill()  # cancelled while it runs: no orphans
            with trio.CancelScope(shield=True):
                await p.wait()  # the status is still there for Trio's own wait
        backoff = 0.05 if status.exitcode == 0 else min(backoff * 2, 1.0)
        print(f"exit  {name}: {status.exitcode}; again in {backoff:.2f}s", flush=True)
        await trio.sleep(backoff)


async def main() -> int:
    async with (
        kt.open_signal_receiver(signal.SIGHUP, signal.SIGTERM) as signals,
        trio.open_nursery() as nursery,
    ):
        for name in ("alpha", "beta"):
            nursery.start_soon(worker, name)

        async def script() -> None:  # the demo drives itself
            await trio.sleep(0.8)
            os.kill(os.getpid(), signal.SIGHUP)
            await trio.sleep(0.8)
            os.kill(os.getpid(), signal.SIGTERM)

        nursery.start_soon(script)
        async for sig, count in signals:
            if sig == signal.SIGHUP:
                print(f"SIGHUP x{count}: reloading", flush=True)
            else:
                print("SIGTERM: stopping", flush=True)
                nursery.cancel_scope.cancel()
                break
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main))
