"""kevents_asyncio vs asyncio's default loop vs uvloop (issue 7), in the same run.

* echo: 64 concurrent clients each send 1 KiB messages to an echo server (streams API)
  and wait for the echo, for a fixed time; messages per second;
* wakeups: another thread calls ``call_soon_threadsafe`` as fast as it can while the
  loop runs the callbacks; callbacks per second.

Each loop runs in its own subprocess (no state shared), alternating, best of ROUNDS.
uvloop is installed for the benchmark only: into a private directory under
``${KEVENTS_CACHE:-~/.cache/kevents}/bench-uvloop``, never into the project's venv; if it
cannot be installed (offline), its column says so. Not collected by pytest.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

CLIENTS = 64
SIZE = 1024
SECONDS = 2.0
WAKEUPS = 200_000
ROUNDS = 3
LOOPS = ("default", "kevents", "uvloop")


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


def child(kind: str) -> None:
    # Same allocator state for every loop. asyncio reads with recv(256 KiB); glibc
    # serves that with mmap/munmap (three syscalls a message) until some free of a
    # large block raises its dynamic mmap threshold, which happened by chance in one
    # loop's process and not another's and was worth 2x in echo. Freeing one 1 MiB
    # block first puts every process in the raised state.
    block = bytearray(1 << 20)
    del block
    loop = new_loop(kind)
    try:
        result = {"echo": loop.run_until_complete(echo())}
        result["wakeups"] = loop.run_until_complete(wakeups())
    finally:
        loop.close()
    print(json.dumps(result))


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
    print(f"{'':10}{'default':>12}{'kevents':>12}{'uvloop':>12}   kevents/default  uvloop/default")
    for name, unit in (("echo", "msg/s"), ("wakeups", "calls/s")):
        row = [best[k].get(name) for k in LOOPS]
        cells = "".join(f"{v:>12,.0f}" if v else f"{'n/a':>12}" for v in row)
        ratios = "   ".join(f"{v / base[name]:13.2f}x" if v else f"{'n/a':>14}" for v in row[1:])
        print(f"{name:10}{cells}   {ratios}   ({unit}, best of {ROUNDS})")
    if uv is None:
        print("uvloop: could not be installed here (offline?), so no uvloop column")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
