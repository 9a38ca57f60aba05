"""kevents for Trio: the whole kqueue vocabulary (processes, signals, files, timers, user
events, disk I/O) as Trio-style, cancellable operations. Uses only kevents' public API.

Events are routed by their ``(ident, filter)`` key: to the task waiting for that key,
else to the queue's general stream (``async for ev in q``). A task about to park first
collects what the queue has, without blocking, and routes it (its own event included);
one dispatcher task per queue waits for the queue's fd with
``trio.lowlevel.wait_readable`` (the fd of a kevents queue polls readable while events
are pending) for the events that come while every task is parked. A task that is
cancelled removes its own registration and never takes an event that belongs to
another task.

On Windows the queue's fd is not a socket Trio can wait on; there the dispatcher
blocks in ``control()`` in a worker thread (``trio.to_thread.run_sync``) and is woken
through a USER event when it must stop.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal as _signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import trio

import kevents
from kevents import VNODE_CHANGES, ExitStatus, Filter, Flag, KEvent, NoteProc

__all__ = [
    "ExitStatus",
    "TrioQueue",
    "aio_read",
    "aio_write",
    "file_changes",
    "open_queue",
    "open_signal_receiver",
    "wait_file_change",
    "wait_kevent",
    "wait_process_exit",
]

_WAKE = 0x7FFFFFFD  # the USER ident that wakes the Windows dispatcher thread
_BATCH = 64
# Windows: the dispatcher thread blocks in control(); tasks leave the queue to it
_POLL_BEFORE_PARKING = sys.platform != "win32"
# the filters whose wait_kevent registrations stay, disabled, for the next wait
_REUSABLE = (int(Filter.READ), int(Filter.WRITE))
_ONESHOT = int(Flag.ONESHOT)
_REARM = int(Flag.ADD | Flag.ENABLE | Flag.DISPATCH)
_ENABLE = int(Flag.ENABLE)
_USER = int(Filter.USER)
# the trio.lowlevel calls of every hop, bound once (two attribute lookups each saved)
_current_task = trio.lowlevel.current_task
_wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled
_reschedule = trio.lowlevel.reschedule
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
_cancel_shielded_checkpoint = trio.lowlevel.cancel_shielded_checkpoint
_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED


class _Waiter:
    """The events routed to one key, and the tasks parked until one comes. Tasks park
    with ``wait_task_rescheduled`` directly: a ParkingLot's bookkeeping per park and
    wake was a fifth of a hop's cost."""

    __slots__ = ("events", "tasks")

    def __init__(self) -> None:
        self.events: deque[KEvent] = deque()
        self.tasks: list[Any] = []

    async def park(self) -> None:
        task = _current_task()
        tasks = self.tasks
        tasks.append(task)

        def abort(_: Any) -> Any:
            tasks.remove(task)
            return _SUCCEEDED

        await _wait_task_rescheduled(abort)

    def wake(self) -> None:
        tasks = self.tasks
        if tasks:
            self.tasks = []
            for task in tasks:
                _reschedule(task)


class TrioQueue:
    """A :class:`kevents.Queue` bound to the running Trio loop (see :func:`open_queue`)."""

    def __init__(self, kq: kevents.Queue) -> None:
        self.kq = kq
        self._waiters: dict[tuple[int, int], _Waiter] = {}
        self._send, self._recv = trio.open_memory_channel[KEvent](math.inf)
        self._closed = False
        # wait_kevent's DISPATCH registrations, disabled after their event:
        # key -> (the change without its ident, the ENABLE that re-arms it)
        self._disabled: dict[tuple[int, int], tuple[tuple[Any, ...], list[KEvent]]] = {}

    # -- registrations -------------------------------------------------------------------

    def control(self, changes: Iterable[KEvent]) -> list[KEvent]:
        """Apply changes now (never blocks); returns EV_ERROR entries, as kqueue does."""
        if self._closed:
            raise trio.ClosedResourceError("the kevents queue is closed")
        changes = list(changes)
        for change in changes:
            self._forget_disabled(change.ident, change.filter)
        return self.kq.control(changes, len(changes), 0)

    def register(self, change: KEvent) -> None:
        """Add or modify a registration; errors raise OSError."""
        if self._closed:
            raise trio.ClosedResourceError("the kevents queue is closed")
        self._forget_disabled(change.ident, change.filter)
        self.kq.control([change], 0, 0)

    def delete(self, ident: int, filt: int) -> None:
        """Delete a registration; a missing one is not an error here."""
        self._forget_disabled(ident, filt)
        if not self._closed:
            with contextlib.suppress(OSError):
                self.kq.control([KEvent(ident, filt, Flag.DELETE)], 0, 0)

    def _forget_disabled(self, ident: Any, filt: int) -> None:
        if self._disabled:
            ident = ident if isinstance(ident, int) else ident.fileno()
            self._disabled.pop((ident, int(filt)), None)

    def trigger(self, ident: int, fflags: int = 0, data: int = 0) -> None:
        """Trigger USER event ``ident`` (thread-safe: any thread may call it)."""
        self.kq.control(
            [KEvent(ident, Filter.USER, 0, kevents.NoteUser.TRIGGER | fflags, data)], 0, 0
        )

    async def wait_kevent(self, change: KEvent) -> KEvent:
        """Register ``change`` and wait for its one event (ONESHOT: one event per call).
        Cancelling deletes the registration. Waiting again on a READ or WRITE key with
        the same change re-enables the registration instead of adding it anew. A caller
        who never reads a READ/WRITE event's ``data`` (as with
        ``trio.lowlevel.wait_readable``) adds ``Flag.NODATA``: on Linux the wait then
        costs no FIONREAD per event (D78)."""
        ident = change.ident if isinstance(change.ident, int) else change.ident.fileno()
        filt = int(change.filter)
        key = (ident, filt)
        flags = int(change.flags)
        waiter = self._waiters.get(key)
        if waiter is None:  # (setdefault would build a _Waiter on every call)
            waiter = self._waiters[key] = _Waiter()
        try:
            if filt not in _REUSABLE or flags & _ONESHOT:
                self.register(change._replace(ident=ident, flags=flags | _ONESHOT))
                return await self._next(key, waiter)
            # Story (issue 14): EV_DISPATCH, not EV_ONESHOT, for a descriptor's
            # READ/WRITE: after its one event the knote is disabled (on Linux by the
            # kernel's EPOLLONESHOT, no system call), and the next wait on the same key
            # with the same change is one ENABLE (epoll_ctl MOD) instead of an ADD and
            # the ONESHOT's DELETE. A knote that went stale meanwhile (the descriptor
            # closed, maybe reused) refuses the ENABLE: then ADD. register(), delete()
            # and control() on the key forget the disabled knote. What is kept is the
            # change without its ident: a socket object is not kept alive by it. The
            # ENABLE carries the change's fflags, data and udata, since a change
            # replaces them (a bare ENABLE dropped the udata and a NOTE_LOWAT mark).
            same = change[1:]
            parked = self._disabled.pop(key, None)
            if parked is not None and parked[0] == same and self._enable(parked[1]):
                enable = parked[1]
            else:
                self.register(change._replace(ident=ident, flags=flags | _REARM))
                enable = [KEvent(ident, filt, _ENABLE, change.fflags, change.data, change.udata)]
            ev = await self._next(key, waiter)
            if not self._closed:
                self._disabled[key] = (same, enable)
            return ev
        except BaseException:
            self.delete(*key)
            raise
        finally:
            if not waiter.events and self._waiters.get(key) is waiter:
                del self._waiters[key]

    def _enable(self, enable: list[KEvent]) -> bool:
        if self._closed:
            raise trio.ClosedResourceError("the kevents queue is closed")
        try:
            self.kq.control(enable, 0, 0)
        except OSError:
            return False
        return True

    async def events(self, key: tuple[int, int]) -> AsyncIterator[KEvent]:
        """Every event of one registration, as they come (the caller registers it)."""
        waiter = self._waiters.setdefault(key, _Waiter())
        try:
            while True:
                yield await self._next(key, waiter)
        finally:
            if self._waiters.get(key) is waiter:
                del self._waiters[key]
                # routed to this stream but not taken (it was cancelled or closed
                # meanwhile): with no task waiting for the key, they are the general
                # stream's, as if they had come a moment later
                while waiter.events and not self._closed:
                    self._send.send_nowait(waiter.events.popleft())

    async def _next(self, key: tuple[int, int], waiter: _Waiter) -> KEvent:
        if not waiter.events and _POLL_BEFORE_PARKING and not self._closed:
            # Story (issue 14): a task about to park first collects what the queue has
            # (one non-blocking control()) and routes it itself. In a busy exchange the
            # events are then always taken by a task that runs anyway: the dispatcher
            # stays parked in wait_readable with its one-shot registration still armed
            # (no epoll_ctl re-arm per wake), and nobody waits a scheduler batch for
            # the dispatcher to run. The dispatcher only catches events that arrive
            # while every task is parked. Trio's checkpoint rules hold: a cancelled
            # task takes nothing, and one that found its event yields once.
            await _checkpoint_if_cancelled()
            self._route(self.kq.control(None, _BATCH, 0))
            if waiter.events:
                ev = waiter.events.popleft()
                await _cancel_shielded_checkpoint()
                return ev
        while not waiter.events:
            if self._closed:
                raise trio.ClosedResourceError("the kevents queue was closed")
            await waiter.park()
        return waiter.events.popleft()

    # -- the general stream ------------------------------------------------------------------

    def __aiter__(self) -> TrioQueue:
        return self

    async def __anext__(self) -> KEvent:
        try:
            return await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio.ClosedResourceError("the kevents queue was closed") from None

    # -- dispatching -------------------------------------------------------------------------

    def _route(self, events: list[KEvent]) -> None:
        # once per collected batch, so kept flat: ev[:2] is the (ident, filter) key in
        # one step (a Filter hashes and compares as its int), and _Waiter.wake inlined
        waiters = self._waiters
        for ev in events:
            waiter = waiters.get(ev[:2])
            if waiter is not None:
                waiter.events.append(ev)
                tasks = waiter.tasks
                if tasks:
                    waiter.tasks = []
                    for task in tasks:
                        _reschedule(task)
            elif not (ev[1] == _USER and ev[0] == _WAKE):
                self._send.send_nowait(ev)

    async def _dispatch(self) -> None:
        try:
            if sys.platform == "win32":
                await self._dispatch_in_thread()
            else:
                while True:
                    await trio.lowlevel.wait_readable(self.kq.fileno())
                    self._route(self.kq.control(None, _BATCH, 0))
        finally:
            self._shutdown()

    async def _dispatch_in_thread(self) -> None:
        self.kq.control([KEvent(_WAKE, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
        while True:
            # Cancelled only when the queue goes (the run ends, open_queue exits): the
            # blocked thread is abandoned then, and the queue's close wakes it (its
            # result is dropped). Not abandoning it would hang the run's end: nothing
            # else would make control() return.
            events = await trio.to_thread.run_sync(self._wait_blocking, abandon_on_cancel=True)
            if events is None:
                return  # closed while the thread waited: the waiters are told
            self._route(events)

    def _wait_blocking(self) -> list[KEvent] | None:
        """The worker thread's wait; None once the queue is closed under it. Returned,
        not raised: an abandoned thread's exception would keep its traceback's frames,
        and the queue in them, alive in a cycle for the collector."""
        try:
            return self.kq.control(None, _BATCH, None)
        except ValueError:
            if self.kq.closed:
                return None
            raise

    def _shutdown(self) -> None:
        self._closed = True
        self._disabled.clear()
        self._send.close()
        for waiter in self._waiters.values():
            waiter.wake()

    def close(self) -> None:
        """Close the queue: waiting tasks get :class:`trio.ClosedResourceError`."""
        if not self._closed:
            self._shutdown()
        # Always, even after the dispatcher's own _shutdown(): that one only tells the
        # waiters, and skipping this left the descriptors to the garbage collector
        # (the guest-mode run returned with them still open, issue 15.4).
        self.kq.close()


@contextlib.asynccontextmanager
async def open_queue(backend: str | None = None) -> AsyncIterator[TrioQueue]:
    """``async with open_queue() as q:`` a kevents queue bound to the running Trio loop."""
    kq = kevents.Queue(backend)
    q = TrioQueue(kq)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(q._dispatch)
            try:
                yield q
            finally:
                if sys.platform == "win32" and not kq.closed:
                    # let the worker thread return; a dispatcher that has not run yet
                    # has no thread and no WAKE registration (ENOENT): nothing to wake
                    with contextlib.suppress(FileNotFoundError):
                        q.trigger(_WAKE)
                nursery.cancel_scope.cancel()
    finally:
        q.close()


# -- task-level helpers over one queue per Trio run ------------------------------------------

_SHARED: trio.lowlevel.RunVar[TrioQueue | None] = trio.lowlevel.RunVar("kevents_trio_queue")


def _shared() -> TrioQueue:
    try:
        shared = _SHARED.get()
    except LookupError:
        shared = None
    if shared is not None:
        return shared
    q = TrioQueue(kevents.Queue())

    async def dispatch_until_run_ends() -> None:
        try:
            await q._dispatch()
        finally:
            q.close()
            # Trio's runner is cyclic garbage after trio.run() returns; the closed
            # queue must not hang from its run-locals and be collected with it (D52)
            _SHARED.set(None)

    trio.lowlevel.spawn_system_task(dispatch_until_run_ends, name="kevents_trio dispatcher")
    _SHARED.set(q)
    return q


async def wait_kevent(change: KEvent) -> KEvent:
    """Wait for one event of an arbitrary registration (made ONESHOT), on the run's
    shared queue. Cancellable: cancelling deletes the registration."""
    return await _shared().wait_kevent(change)


async def wait_process_exit(pid: int) -> ExitStatus:
    """Wait until process ``pid`` (any process, child or not) exits. kevents never
    reaps: a child's status remains for its own ``wait()``."""
    return ExitStatus.from_kevent(
        await wait_kevent(KEvent(pid, Filter.PROC, Flag.ADD, NoteProc.EXIT))
    )


@contextlib.asynccontextmanager
async def open_signal_receiver(*signals: int) -> AsyncIterator[AsyncIterator[tuple[int, int]]]:
    """Like :func:`trio.open_signal_receiver`, but yields ``(signum, count)`` and never
    loses a count: the signals are ignored while the receiver is open (as BSD programs
    do with kqueue) and counted by the SIGNAL filter."""
    if not signals:
        raise TypeError("open_signal_receiver needs at least one signal")
    q = _shared()
    previous = {sig: _signal.signal(sig, _signal.SIG_IGN) for sig in signals}
    send, recv = trio.open_memory_channel[tuple[int, int]](math.inf)
    try:
        for sig in signals:  # waiters first: no event may reach the general stream
            q._waiters.setdefault((sig, int(Filter.SIGNAL)), _Waiter())
            q.register(KEvent(sig, Filter.SIGNAL, Flag.ADD))

        async def forward(sig: int) -> None:
            async for ev in q.events((sig, int(Filter.SIGNAL))):
                send.send_nowait((sig, ev.data))

        async with trio.open_nursery() as nursery:
            for sig in signals:
                nursery.start_soon(forward, sig)

            async def receive() -> AsyncIterator[tuple[int, int]]:
                async for item in recv:
                    yield item

            try:
                yield receive()
            finally:
                nursery.cancel_scope.cancel()
    finally:
        for sig in signals:
            q.delete(sig, Filter.SIGNAL)
        for sig, handler in previous.items():
            _signal.signal(sig, handler)


@contextlib.contextmanager
def _opened(target: int | str) -> Any:
    if isinstance(target, int):
        yield target
        return
    fd = os.open(target, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


async def wait_file_change(target: int | str, notes: int = VNODE_CHANGES) -> int:
    """Wait for the next change to a file or directory (an fd or a path); returns the
    NoteVnode bits that happened."""
    with _opened(target) as fd:
        try:
            ev = await wait_kevent(KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, notes))
        finally:
            _shared().delete(fd, Filter.VNODE)
    if ev.flags & Flag.ERROR:
        raise OSError(ev.data, os.strerror(ev.data))
    return int(ev.fflags)


async def file_changes(target: int | str, notes: int = VNODE_CHANGES) -> AsyncIterator[KEvent]:
    """Every change to a file or directory, as VNODE events, until the caller stops."""
    q = _shared()
    with _opened(target) as fd:
        q.register(KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, notes))
        try:
            async for ev in q.events((fd, int(Filter.VNODE))):
                yield ev
        finally:
            q.delete(fd, Filter.VNODE)


async def _aio(start: Any) -> int:
    q = _shared()
    rid = start(q.kq)
    key = (rid, int(Filter.AIO))
    waiter = q._waiters.setdefault(key, _Waiter())
    try:
        ev = await q._next(key, waiter)
    except BaseException:
        q.delete(*key)  # cancels the request; its buffer stays pinned until the kernel is done
        raise
    finally:
        q._waiters.pop(key, None)
    if ev.data < 0:
        raise OSError(ev.fflags, os.strerror(ev.fflags))
    return int(ev.data)


async def aio_read(fd: int, buffer: Any, offset: int) -> int:
    """Read into ``buffer`` at ``offset`` through the queue's AIO; returns bytes read."""
    return await _aio(lambda kq: kq.aio_read(fd, buffer, offset))


async def aio_write(fd: int, buffer: Any, offset: int) -> int:
    """Write ``buffer`` at ``offset`` through the queue's AIO; returns bytes written."""
    return await _aio(lambda kq: kq.aio_write(fd, buffer, offset))
