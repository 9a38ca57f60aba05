"""The io_uring ring itself: completions past the CQ's size are never lost (issue 15).

The AIO source never lets that many requests into the kernel; this drives the ring
directly, past its CQ, to check the second line: the kernel's overflow list (IORING_SQ_CQ_OVERFLOW,
5.8+) is flushed by ``reap``."""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("io_uring is Linux-only", allow_module_level=True)

from kevents._backends.linux.io_uring import Ring, probe
from kevents._ffi import ffi, lib

if not probe().aio:
    pytest.skip("io_uring (IORING_OP_READ) is not available here", allow_module_level=True)


def test_reap_flushes_the_overflow_list() -> None:
    ring = Ring(8)
    fd, path = tempfile.mkstemp()
    os.unlink(path)
    try:
        os.write(fd, b"x" * 64)
        total = 4 * ring.cq_entries + 3
        bufs = [ffi.new("char[]", 8) for _ in range(total)]
        for i, buf in enumerate(bufs):
            if lib.kev_ring_prep_rw(ring.ptr, lib.KEV_OP_READ, fd, buf, 8, 0, i + 1) < 0:
                ring.submit(0)
                assert lib.kev_ring_prep_rw(ring.ptr, lib.KEV_OP_READ, fd, buf, 8, 0, i + 1) == 0
        ring.submit(0)
        seen: list[int] = []
        deadline = time.monotonic() + 10
        while len(seen) < total and time.monotonic() < deadline:
            seen.extend(ud for ud, res in ring.reap() if res == 8)
            time.sleep(0.01)
        assert sorted(seen) == list(range(1, total + 1))
    finally:
        os.close(fd)
        ring.close()
