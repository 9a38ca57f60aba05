"""Pieces of AIO shared by the backends: pinning a caller's buffer, and doing one
request synchronously (the thread-pool engine of backends without kernel AIO)."""

from __future__ import annotations

import errno
import os
from typing import Any


def pin(buffer: Any, writable: bool) -> memoryview:
    """A byte view of ``buffer`` that keeps it exported (it cannot be resized or freed)
    until ``release()``; reads need a writable, C-contiguous buffer."""
    view = memoryview(buffer)
    if not view.c_contiguous:
        raise ValueError("AIO buffers must be C-contiguous")
    if writable and view.readonly:
        raise TypeError("aio_read needs a writable buffer (bytearray, memoryview, mmap)")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def perform(op: str, fd: int, view: memoryview | None, offset: int) -> int:
    """Do one request now: bytes transferred, or -errno (a completion's ``res``)."""
    try:
        if offset < 0:
            return -errno.EINVAL
        if op == "read":
            assert view is not None
            return os.preadv(fd, [view], offset)
        if op == "write":
            assert view is not None
            return os.pwritev(fd, [view], offset)
        os.fsync(fd)
        return 0
    except OSError as exc:
        return -(exc.errno or errno.EIO)
