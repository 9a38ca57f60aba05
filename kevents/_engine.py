"""The kqueue semantics engine, shared by every backend.

It applies change lists exactly as FreeBSD's ``kqueue_register`` does and collects
events as ``kqueue_scan`` does (spec §1.4, §1.5, §4); the backend only moves packets.

Locking (D37): one lock guards the knote table and the ready list. It is never held
across the backend's blocking wait, so several threads may call ``control()`` at once
and a change made by one (a USER trigger, say) wakes a waiter in another through the
backend's pending signal.
"""

from __future__ import annotations

import contextlib
import errno
import math
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from ._backends._contract import Backend, Source
from ._core import EngineBase, _speedups
from ._errors import UnsupportedError, oserror
from ._event import Filter, Flag, HasFileno, KEvent
from ._knote import Knote

_ADD = int(Flag.ADD)
_DELETE = int(Flag.DELETE)
_ENABLE = int(Flag.ENABLE)
_DISABLE = int(Flag.DISABLE)
_ONESHOT = int(Flag.ONESHOT)
_CLEAR = int(Flag.CLEAR)
_RECEIPT = int(Flag.RECEIPT)
_DISPATCH = int(Flag.DISPATCH)
_FORCEONESHOT = int(Flag.FORCEONESHOT)
_KEEPUDATA = int(Flag.KEEPUDATA)
_ERROR = int(Flag.ERROR)
_SYSFLAGS = int(Flag.SYSFLAGS)
_NODATA = int(Flag.NODATA)
_FILTERS = {int(f): f for f in Filter}

#: the shortest run of new registrations handed to a backend's batcher
_MIN_RUN = 8

#: how many more times a poll (timeout 0) waits again when the kernel's records all
#: turned out not to be events
_LOOKS = 4

#: One backend wait never sleeps longer than this; longer timeouts loop (a clamp, so a
#: huge timeout can neither overflow a timespec nor be rounded into a busy loop).
MAX_WAIT_NS = 24 * 3600 * 10**9

#: backend.wait's "no bound" (a wait without a deadline that no timer clips).
#: Story: the clamp above, passed as a bounded epoll_wait(86400000), made the kernel
#: read the clock and set up a timeout on every call, even one that returns at once
#: (read_tsc alone was 2.7% of a ping-pong hop on this VM); epoll_wait(-1) skips both:
#: 4-5% more hops/s. (The Windows backend keeps the clamp: see its wait.)
FOREVER = -1


def timeout_to_ns(timeout: float | None) -> int | None:
    """Seconds (float) to whole nanoseconds, rounded up, never down; None = forever."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    if timeout != timeout:
        raise ValueError("timeout must not be NaN")
    if timeout < 0:
        raise ValueError("timeout must be positive or None")
    if isinstance(timeout, int):
        return timeout * 10**9
    ns = timeout * 1e9
    if math.isinf(ns):
        return None  # beyond any clock: the same as no timeout
    return math.ceil(ns)


def _ident_of(obj: Any) -> int:
    if isinstance(obj, int):
        return int(obj)
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        raise TypeError(f"ident must be an int or have fileno(), not {type(obj).__name__}")
    fd = fileno()
    if not isinstance(fd, int):
        raise TypeError("fileno() returned a non-integer")
    return fd


class Engine(EngineBase):
    """Knote table, change application and scan for one queue.

    ``closed`` and ``pending`` live in the C base (``_speedups.EngineBase``) when the
    C core is loaded, so it reads them without a dict lookup (D42)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        # under speedups the C twin of threading.Lock, which the core takes with a
        # plain call (engine.c: Lock)
        self.lock: Any = threading.Lock() if _speedups is None else _speedups.Lock()
        self.knotes: dict[tuple[int, int], Knote] = {}
        self.ready: deque[Knote] = deque()
        self.pending: bool = False
        self.closed: bool = False
        # one entry per thread inside control()'s wait; under speedups the C twin of
        # the list, a count the core changes in place (engine.c: Waiters)
        self.waiting: Any = [] if _speedups is None else _speedups.Waiters()
        self.release_lock = threading.Lock()
        self.released = False
        self.timers: Any = None  # the TIMER source registers itself here when it exists
        self.sources: dict[int, Source] = backend.sources(self)
        #: the backend's optional hook run under the lock right before each wait
        self.prepare: Any = getattr(backend, "prepare", None)
        #: what the C change-list pass reads (``_apply_plain``, D77), or None: every
        #: change takes ``_apply_one``
        plain_state = getattr(backend, "plain_state", None)
        self.plain: tuple[Any, ...] | None = None if plain_state is None else plain_state(self)

    # -- helpers for sources (lock held) -------------------------------------------

    def enqueue(self, kn: Knote) -> None:
        """Mark ``kn`` active: append it to the ready list unless disabled or queued."""
        if not kn.queued and not kn.disabled and kn.alive:
            kn.queued = True
            self.ready.append(kn)

    def dequeue(self, kn: Knote) -> None:
        if kn.queued:
            kn.queued = False
            self.ready.remove(kn)

    def drop(self, kn: Knote) -> None:
        """Forget ``kn`` (deleted, or its object vanished): detach, unqueue, unlink."""
        if not kn.alive:
            return
        kn.alive = False
        self.dequeue(kn)
        self.knotes.pop((kn.ident, kn.filter), None)
        kn.source.detach(kn)

    def kernel_event(self, kn: Knote, oflags: int, fflags: int, data: int) -> KEvent | None:
        """Deliver a packet for a kernel-armed knote; apply ONESHOT and DISPATCH."""
        if not kn.alive or kn.disabled:
            return None
        flags = kn.flags
        ev = KEvent(kn.ident, kn.filter, flags | oflags, fflags, data, kn.udata, kn.ext)
        if flags & _ONESHOT:
            self.drop(kn)
        elif flags & _DISPATCH:
            kn.disabled = True
            kn.source.disable(kn)
        return ev

    def sync_pending(self) -> None:
        """Keep the backend's "events pending" signal equal to ``bool(self.ready)``."""
        want = bool(self.ready)
        if want != self.pending:
            self.pending = want
            self.backend.set_pending(want)

    # -- changes --------------------------------------------------------------------

    def apply(self, changes: list[KEvent], max_events: int, start: int = 0) -> list[KEvent] | None:
        """Apply every change in order (spec §4.3-4.5).

        Returns the error/receipt entries when at least one was produced (then the call
        must not collect events, D7), else None. With no room left for an entry, an
        error raises (later changes are not applied) and a receipt stops (D6). The
        changes before ``start`` were applied (by the C core), each with errno 0 and
        no EV_RECEIPT.
        """
        entries: list[KEvent] | None = None
        results = self._results(changes, start)
        try:
            for ch, err in results:
                if not err and not int(ch.flags) & _RECEIPT:
                    continue
                if entries is None:
                    entries = []
                if len(entries) >= max_events:
                    if err:
                        raise oserror(err, f"{_filter_name(ch.filter)} ident {ch.ident}")
                    break
                entries.append(
                    KEvent(ch.ident, ch.filter, int(ch.flags) | _ERROR, ch.fflags, err, ch.udata)
                )
        finally:
            results.close()  # a batch undoes what it applied beyond the stopping point
        return entries

    def _results(
        self, changes: list[KEvent], start: int = 0
    ) -> Generator[tuple[KEvent, int], None, None]:
        """Apply the changes from ``start`` in order, yielding (change, errno); long runs
        of new registrations go through the backend's batcher when it has one."""
        n = len(changes)
        batcher = (
            self.backend.batcher() if n >= _MIN_RUN and hasattr(self.backend, "batcher") else None
        )
        plain = self.plain
        i = start
        short = -1  # the changes up to here are in a run too short to batch
        stop = -1  # the C pass stopped here: this change is Python's
        while i < n:
            if batcher is not None and n - i >= _MIN_RUN and i > short:
                j = batcher.run_end(self, changes, i)
                if j - i >= _MIN_RUN:
                    yield from batcher.results(self, changes[i:j])
                    i = j
                    continue
                short = j  # a run starting inside this one ends by j too: ask once
            if plain is not None and i != stop:
                # the C pass (engine.c) applies the plain changes from i, each with
                # errno 0, and stops before any other, or right after an EV_RECEIPT
                # one: only the last it applied can need an entry (D77)
                j = self._apply_plain(changes, i, plain)  # type: ignore[attr-defined]
                if j > i:
                    i = j
                    if int(changes[j - 1].flags) & _RECEIPT:
                        yield changes[j - 1], 0
                    else:
                        stop = j
                    continue
            yield changes[i], self._apply_one(changes[i])
            i += 1

    def _apply_one(self, ch: KEvent) -> int:
        filt = ch.filter
        flags = int(ch.flags) & ~_SYSFLAGS
        src = self.sources.get(filt)
        if src is None:
            return errno.ENOTSUP if filt in _FILTERS else errno.EINVAL
        if flags & _ENABLE and flags & _DISABLE:
            return errno.EINVAL
        if flags & _ADD and flags & (_DELETE | _KEEPUDATA):
            return errno.EINVAL
        ident = ch.ident
        identity: object = None
        if src.fd_based:
            if ident < 0 or ident > 0x7FFFFFFF:
                return errno.EBADF
            kn = self.knotes.get((ident, filt))
            if flags & _DELETE and kn is not None:
                err: int | None = kn.source.delete_checked(kn)
                if err is not None:  # the kernel answered for fstat (D44)
                    self.drop(kn)
                    return err
            if kn is not None and kn.identity is None and kn.source.vouch(kn):
                pass  # the kernel's registration says the fd names its file still (D80)
            else:
                try:
                    identity = src.identify(ident)
                except OSError as exc:
                    if kn is not None:  # the fd was closed: BSD dropped the knote then
                        self.drop(kn)
                    return exc.errno or errno.EBADF
        elif ident < 0:
            return errno.EINVAL
        key = (ident, filt)
        kn = self.knotes.get(key)
        if kn is not None and src.fd_based and kn.identity != identity:
            self.drop(kn)  # a different file now has this number (D13)
            kn = None
        if kn is None:
            if not flags & _ADD:
                return errno.ENOENT
            kn = Knote(ident, _FILTERS[filt], flags, ch.fflags, ch.data, ch.udata)
            kn.identity = identity
            kn.source = src
            try:
                src.attach(kn)
            except OSError as exc:
                kn.alive = False
                return exc.errno or errno.EINVAL
            self.knotes[key] = kn
            src = kn.source  # attach may hand the knote to another source
            if src.userspace and not kn.disabled and src.event(kn):
                self.enqueue(kn)
            return 0
        src = kn.source
        if flags & _DELETE:
            self.drop(kn)
            return 0
        forced = None
        if flags & _FORCEONESHOT:  # before touch, whose publish() must see ONESHOT
            forced = (kn.flags, kn.forced, kn.queued)
            kn.flags |= _ONESHOT
            kn.forced = True
            self.enqueue(kn)
        old_udata = kn.udata
        if not flags & _KEEPUDATA:
            kn.udata = ch.udata
        try:
            src.touch(kn, int(ch.fflags), int(ch.data), flags)
        except OSError as exc:
            kn.udata = old_udata  # a refused change changes nothing (D3)
            if forced is not None:  # not even EV_FORCEONESHOT
                kn.flags, kn.forced = forced[0], forced[1]
                if not forced[2]:
                    self.dequeue(kn)
            return exc.errno or errno.EINVAL
        if flags & _ENABLE and kn.disabled:
            kn.disabled = False
            src.enable(kn)
        elif flags & _DISABLE and not kn.disabled:
            kn.disabled = True
            self.dequeue(kn)
            src.disable(kn)
        if src.userspace and not kn.disabled and not kn.queued and src.event(kn):
            self.enqueue(kn)
        return 0

    # -- collection -------------------------------------------------------------------

    def scan(self, out: list[KEvent], room: int) -> None:
        """Copy out queued knotes, FreeBSD ``kqueue_scan`` style (spec §1.5)."""
        ready = self.ready
        for _ in range(len(ready)):  # one pass: re-queued knotes wait for the next call
            if len(out) >= room or not ready:
                break
            kn = ready.popleft()
            kn.queued = False
            if kn.disabled or not kn.alive:
                continue
            flags = kn.flags
            src = kn.source
            # stale readiness is never reported, not even for a ONESHOT knote (a user-space
            # source's packet says "look again", not "ready"); only EV_FORCEONESHOT
            # delivers the knote as it is
            if not kn.forced and not src.event(kn):
                continue
            out.append(
                KEvent(kn.ident, kn.filter, flags | kn.oflags, kn.fflags, kn.data, kn.udata, kn.ext)
            )
            if flags & _ONESHOT:
                self.drop(kn)
                continue
            if flags & _CLEAR:
                src.clear(kn)
            if flags & _DISPATCH:
                kn.disabled = True
                src.disable(kn)
            elif not flags & _CLEAR:
                kn.queued = True  # level-triggered: back at the tail, round-robin
                ready.append(kn)

    def control(
        self,
        changes: Iterable[KEvent[int | HasFileno]] | None,
        max_events: int,
        timeout: float | None,
    ) -> list[KEvent]:
        if max_events.__class__ is not int:
            if isinstance(max_events, bool) or not isinstance(max_events, int):
                raise TypeError("max_events must be an integer")
            max_events = int(max_events)
        if max_events < 0:
            raise ValueError(f"max_events must be >= 0, not {max_events}")
        timeout_ns = None if timeout is None else timeout_to_ns(timeout)
        todo: list[KEvent] | None = None
        if changes is not None:
            # the C checks go with the C pass, so the differential test's Python queue
            # runs the Python ones
            todo = _c_materialise(changes) if self.plain is not None else None
            if todo is None:
                todo = _materialise(changes)
        return self._control(todo, 0, max_events, timeout_ns)

    def control_from(
        self, todo: list[KEvent], start: int, max_events: int, timeout: float | None
    ) -> list[KEvent]:
        """control() of a change list whose changes before ``start`` the C core
        (engine.c) applied already, checked and materialised, in this same call."""
        return self._control(todo, start, max_events, timeout_to_ns(timeout))

    def _control(
        self, todo: list[KEvent] | None, start: int, max_events: int, timeout_ns: int | None
    ) -> list[KEvent]:
        if todo is not None and start < len(todo):
            with self.lock:
                if self.closed:
                    raise ValueError("I/O operation on closed kevents queue")
                try:
                    entries = self.apply(todo, max_events, start)
                finally:
                    self.sync_pending()
            if entries is not None:
                return entries
        if max_events == 0:
            if self.closed:
                raise ValueError("I/O operation on closed kevents queue")
            return []
        deadline = None if timeout_ns is None else time.monotonic_ns() + timeout_ns
        # Story: list.append/pop are atomic under the GIL, so this counts waiters without
        # a lock. close() never releases the backend's fds while a waiter may be about to
        # block on them (an fd number reused meanwhile would be waited on by mistake);
        # the last waiter to leave releases them instead (D36).
        waiting = self.waiting
        waiting.append(None)
        try:
            if self.closed:
                raise ValueError("I/O operation on closed kevents queue")
            return self._collect(max_events, deadline, timeout_ns)
        finally:
            waiting.pop()
            if self.closed and not waiting:
                self._release()

    def _collect(
        self, max_events: int, deadline: int | None, wait_ns: int | None, first: Any = None
    ) -> list[KEvent]:
        """Wait and copy out; loops until an event, the deadline, or a close.

        ``first`` (not None) is a batch the C core already waited for (engine.c hands
        over here whatever it does not handle): it is merged as if the first
        ``backend.wait`` had returned it; ``()`` is a wait that returned nothing."""
        backend = self.backend
        timers = self.timers
        lock = self.lock
        out: list[KEvent] = []
        if wait_ns is None or wait_ns > MAX_WAIT_NS:
            wait_ns = MAX_WAIT_NS
        if self.ready:
            wait_ns = 0  # user-space events are due: only gather what the kernel has
        prepare = self.prepare
        looks = 0
        while True:
            if first is not None:
                vals, first = first, None
            else:
                if wait_ns and timers is not None and timers.heap:
                    wait_ns = timers.clip(wait_ns)
                if prepare is not None:
                    with lock:
                        if self.closed:
                            raise ValueError("kevents queue closed while waiting")
                        wait_ns = prepare(wait_ns if not self.ready else 0)
                try:
                    forever = deadline is None and wait_ns == MAX_WAIT_NS
                    vals = backend.wait(max_events, FOREVER if forever else wait_ns)
                except InterruptedError:
                    vals = None  # Python handlers ran; retry, changes not re-applied (D9)
            if (
                vals
                and vals.__class__ is list
                and vals[0].__class__ is KEvent
                and not self.ready
                and not self.pending
                and (timers is None or not timers.heap)
                and not self.closed
            ):
                return vals  # the backend translated everything; nothing else to merge
            with lock:
                if self.closed:
                    raise ValueError("kevents queue closed while waiting")
                if vals:
                    backend.translate(vals, self, out, max_events)
                if timers is not None and timers.heap:
                    timers.expire()
                if self.ready and len(out) < max_events:
                    self.scan(out, max_events)
                if self.pending != bool(self.ready):
                    self.sync_pending()
            if out:
                return out
            wait_ns = _remaining(deadline)
            if wait_ns == 0:
                # Records that gave no event (a wake-up of kevents' own, a stale one) took
                # room from events the kernel still holds: a poll looks again, a bounded
                # number of times, rather than say "nothing" while an event is ready
                # (found by the model-based test, tests/conformance/test_model.py)
                if not vals or looks >= _LOOKS:
                    return out
                looks += 1

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            begin_close = getattr(self.backend, "begin_close", None)
            if begin_close is not None:
                begin_close()  # the backend's fds take the kernel registrations with them
            # drop() of every knote, with the tables emptied once: no per-knote dequeue
            # or pop (a third of a 10,000-knote close was that bookkeeping)
            knotes = list(self.knotes.values())
            if self.timers is not None:
                # the timers first, from the heap's end (D44): each detach then pops the
                # heap's last entry in O(1), and the heap holds only live timers at
                # every step (their second turn below finds them dead)
                knotes[:0] = self.timers.close_order()
            self.knotes.clear()
            for kn in self.ready:
                kn.queued = False
            self.ready.clear()
            if self.plain is not None:
                # the loop below in C (engine.c), which does the detach of a READ/WRITE
                # knote itself when it is bookkeeping only (no SO_RCVLOWAT to put back)
                self._drop_all(knotes, self.plain)  # type: ignore[attr-defined]
            else:
                for kn in knotes:
                    if kn.alive:
                        kn.alive = False
                        kn.source.detach(kn)
            for src in set(self.sources.values()):
                src.close()
            if self.waiting:
                self.backend.set_pending(True)  # wake them; the last one releases
            else:
                self._release()

    def _release(self) -> None:
        with self.release_lock:  # the last waiter and close() may race here
            if not self.released:
                self.released = True
                self.backend.close()
                # Story: the sources point back at the engine (and the TIMER source is
                # also engine.timers), so a queue was cyclic garbage even after close():
                # ~30 objects left to the collector, whose later, random passes then ran
                # the finalizers (issue 20). Nothing reads them after the release: every
                # entry point checks ``closed`` first (D52).
                self.sources = {}
                self.timers = None
                self.prepare = None
                self.plain = None

    @contextlib.contextmanager
    def aio_batch(self) -> Iterator[None]:
        """Requests started inside reach the kernel together, in one system call where
        the backend can (io_uring), at the end of the block."""
        src = self.sources.get(Filter.AIO)
        begin = getattr(src, "begin_batch", None)
        if begin is None:
            yield
            return
        with self.lock:
            begin()
        try:
            yield
        finally:
            with self.lock:
                src.end_batch()  # type: ignore[union-attr]

    def close_fd(self, fd: int) -> None:
        """Drop every knote keyed by descriptor ``fd`` (BSD does it at close)."""
        with self.lock:
            for key, kn in list(self.knotes.items()):
                if key[0] == fd and kn.source.fd_based:
                    self.drop(kn)
            self.sync_pending()

    def forget(self) -> None:
        """After fork, in the child: mark closed, release fds, touch no kernel state."""
        self.closed = True
        self.knotes.clear()
        self.ready.clear()
        for src in set(self.sources.values()):
            src.forget()
        self.backend.forget()

    def submit(self, op: str, fd: Any, buffer: Any, offset: int, udata: Any) -> int:
        """Start an AIO operation; its completion is one AIO event. Returns the ident."""
        fd = _ident_of(fd)
        if offset.__class__ is not int:
            raise TypeError("offset must be an integer")
        with self.lock:
            if self.closed:
                raise ValueError("I/O operation on closed kevents queue")
            src = self.sources.get(Filter.AIO)
            if src is None:
                raise UnsupportedError(f"Filter.AIO on the {self.backend.name} backend")
            kn = src.submit(op, fd, buffer, offset, udata)
            self.knotes[(kn.ident, kn.filter)] = kn
            self.sync_pending()
            return kn.ident


def _remaining(deadline: int | None) -> int:
    if deadline is None:
        return MAX_WAIT_NS
    return min(max(deadline - time.monotonic_ns(), 0), MAX_WAIT_NS)


def _filter_name(filt: int) -> str:
    f = _FILTERS.get(filt)
    return f"Filter.{f.name}" if f is not None else f"filter {filt}"


#: the C _materialise for lists of plain KEvents (engine.c), or None
_c_materialise: Any = None if _speedups is None else _speedups.materialise


def _materialise(changes: Iterable[KEvent[int | HasFileno]] | None) -> list[KEvent]:
    """Copy the change list first (a lying ``__len__`` is fine, bpo-30058), check types
    and ranges, and resolve ``fileno()`` objects, before any change is applied."""
    if changes is None:
        return []
    todo: list[KEvent] = []
    for ch in changes:
        if not isinstance(ch, KEvent):
            raise TypeError(f"changelist must contain KEvent objects, not {type(ch).__name__}")
        ident = _ident_of(ch.ident)
        if not -0x8000 <= ch.filter <= 0x7FFF:
            raise ValueError(f"filter {ch.filter} does not fit in 16 bits")
        if not 0 <= ch.flags <= 0xFFFF and (ch.flags < 0 or ch.flags & ~0xFFFF != _NODATA):
            raise ValueError(f"flags {ch.flags:#x} do not fit in 16 bits (+ Flag.NODATA)")
        if not 0 <= ch.fflags <= 0xFFFFFFFF:
            raise ValueError(f"fflags {ch.fflags:#x} do not fit in 32 bits")
        if not -(2**63) <= ch.data < 2**63:
            raise ValueError("data does not fit in 64 bits")
        if ident >= 2**64:
            raise ValueError("ident does not fit in 64 bits")
        # an int ident in both branches now (a type checker cannot see it: D58)
        todo.append(ch if ident is ch.ident else ch._replace(ident=ident))  # type: ignore[arg-type]
    return todo
