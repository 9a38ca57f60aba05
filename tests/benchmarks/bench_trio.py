"""kevents_trio vs plain Trio (issue 8), in the same run: 200 children exiting
(``kt.wait_process_exit`` vs ``Process.wait``) and 10,000 USER triggers from a thread
(vs ``trio.from_thread.run_sync``). Not collected by pytest."""

from __future__ import annotations

import sys
import time

import kevents_trio as kt
import trio

from kevents import Filter, Flag, KEvent

N_CHILDREN = 200
N_TRIGGERS = 10_000


async def children_trio() -> float:
    t0 = time.perf_counter()
    procs = [await trio.lowlevel.open_process(["true"]) for _ in range(N_CHILDREN)]
    async with trio.open_nursery() as n:
        for p in procs:
            n.start_soon(p.wait)
    return time.perf_counter() - t0


async def children_kevents() -> float:
    t0 = time.perf_counter()
    procs = [await trio.lowlevel.open_process(["true"]) for _ in range(N_CHILDREN)]

    async def one(p: trio.Process) -> None:
        await kt.wait_process_exit(p.pid)
        await p.wait()  # reap (kevents never does)

    async with trio.open_nursery() as n:
        for p in procs:
            n.start_soon(one, p)
    return time.perf_counter() - t0


async def triggers_trio() -> float:
    got = trio.Event()
    count = [0]
    token = trio.lowlevel.current_trio_token()

    def bump() -> None:
        count[0] += 1
        if count[0] == N_TRIGGERS:
            got.set()

    def thread() -> None:
        for _ in range(N_TRIGGERS):
            trio.from_thread.run_sync(bump, trio_token=token)

    t0 = time.perf_counter()
    async with trio.open_nursery() as n:
        n.start_soon(trio.to_thread.run_sync, thread)
        await got.wait()
    return time.perf_counter() - t0


async def triggers_kevents() -> float:
    async with kt.open_queue() as q:
        q.register(KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR))
        q.register(KEvent(2, Filter.USER, Flag.ADD | Flag.CLEAR))

        def thread() -> None:
            for _ in range(N_TRIGGERS):
                q.trigger(1)
            q.trigger(2)  # the end marker

        seen = 0
        t0 = time.perf_counter()
        async with trio.open_nursery() as n:
            n.start_soon(trio.to_thread.run_sync, thread)
            async for ev in q:
                if ev.ident == 2:
                    break
                seen += 1
        dt = time.perf_counter() - t0
        print(
            f"  (kevents: {N_TRIGGERS} triggers merged into {seen} wake-ups, as EV_CLEAR "
            "USER events do)"
        )
        return dt


def main() -> None:
    for label, plain, ours in (
        (f"{N_CHILDREN} children exiting", children_trio, children_kevents),
        (f"{N_TRIGGERS} USER triggers from a thread", triggers_trio, triggers_kevents),
    ):
        t_plain = min(trio.run(plain) for _ in range(3))
        t_ours = min(trio.run(ours) for _ in range(3))
        print(f"\n{label}")
        print(f"  plain Trio      {t_plain * 1e3:8.1f} ms")
        print(f"  kevents_trio    {t_ours * 1e3:8.1f} ms   {t_plain / t_ours:5.2f}x plain Trio")


if __name__ == "__main__":
    sys.exit(main())
