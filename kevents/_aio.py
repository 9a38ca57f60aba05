"""Pieces of AIO shared by the backends: pinning a caller's buffer, a request's pins
and its completion, and doing one request synchronously (the thread-pool engine of
backends without kernel AIO)."""

from __future__ import annotations

import concurrent.futures
import errno
import os
from typing import TYPE_CHECKING, Any

from ._backends._contract import Source
from ._event import Filter, Flag
from ._knote import Knote

if TYPE_CHECKING:
    from ._engine import Engine

#: the operations of Source.submit
OPS = ("read", "write", "fsync")


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


class Request:
    """One request in flight: the pins the kernel (or a worker) writes through, the
    caller's buffer (``view``) and the cffi pointer to it (``cdata``), held until it is
    done with them. ``orphan``: deleted or its queue closed while in flight. It holds
    no reference back to its knote: a cycle would leave the pins to the cyclic GC,
    which may clear the view before the cdata that exports it (a crash, seen)."""

    __slots__ = ("cdata", "done", "future", "orphan", "view")

    def __init__(self, view: memoryview | None, cdata: Any = None) -> None:
        self.view = view
        self.cdata = cdata
        self.future: concurrent.futures.Future[None] | None = None
        self.done = False
        self.orphan = False

    def unpin(self) -> None:
        """End the exports now, not at GC time (a worker's frame may still hold the view
        for a moment)."""
        if self.cdata is not None:
            self.cdata.__exit__(None, None, None)  # ffi.release(), whichever FFI made it
            self.cdata = None
        if self.view is not None:
            self.view.release()
            self.view = None


def finish(engine: Engine, kn: Knote, res: int) -> None:
    """Complete ``kn``'s request: bytes transferred (``res`` >= 0) or -errno."""
    req: Request = kn.priv
    req.unpin()
    req.done = True
    if res >= 0:
        kn.data, kn.fflags = res, 0
    else:
        kn.data, kn.fflags = -1, -res
    engine.enqueue(kn)


class AioSource(Source):
    """What EVFILT_AIO is on every backend: knotes made by ``submit`` (never by EV_ADD),
    one event each (ONESHOT, with EV_EOF as on BSD), ready once the request is done.
    A backend adds how requests reach the kernel and come back (``submit``,
    ``detach`` to cancel, ``close``)."""

    filter = Filter.AIO
    userspace = True

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.next_id = 0

    def attach(self, kn: Knote) -> None:
        raise OSError(errno.EPERM, "AIO events come from Queue.aio_read/aio_write/aio_fsync")

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        pass  # only udata (set by the engine) and enable state can change

    def event(self, kn: Knote) -> bool:
        return bool(kn.priv.done)

    def clear(self, kn: Knote) -> None:
        pass  # one-shot: the knote is dropped after delivery

    def new_request(self, op: str, buffer: Any, udata: Any) -> Knote:
        """The knote of a new request, with the caller's buffer pinned."""
        if op not in OPS:
            raise ValueError(f"unknown AIO operation {op!r}")
        view = None if op == "fsync" else pin(buffer, op == "read")
        self.next_id += 1
        kn = Knote(self.next_id, Filter.AIO, Flag.ONESHOT, 0, 0, udata)
        kn.source = self
        kn.oflags = int(Flag.EOF)
        kn.priv = Request(view)
        return kn
