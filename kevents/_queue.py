"""``kevents.Queue``: one kqueue-style event queue."""

from __future__ import annotations

import contextlib
import os
import socket as _socket
import sys
import warnings
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol

from ._backends import choose, make_backend
from ._core import Core
from ._engine import Engine
from ._errors import UnsupportedError
from ._event import HasFileno, KEvent
from ._fork import track


class _Impl(Protocol):
    """What a queue drives: the engine, or a pass-through backend (native kqueue)."""

    @property
    def closed(self) -> bool: ...
    def control(
        self,
        changes: Iterable[KEvent[int | HasFileno]] | None,
        max_events: int,
        timeout: float | None,
    ) -> list[KEvent]: ...
    def submit(self, op: str, fd: int, buffer: Any, offset: int, udata: Any) -> int: ...
    def close_fd(self, fd: int) -> None: ...
    def close(self) -> None: ...


class Queue(Core):
    """A kernel event queue with kqueue semantics on every OS.

    ``backend`` forces a backend by name (``"linux"``, ``"iocp"``, ``"kqueue"``);
    otherwise ``KEVENTS_BACKEND`` or the platform decides. ``io_uring`` (Linux) forces
    the io_uring accelerator on or off; otherwise ``KEVENTS_IO_URING`` or a probe
    decides. The queue's descriptor is
    close-on-exec, polls readable while events are pending, and is closed in a forked
    child.

    ``counts=False`` is for callers that never read ``data`` of READ/WRITE events
    (event loops): on Linux, where the count costs one or two system calls per event,
    such events then carry ``data`` 0 and the wait costs what ``select.epoll`` costs
    (D43). ``Flag.NODATA`` on a READ/WRITE change is the same opt-out for one knote,
    for a loop that shares its queue with callers who may read ``data`` (D78).
    ``control()`` is inherited: see :meth:`control`.
    """

    __slots__ = ("__weakref__", "_fd", "backend")

    def __init__(
        self, backend: str | None = None, *, io_uring: bool | None = None, counts: bool = True
    ) -> None:
        self._engine: _Impl | None = None
        name, _ = choose(backend)
        self.backend: str = name
        impl = make_backend(name, io_uring)
        if not counts and hasattr(impl, "counts"):
            impl.counts = False  # only backends where counting costs declare it
        # a native kqueue is its own engine; every other backend is driven by ours
        engine = impl if getattr(impl, "passthrough", False) else Engine(impl)
        self._engine = engine
        try:
            self._fd: int = impl.fileno()
        except UnsupportedError:
            self._fd = -1  # Windows: a completion port has no pollable descriptor
        track(engine)
        fast_state = getattr(impl, "fast_state", None)
        if fast_state is not None and isinstance(engine, Engine):
            state = fast_state(engine)
            if state is not None:
                self._fast_setup(*state)

    def aio_read(self, fd: int, buffer: Any, offset: int, udata: Any = None) -> int:
        """Read ``len(buffer)`` bytes at ``offset`` of ``fd`` into ``buffer`` (bytearray,
        memoryview, mmap...) asynchronously. Returns the request id; the completion is one
        ``Filter.AIO`` event with that ident: ``data`` = bytes read, or -1 with the errno
        in ``fflags``. The buffer stays pinned until then; ``KEvent(id, Filter.AIO,
        Flag.DELETE)`` cancels."""
        return self._live().submit("read", fd, buffer, offset, udata)

    def aio_write(self, fd: int, buffer: Any, offset: int, udata: Any = None) -> int:
        """Write ``buffer`` at ``offset`` of ``fd`` asynchronously; see :meth:`aio_read`."""
        return self._live().submit("write", fd, buffer, offset, udata)

    def aio_fsync(self, fd: int, udata: Any = None) -> int:
        """Flush ``fd`` to stable storage asynchronously; see :meth:`aio_read`."""
        return self._live().submit("fsync", fd, None, 0, udata)

    def aio_batch(self) -> contextlib.AbstractContextManager[None]:
        """``with kq.aio_batch():`` the requests started inside are handed to the kernel
        together at the end of the block (one ``io_uring_enter`` on Linux), instead of
        one by one."""
        batch = getattr(self._live(), "aio_batch", None)
        return batch() if batch is not None else contextlib.nullcontext()

    def _live(self) -> _Impl:
        engine = self._engine
        if engine is None:
            raise ValueError("I/O operation on closed kevents queue")
        return engine

    def close_fd(self, fd: int) -> None:
        """Delete every knote of descriptor ``fd`` in this queue (READ, WRITE, VNODE,
        PROCDESC...), then close ``fd``.

        On BSD closing a descriptor drops its knotes; epoll keeps a registration alive
        while any dup of the file lives, so delete before close (or use this).
        """
        self._live().close_fd(fd)
        if sys.platform == "win32":
            # a Windows socket is a handle, not a C runtime descriptor: os.close() does
            # not know it (the handle values are far above the descriptors in use)
            try:
                os.close(fd)
            except OSError:
                _socket.close(fd)
        else:
            os.close(fd)

    def close(self) -> None:
        """Close the queue and drop every registration. Idempotent."""
        engine = self._engine
        if engine is not None:
            engine.close()

    @property
    def closed(self) -> bool:
        engine = self._engine
        return engine is None or engine.closed

    def fileno(self) -> int:
        """The queue's descriptor: readable while events are pending."""
        if self.closed:
            raise ValueError("I/O operation on closed kevents queue")
        if self._fd < 0:
            raise UnsupportedError(
                f"Queue.fileno() on the {self.backend} backend (no pollable descriptor)"
            )
        return self._fd

    def __enter__(self) -> Queue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            warnings.warn(
                f"unclosed kevents queue {self!r}", ResourceWarning, stacklevel=2, source=self
            )
            engine.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<kevents.Queue backend={self.backend} {state}>"
