"""EVFILT_AIO on Linux: disk I/O completions as events, via io_uring or a thread pool.

Readiness cannot make disk files asynchronous (a regular file is always "ready"), so
AIO is completion-shaped, as on IOCP: a request is submitted with ``Queue.aio_read``,
``aio_write`` or ``aio_fsync``, which return a request id, and its completion arrives
once as an event (spec §5.4, §6.10): ``ident`` = the request id, ``filter`` AIO,
``flags`` EV_ONESHOT|EV_EOF (BSD sets EV_EOF on AIO completions), ``data`` = bytes
transferred; on failure ``data`` is -1 and ``fflags`` holds the errno (the socket-error
convention of EV_EOF events). EV_DELETE of (request id, AIO) cancels the request.

Buffers are pinned from submission until the kernel (or the worker thread) is done with
them, even when the caller drops its references, deletes the request or closes the
queue: closing cancels what is in flight and waits for every completion, so memory is
never released under a pending DMA.

With io_uring (``io_uring.decide()``): one ring per queue, created at the first
request; each request is published at once (a thread may be blocked in epoll_wait,
and a loop waiting on the queue's fd would otherwise never see it), except inside
``Queue.aio_batch()``, which publishes every request of the block in one
``io_uring_enter``; the ring fd sits in the queue's epoll (it polls readable while
completions wait). At most half the CQ's worth of requests are in the kernel at once
(``_prep``): the rest wait in ``backlog``, in order, and go in as completions are
reaped, so the CQ never overflows (which lost completions, issue 15). Without it: a small
thread pool running ``os.preadv``/``os.pwritev``/``os.fsync``, posting completions
through an eventfd in the same epoll. Both give the same events.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from ... import _aio
from ..._aio import Request, finish, perform
from ..._ffi import check, ffi, lib
from ..._knote import Knote
from .io_uring import Ring

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

_CANCEL_TAG = 1 << 62  # user_data of our own cancel SQEs


class AioSource(_aio.AioSource):
    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.use_ring: bool | None = None  # decided at the first request
        self.inflight: dict[int, Knote] = {}
        self.orphans: dict[int, Request] = {}  # cancelled/deleted, the kernel not done
        self.ring: Ring | None = None
        self.ring_lock = threading.Lock()
        self.sent = 0  # SQEs prepared whose completion is not reaped yet (<= cq_entries)
        self.backlog: deque[tuple[Any, tuple[Any, ...]]] = deque()  # (prep, args) for later
        self.held: set[int] = set()  # ids of the requests in the backlog
        self.dirty = False
        self.batching = 0  # inside Queue.aio_batch(): publish at its end, in one call
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.done: deque[tuple[int, int]] = deque()
        self.efd = -1

    # -- the Source protocol --------------------------------------------------------

    def detach(self, kn: Knote) -> None:
        req: Request = kn.priv
        if self.inflight.pop(kn.ident, None) is None:
            return  # already completed: nothing pinned any more
        self.orphans[kn.ident] = req
        if req.future is not None:
            if req.future.cancel():
                del self.orphans[kn.ident]
                req.unpin()
        elif kn.ident in self.held:  # never reached the kernel: withdrawn from the backlog
            self.held.discard(kn.ident)
            del self.orphans[kn.ident]
            req.unpin()
        elif self.ring is not None:
            with self.ring_lock:
                self._cancel(kn.ident)

    # -- submission (engine lock held) --------------------------------------------------

    def submit(self, op: str, fd: int, buffer: Any, offset: int, udata: Any) -> Knote:
        kn = self.new_request(op, buffer, udata)
        req: Request = kn.priv
        if req.view is not None:
            req.cdata = ffi.from_buffer(req.view, require_writable=op == "read")
        self.inflight[kn.ident] = kn
        if self.use_ring is None:
            self.use_ring = self.backend.io_uring().aio
        if offset < 0 or fd < 0:
            self._complete(kn.ident, -(errno.EINVAL if offset < 0 else errno.EBADF))
        elif self.use_ring:
            self._submit_ring(kn.ident, op, fd, req, offset)
        else:
            self._submit_pool(kn.ident, op, fd, req, offset)
        return kn

    def _submit_ring(self, ident: int, op: str, fd: int, req: Request, offset: int) -> None:
        if self.ring is None:
            self.ring = Ring(256)
            self.backend.add_internal(self.ring.fd, lib.EPOLLIN, self._ring_ready)
        with self.ring_lock:
            if op == "fsync":
                self._prep(lib.kev_ring_prep_fsync, fd, ident)
            else:
                opcode = lib.KEV_OP_READ if op == "read" else lib.KEV_OP_WRITE
                self._prep(
                    lib.kev_ring_prep_rw, opcode, fd, req.cdata, len(req.view or b""), offset, ident
                )
        if not self.batching:
            self.flush()  # a waiter blocked in epoll_wait would never publish it

    def _prep(self, fn: Any, *args: Any) -> None:
        """Prepare the SQE of a request (ring lock held; its user_data is the last
        argument), or keep it in the backlog while half the CQ is spoken for.

        Story: every SQE gives one CQE, and the CQ holds ``cq_entries`` of them (twice
        the SQ). Requests are admitted only while fewer than half that many SQEs are
        outstanding; a cancel (at most one per request in flight, see ``detach``) never
        waits. Outstanding SQEs then never exceed ``cq_entries``: at most half after an
        admission, plus one cancel per request admitted, so the CQ cannot overflow (on
        any kernel, with or without IORING_FEAT_NODROP) and a cancel always has room,
        even at close with every request blocked on a pipe."""
        assert self.ring is not None
        if self.backlog or self.sent >= self.ring.cq_entries // 2:
            self.held.add(args[-1])
            self.backlog.append((fn, args))
            return
        self._prep_now(fn, args)

    def _cancel(self, ident: int) -> None:
        assert self.ring is not None
        self._prep_now(lib.kev_ring_prep_cancel, (ident, _CANCEL_TAG | ident))

    def _prep_now(self, fn: Any, args: tuple[Any, ...]) -> None:
        """Prepare one SQE now (ring lock held); a full SQ is submitted first."""
        assert self.ring is not None
        if fn(self.ring.ptr, *args) == -errno.EBUSY:
            self.ring.submit(0)
            check(fn(self.ring.ptr, *args))
        self.sent += 1
        self.dirty = True

    def _release_backlog(self) -> None:
        """Admit backlogged requests, in order, while there is room (ring lock held);
        withdrawn ones (deleted before they reached the kernel) are skipped."""
        assert self.ring is not None
        half = self.ring.cq_entries // 2
        while self.backlog and self.sent < half:
            fn, args = self.backlog.popleft()
            if args[-1] in self.held:
                self.held.discard(args[-1])
                self._prep_now(fn, args)

    def begin_batch(self) -> None:
        self.batching += 1

    def end_batch(self) -> None:
        self.batching -= 1
        if not self.batching:
            self.flush()

    def flush(self) -> None:
        """Publish prepared SQEs in one io_uring_enter (called before each wait)."""
        if self.dirty and self.ring is not None:
            with self.ring_lock:
                self.dirty = False
                self.ring.submit(0)

    def _ring_ready(self, events: int) -> None:
        assert self.ring is not None
        with self.ring_lock:
            done = self.ring.reap()
            self.sent -= len(done)
        for ud, res in done:
            if not ud & _CANCEL_TAG:
                self._complete(ud, res)
        if self.backlog:
            with self.ring_lock:
                self._release_backlog()
            if not self.batching:
                self.flush()

    def _submit_pool(self, ident: int, op: str, fd: int, req: Request, offset: int) -> None:
        if self.pool is None:
            self.efd = check(lib.kev_eventfd())
            self.backend.add_internal(self.efd, lib.EPOLLIN, self._pool_ready)
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=min(8, (os.cpu_count() or 2) * 2), thread_name_prefix="kevents-aio"
            )
        req.future = self.pool.submit(self._run, ident, op, fd, req.view, offset)

    def _run(self, ident: int, op: str, fd: int, view: memoryview | None, offset: int) -> None:
        """Worker thread: do the I/O, post the result; never takes the engine lock."""
        self.done.append((ident, perform(op, fd, view, offset)))
        lib.kev_eventfd_signal(self.efd)

    def _pool_ready(self, events: int) -> None:
        lib.kev_eventfd_drain(self.efd)
        while self.done:
            self._complete(*self.done.popleft())

    def _complete(self, ident: int, res: int) -> None:
        orphan = self.orphans.pop(ident, None)
        if orphan is not None:
            orphan.unpin()
            return
        kn = self.inflight.pop(ident, None)
        if kn is None:
            return
        finish(self.engine, kn, res)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel everything in flight and wait until the kernel released every buffer."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            self.done.clear()
        if self.ring is not None:
            ring = self.ring
            with self.ring_lock:
                for _, args in self.backlog:  # never reached the kernel: release now
                    kn = self.inflight.pop(args[-1], None) if args[-1] in self.held else None
                    if kn is not None:
                        kn.priv.unpin()
                self.backlog.clear()
                self.held.clear()
                for ident in list(self.inflight):
                    self._cancel(ident)
                pending = set(self.inflight) | set(self.orphans)
                while pending:
                    ring.submit(1)
                    done = ring.reap()
                    self.sent -= len(done)
                    for ud, _ in done:
                        pending.discard(ud)
            self.backend.remove_internal(ring.fd)
            ring.close()
            self.ring = None
        self.inflight.clear()
        self.orphans.clear()
        if self.efd >= 0:
            self.backend.remove_internal(self.efd)
            lib.kev_close(self.efd)
            self.efd = -1

    def forget(self) -> None:
        """After fork: the ring and the pool belong to the parent; never touch them."""
        if self.ring is not None:
            self.ring.close()  # unmaps and closes the child's copies only
            self.ring = None
        self.backlog.clear()
        self.held.clear()
        self.sent = 0
        self.pool = None
        if self.efd >= 0:
            lib.kev_close(self.efd)
            self.efd = -1
