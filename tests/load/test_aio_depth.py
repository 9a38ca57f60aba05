"""Load: AIO at every depth from 1 to 4,096 requests in flight, on every backend (io_uring
and the thread pool on Linux): every completion arrives exactly once, with the right
bytes, and the queue goes on working afterwards (issue 15)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from kevents import Filter, Queue

CONTENT = os.urandom(1 << 16)
CHUNK = 16


@pytest.fixture(scope="module")
def datafile() -> Iterator[int]:
    fd, path = tempfile.mkstemp()
    os.write(fd, CONTENT)
    try:
        yield fd
    finally:
        os.close(fd)
        os.unlink(path)


def run_depth(kq: Queue, fd: int, depth: int) -> None:
    slots = len(CONTENT) // CHUNK
    bufs = [bytearray(CHUNK) for _ in range(depth)]
    want = {kq.aio_read(fd, b, CHUNK * (i % slots)): i for i, b in enumerate(bufs)}
    seen: set[int] = set()
    while len(seen) < depth:
        evs = kq.control(None, 512, 10)
        assert evs, f"depth {depth}: {len(seen)} completions, then nothing for 10 s"
        for ev in evs:
            assert ev.filter == Filter.AIO and ev.ident in want and ev.ident not in seen
            assert ev.data == CHUNK
            seen.add(ev.ident)
    assert kq.control(None, 8, 0) == []
    for i, b in enumerate(bufs):
        off = CHUNK * (i % slots)
        assert b == CONTENT[off : off + CHUNK]


DEPTHS = [1, 2, 3, 7, 64, 255, 256, 257, 511, 512, 513, 1000, 1024, 1025, 2048, 4095, 4096]


@pytest.mark.slow
def test_every_depth_every_completion_once(kq: Queue, datafile: int) -> None:
    for depth in DEPTHS:
        run_depth(kq, datafile, depth)
    for depth in range(1, 4097, 97):  # and the depths in between, on the same queue
        run_depth(kq, datafile, depth)
