"""kevents_asyncio vs asyncio's default loop vs uvloop (issues 7 and 14), in the same run.

* pingpong-reader, pingpong-protocol, pingpong-streams: one byte bounced between the two
  ends of a socketpair, through ``add_reader`` callbacks, ``Protocol`` transports and
  streams; hops per second (each hop: one event, one recv, one send);
* echo: 64 concurrent clients each send 1 KiB messages to an echo server (streams API)
  and wait for the echo, for a fixed time; messages per second;
* wakeups: another thread calls ``call_soon_threadsafe`` as fast as it can while the
  loop runs the callbacks; callbacks per second.

Each loop runs in its own subprocess (no state shared), alternating, best of ROUNDS.
Then, where strace is installed, system calls per hop of each ping-pong, counted with
``strace -f -c`` over a fixed number of hops (setup subtracted).

uvloop is installed for the benchmark only: into a private directory under
``${KEVENTS_CACHE:-~/.cache/kevents}/bench-uvloop``, never into the project's venv; if it
cannot be installed (offline), its column says so. Not collected by pytest.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import _util

CLIENTS = 64
SIZE = 1024
SECONDS = 2.0
WAKEUPS = 200_000
ROUNDS = 3
LOOPS = ("default", "kevents", "uvloop")
HOPS = 40_000


def _uvloop_dir() -> pathlib.Path | None:
    cache = pathlib.Path(os.environ.get("KEVENTS_CACHE", pathlib.Path.home() / ".cache/kevents"))
    target = cache / f"bench-uvloop-py{sys.version_info[0]}{sys.version_info[1]}"
    if not (target / "uvloop").exists():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "uvloop"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            return None
    return target


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "kevents":
        import kevents_asyncio

        return kevents_asyncio.new_event_loop()
    if kind == "uvloop":
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


async def pingpong_reader(hops: int) -> float:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    done = loop.create_future()
    left = [hops]

    def bounce(sock: socket.socket) -> None:
        sock.recv(64)
        left[0] -= 1
        if left[0]:
            sock.send(b"x")
        elif not done.done():
            done.set_result(None)

    loop.add_reader(a, bounce, a)
    loop.add_reader(b, bounce, b)
    t0 = time.perf_counter()
    a.send(b"x")
    await done
    elapsed = time.perf_counter() - t0
    loop.remove_reader(a)
    loop.remove_reader(b)
    a.close()
    b.close()
    return hops / elapsed


class _Bounce(asyncio.Protocol):
    def __init__(self, left: list[int], done: asyncio.Future[None]) -> None:
        self.left, self.done = left, done

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.left[0] -= 1
        if self.left[0]:
            self.transport.write(data)
        elif not self.done.done():
            self.done.set_result(None)


async def pingpong_protocol(hops: int) -> float:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    done = loop.create_future()
    left = [hops]
    ta, _ = await loop.connect_accepted_socket(lambda: _Bounce(left, done), a)
    tb, _ = await loop.connect_accepted_socket(lambda: _Bounce(left, done), b)
    t0 = time.perf_counter()
    ta.write(b"x")
    await done
    elapsed = time.perf_counter() - t0
    ta.close()
    tb.close()
    await asyncio.sleep(0)
    return hops / elapsed


async def pingpong_streams(hops: int) -> float:
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_connection(sock=a)
    rb, wb = await asyncio.open_connection(sock=b)

    async def side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        for _ in range(n):
            await reader.read(64)
            writer.write(b"x")

    t0 = time.perf_counter()
    wa.write(b"x")
    # a reads hops/2 bytes and answers each; b the same: hops events in all
    await asyncio.gather(side(rb, wb, hops // 2), side(ra, wa, hops // 2))
    elapsed = time.perf_counter() - t0
    for w in (wa, wb):
        w.close()
    return hops / elapsed


async def echo() -> float:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = time.perf_counter() + SECONDS
    message = b"x" * SIZE

    async def client() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while time.perf_counter() < stop:
            writer.write(message)
            await reader.readexactly(SIZE)
            n += 1
        writer.close()
        await writer.wait_closed()
        return n

    t0 = time.perf_counter()
    total = sum(await asyncio.gather(*(client() for _ in range(CLIENTS))))
    elapsed = time.perf_counter() - t0
    server.close()
    await server.wait_closed()
    return total / elapsed


async def wakeups() -> float:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    count = 0

    def bump() -> None:
        nonlocal count
        count += 1
        if count == WAKEUPS:
            done.set()

    def producer() -> None:
        for _ in range(WAKEUPS):
            loop.call_soon_threadsafe(bump)

    t0 = time.perf_counter()
    t = threading.Thread(target=producer)
    t.start()
    await done.wait()
    elapsed = time.perf_counter() - t0
    t.join()
    return WAKEUPS / elapsed


PINGPONGS: dict[str, Callable[[int], Coroutine[Any, Any, float]]] = {
    "pingpong-reader": pingpong_reader,
    "pingpong-protocol": pingpong_protocol,
    "pingpong-streams": pingpong_streams,
}
ROWS = (
    ("pingpong-reader", "hops/s"),
    ("pingpong-protocol", "hops/s"),
    ("pingpong-streams", "hops/s"),
    ("echo", "msg/s"),
    ("wakeups", "calls/s"),
)


def child(kind: str, only: str | None = None, hops: int = HOPS) -> None:
    # Every loop's process starts in glibc's default allocator state (no tuning, no
    # raised mmap threshold), as a user's program does: what a loop allocates per
    # read is part of its cost.
    loop = new_loop(kind)
    try:
        if only is not None:  # one ping-pong, for the system-call count
            loop.run_until_complete(PINGPONGS[only](hops))
            return
        result = {name: loop.run_until_complete(fn(hops)) for name, fn in PINGPONGS.items()}
        result["echo"] = loop.run_until_complete(echo())
        result["wakeups"] = loop.run_until_complete(wakeups())
    finally:
        loop.close()
    print(json.dumps(result))


def syscalls_per_hop(env: dict[str, str], kind: str, name: str) -> float:
    return _util.syscalls_per_hop(
        lambda hops: [sys.executable, __file__, "--child", kind, name, str(hops)], env
    )


def main() -> None:
    uv = _uvloop_dir()
    root = pathlib.Path(__file__).resolve().parents[2]
    path = [str(root), str(root / "adapters")] + ([str(uv)] if uv else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    best: dict[str, dict[str, float]] = {k: {} for k in LOOPS}
    for _ in range(ROUNDS):
        for kind in LOOPS:
            if kind == "uvloop" and uv is None:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for name, value in json.loads(out).items():
                best[kind][name] = max(best[kind].get(name, 0.0), value)
    base = best["default"]
    print(f"{'':18}{'default':>12}{'kevents':>12}{'uvloop':>12}   kevents/default  uvloop/default")
    for name, unit in ROWS:
        row = [best[k].get(name) for k in LOOPS]
        cells = "".join(f"{v:>12,.0f}" if v else f"{'n/a':>12}" for v in row)
        ratios = "   ".join(f"{v / base[name]:13.2f}x" if v else f"{'n/a':>14}" for v in row[1:])
        print(f"{name:18}{cells}   {ratios}   ({unit}, best of {ROUNDS})")
        # (the chart of make bench: each workload beside asyncio's loop and uvloop)
        names = ("asyncio's default loop", "kevents_asyncio", "uvloop")
        values = {label: v for label, v in zip(names, row, strict=True) if v}
        _util.record(f"asyncio {name} ({unit})", values, names[0], higher=True)
    if uv is None:
        print("uvloop: could not be installed here (offline?), so no uvloop column")
    if shutil.which("strace") is None:
        print("strace is not installed: no system-call counts")
        return
    print("\nsystem calls per hop (strace -c)")
    for name in PINGPONGS:
        cells = "".join(
            f"{syscalls_per_hop(env, k, name):>12.2f}"
            if (k != "uvloop" or uv is not None)
            else f"{'n/a':>12}"
            for k in LOOPS
        )
        print(f"{name:18}{cells}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        if len(sys.argv) > 3:
            child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        else:
            child(sys.argv[2])
    else:
        main()
