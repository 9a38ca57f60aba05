"""Disk AIO (issue 6): 20,000 random 4 KiB reads at queue depth 32 from a 256 MiB file.
kevents AIO (io_uring, and its thread-pool fallback) vs asyncio run_in_executor and a
plain os.pread loop, in the same run. Target: kevents >= 3x the executor."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time

import kevents
from kevents import Filter

SIZE = 256 * 2**20
BLOCK = 4096
READS = 20_000
DEPTH = 32


def make_file() -> str:
    fd, path = tempfile.mkstemp(prefix="kevents-bench-")
    chunk = os.urandom(2**20)
    for _ in range(SIZE // len(chunk)):
        os.write(fd, chunk)
    os.close(fd)
    return path


def offsets() -> list[int]:
    rng = random.Random(7)
    return [rng.randrange(0, SIZE // BLOCK) * BLOCK for _ in range(READS)]


def run_pread(fd: int, offs: list[int]) -> float:
    t0 = time.perf_counter()
    for off in offs:
        os.pread(fd, BLOCK, off)
    return time.perf_counter() - t0


def run_kevents(fd: int, offs: list[int], io_uring: bool) -> float:
    with kevents.Queue(io_uring=io_uring) as kq:
        bufs = [bytearray(BLOCK) for _ in range(DEPTH)]
        free = list(range(DEPTH))
        slot: dict[int, int] = {}
        it = iter(offs)
        done = 0
        t0 = time.perf_counter()
        with kq.aio_batch():  # fill the queue: one submission for all of it
            for off in it:
                i = free.pop()
                slot[kq.aio_read(fd, bufs[i], off)] = i
                if not free:
                    break
        while done < READS:
            events = kq.control(None, DEPTH, None)
            with kq.aio_batch():  # refill what completed, again in one submission
                for ev in events:
                    assert ev.filter == Filter.AIO and ev.data == BLOCK
                    done += 1
                    i = slot.pop(ev.ident)
                    off = next(it, None)
                    if off is not None:
                        slot[kq.aio_read(fd, bufs[i], off)] = i
        return time.perf_counter() - t0


def run_executor(fd: int, offs: list[int]) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(DEPTH)

        async def one(off: int) -> None:
            async with sem:
                await loop.run_in_executor(None, os.pread, fd, BLOCK, off)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(o) for o in offs))
        return time.perf_counter() - t0

    return asyncio.run(main())


def main() -> None:
    path = make_file()
    try:
        fd = os.open(path, os.O_RDONLY)
        offs = offsets()
        run_pread(fd, offs)  # warm the page cache
        rates = {
            "os.pread loop": READS / run_pread(fd, offs),
            "asyncio run_in_executor": READS / run_executor(fd, offs),
            "kevents AIO (thread pool)": READS / run_kevents(fd, offs, io_uring=False),
        }
        if kevents.backend_info(io_uring=None).filter(Filter.AIO).mechanism == "io_uring":
            rates["kevents AIO (io_uring)"] = READS / run_kevents(fd, offs, io_uring=True)
        print(f"\n{READS} random {BLOCK} B reads, depth {DEPTH}, {SIZE >> 20} MiB file")
        base = rates["asyncio run_in_executor"]
        for name, rate in rates.items():
            print(f"  {name:28s} {rate:10,.0f} reads/s  {rate / base:5.2f}x executor")
        os.close(fd)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
