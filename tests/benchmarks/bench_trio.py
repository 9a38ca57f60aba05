"""kevents_trio vs plain Trio (issues 8 and 14), in the same run:

* ping-pong: one byte bounced between the ends of a socketpair by two tasks, waiting
  with ``trio.lowlevel.wait_readable`` (the baseline), with one persistent READ|CLEAR
  registration per end (``q.events``), and with ``q.wait_kevent`` per hop; each kevents
  way twice, counting (FreeBSD's ``data``) and with ``Flag.NODATA`` (what a caller
  who never reads ``data``, as ``wait_readable``'s, asks for: D78); hops per second,
  and (where strace is installed) system calls per hop;
* 200 children exiting (``kt.wait_process_exit`` vs ``Process.wait``);
* 10,000 USER triggers from a thread (vs ``trio.from_thread.run_sync``).

Not collected by pytest.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import sys
import time
from collections.abc import Awaitable, Callable

import _util
import kevents_trio as kt
import trio

from kevents import Filter, Flag, KEvent

N_CHILDREN = 200
N_TRIGGERS = 10_000
HOPS = 20_000


async def _pingpong(hops: int, wait: Callable[[socket.socket], Awaitable[object]]) -> float:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def side(sock: socket.socket, n: int) -> None:
        for _ in range(n):
            await wait(sock)
            sock.recv(64)
            sock.send(b"x")

    with a, b:
        t0 = time.perf_counter()
        a.send(b"x")
        async with trio.open_nursery() as n:
            n.start_soon(side, b, hops // 2)
            n.start_soon(side, a, hops // 2)
        return time.perf_counter() - t0


async def pingpong_wait_readable(hops: int = HOPS) -> float:
    return await _pingpong(hops, trio.lowlevel.wait_readable)


async def pingpong_events(hops: int = HOPS, extra: int = 0) -> float:
    async with kt.open_queue() as q:
        streams = {}

        async def wait(sock: socket.socket) -> object:
            key = (sock.fileno(), int(Filter.READ))
            if key not in streams:
                q.register(KEvent(sock, Filter.READ, Flag.ADD | Flag.CLEAR | extra))
                streams[key] = q.events(key)
            return await streams[key].__anext__()

        try:
            return await _pingpong(hops, wait)
        finally:
            for it in streams.values():
                await it.aclose()


async def pingpong_wait_kevent(hops: int = HOPS, extra: int = 0) -> float:
    async with kt.open_queue() as q:
        flags = Flag.ADD | extra
        return await _pingpong(hops, lambda sock: q.wait_kevent(KEvent(sock, Filter.READ, flags)))


async def pingpong_events_nodata(hops: int = HOPS) -> float:
    return await pingpong_events(hops, Flag.NODATA)


async def pingpong_wait_kevent_nodata(hops: int = HOPS) -> float:
    return await pingpong_wait_kevent(hops, Flag.NODATA)


PINGPONGS = {
    "trio.lowlevel.wait_readable": pingpong_wait_readable,
    "kevents_trio persistent events": pingpong_events,
    "kevents_trio persistent, NODATA": pingpong_events_nodata,
    "kevents_trio wait_kevent": pingpong_wait_kevent,
    "kevents_trio wait_kevent, NODATA": pingpong_wait_kevent_nodata,
}


def syscalls_per_hop(name: str) -> float:
    root = pathlib.Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(root / "adapters")]))
    return _util.syscalls_per_hop(
        lambda hops: [sys.executable, __file__, "--child", name, str(hops)], env
    )


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
    rates = {name: 0.0 for name in PINGPONGS}
    for _ in range(3):  # alternating, best of 3
        for name, fn in PINGPONGS.items():
            rates[name] = max(rates[name], HOPS / trio.run(fn))
    base = rates["trio.lowlevel.wait_readable"]
    counts = shutil.which("strace") is not None
    print(f"\nping-pong over a socketpair, {HOPS} hops (best of 3)")
    for name, rate in rates.items():
        calls = f"   {syscalls_per_hop(name):5.2f} system calls/hop" if counts else ""
        print(f"  {name:32s} {rate:10,.0f} hops/s  {rate / base:5.2f}x{calls}")
    if not counts:
        print("  (strace is not installed: no system-call counts)")
    _util.record(
        f"Trio ping-pong over a socketpair, {HOPS} hops (hops/s)",
        rates,
        "trio.lowlevel.wait_readable",
        higher=True,
    )
    for label, plain, ours in (
        (f"{N_CHILDREN} children exiting", children_trio, children_kevents),
        (f"{N_TRIGGERS} USER triggers from a thread", triggers_trio, triggers_kevents),
    ):
        t_plain = min(trio.run(plain) for _ in range(3))
        t_ours = min(trio.run(ours) for _ in range(3))
        print(f"\n{label}")
        print(f"  plain Trio      {t_plain * 1e3:8.1f} ms")
        print(f"  kevents_trio    {t_ours * 1e3:8.1f} ms   {t_plain / t_ours:5.2f}x plain Trio")
        times = {"plain Trio": t_plain, "kevents_trio": t_ours}
        _util.record(f"Trio: {label} (seconds)", times, "plain Trio", higher=False)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        trio.run(PINGPONGS[sys.argv[2]], int(sys.argv[3]))
    else:
        sys.exit(main())
