"""The BSD and macOS backend: the kernel's own kqueue, passed through.

On FreeBSD, macOS, OpenBSD and NetBSD the kernel *is* the reference, so there is no
semantics engine here: a change list is translated (kevents' FreeBSD numbers to the
host's, ``constants.py``) and handed to ``kevent(2)`` through the standard library's
``select.kqueue`` in one call, and events are translated back. We chose the stdlib over
a cffi binding: it is already a thin C wrapper, needs no compiler on the user's machine,
and measured no slower for the pass-through. Two things are added on top:

* ``udata`` may be any Python object (the kernel holds an integer): kevents keeps it per
  ``(ident, filter)`` and fills it into events, so it is replaced by every change, as on
  BSD;
* AIO where the kernel's EVFILT_AIO is missing or unusable from Python (macOS; FreeBSD's
  needs POSIX aio with SIGEV_KEVENT, which the stdlib cannot set up): a thread pool whose
  completions wake the queue through a reserved EVFILT_USER knote.

Changes the host cannot express (a filter or note it lacks) are refused with ENOTSUP,
in change-list order, exactly like kernel errors. Verification here: the same class runs
on Linux over ``kevents.compat.select`` (the ``kqueue-over-emulation`` backend), so every
``make test`` exercises this translation layer — but that is not a run on a BSD kernel,
and ``backend_info()`` says so.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import select
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..._aio import perform, pin
from ..._engine import MAX_WAIT_NS, _materialise, timeout_to_ns
from ..._errors import UnsupportedError, oserror
from ..._event import Filter, Flag, HasFileno, KEvent, NoteProc, NoteTimer, NoteUser
from .constants import FREEBSD, OsTable, host_table

_ACTIONS = int(
    Flag.ADD | Flag.DELETE | Flag.ENABLE | Flag.DISABLE | Flag.FORCEONESHOT | Flag.KEEPUDATA
)
_RECEIPT, _ERROR, _ONESHOT = int(Flag.RECEIPT), int(Flag.ERROR), int(Flag.ONESHOT)
_UNITS = int(NoteTimer.SECONDS | NoteTimer.MSECONDS | NoteTimer.USECONDS | NoteTimer.NSECONDS)
_AIO_WAKE = 0x7FFFFFFE  # the reserved EVFILT_USER ident of AIO completions
_TRIGGER = int(NoteUser.TRIGGER)
_ABSTIME = int(NoteTimer.ABSTIME)
_KNOWN = {int(f) for f in Filter}
_NODATA = int(Flag.NODATA)


class KqueueBackend:
    """A kevents queue that is a native kqueue (``passthrough``: no engine)."""

    passthrough = True

    def __init__(
        self,
        module: Any = None,
        table: OsTable | None = None,
        name: str = "kqueue",
        make: Any = None,
    ) -> None:
        self.mod = select if module is None else module
        if not hasattr(self.mod, "kqueue"):
            raise UnsupportedError("backend 'kqueue' (this OS has no kqueue)")
        self.table = host_table() if table is None else table
        self.name = name
        self.kq = self.mod.kqueue() if make is None else make()
        self.reverse = {native: f for f, native in self.table.filters.items()}
        self.udata: dict[tuple[int, int], Any] = {}
        self.lock = threading.Lock()
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.aio_done: deque[KEvent] = deque()
        self.aio_pins: dict[int, Any] = {}
        self.aio_futures: dict[int, concurrent.futures.Future[None]] = {}
        self.aio_cancelled: set[int] = set()
        self.next_aio = 0
        self.forked = False

    # -- the interface Queue uses (the engine's) ------------------------------------------

    @property
    def closed(self) -> bool:
        return self.forked or bool(self.kq.closed)

    def fileno(self) -> int:
        return int(self.kq.fileno())

    def control(
        self,
        changes: Iterable[KEvent[int | HasFileno]] | None,
        max_events: int,
        timeout: float | None,
    ) -> list[KEvent]:
        if isinstance(max_events, bool) or not isinstance(max_events, int):
            raise TypeError("max_events must be an integer")
        if max_events < 0:
            raise ValueError(f"max_events must be >= 0, not {max_events}")
        ns = timeout_to_ns(timeout)
        # select.kqueue refuses a timeout beyond a 64-bit nanosecond count (TypeError,
        # OverflowError from 3.15), so a longer wait is made of clamped ones, as the
        # engine's (MAX_WAIT_NS)
        clamped = ns is not None and ns > MAX_WAIT_NS
        seconds = None if ns is None else min(ns, MAX_WAIT_NS) / 1e9
        todo = _materialise(changes)
        if self.closed:
            raise ValueError("I/O operation on closed kevents queue")
        native: list[Any] | None = [self._to_native(ch, i) for i, ch in enumerate(todo)]
        if any(isinstance(n, int) for n in native or ()):
            entries = self._apply_one_by_one(todo, native or [], max_events)
            if entries is not None or max_events == 0:
                return entries or []
            native = None
        deadline = None if ns is None else time.monotonic() + ns / 1e9
        while True:
            try:
                got = self.kq.control(native, max_events, seconds)
            except OSError as exc:
                # FreeBSD's kqueue_scan answers EBADF to a waiter when the queue is
                # closed under it; the engine's word for that is this ValueError (D36)
                if exc.errno == errno.EBADF and self.closed:
                    raise ValueError("kevents queue closed while waiting") from None
                if native is not None:  # which change failed is unknown: as if all held
                    self._remember_all(todo, set())
                raise
            if native is not None:  # udata of the changes the kernel applied only
                self._remember_all(todo, self._not_applied(got, todo, max_events))
            out = self._from_native(got, todo, max_events)
            if out or max_events == 0:
                return out
            left = None if deadline is None else deadline - time.monotonic()
            if not got and not (clamped and left is not None and left > 0):
                return out
            # a spurious AIO wake-up, or a clamped wait that ended: wait again for what
            # is left of the timeout
            native = None
            if left is not None:
                seconds = min(max(0.0, left), MAX_WAIT_NS / 1e9)

    def close(self) -> None:
        if self.pool is not None:  # cancel what has not started, wait for the rest
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            for ident in list(self.aio_pins):
                self._unpin(ident)
        self.kq.close()

    def forget(self) -> None:
        """After fork: a kqueue is not inherited (the child's fd is dead); drop ours. A
        worker thread may have held the lock at the fork: the child gets a fresh one."""
        self.pool = None
        self.lock = threading.Lock()
        self.forked = True  # never touch self.kq: over the emulation it is shared state

    def close_fd(self, fd: int) -> None:
        for f in (Filter.READ, Filter.WRITE, Filter.VNODE, Filter.PROCDESC):
            if f in self.table.filters:
                with contextlib.suppress(OSError):
                    self.control([KEvent(fd, f, Flag.DELETE)], 0, 0)

    def submit(self, op: str, fd: int, buffer: Any, offset: int, udata: Any) -> int:
        """AIO by a thread pool; the completion wakes the queue via EVFILT_USER."""
        if self.closed:
            raise ValueError("I/O operation on closed kevents queue")
        if Filter.USER not in self.table.filters:
            raise UnsupportedError(f"AIO on {self.table.name} (needs EVFILT_USER)")
        view = None if op == "fsync" else pin(buffer, op == "read")
        with self.lock:
            if self.pool is None:
                self.kq.control(
                    [
                        self.mod.kevent(
                            _AIO_WAKE, self.table.filters[Filter.USER], int(Flag.ADD | Flag.CLEAR)
                        )
                    ],
                    0,
                )
                self.pool = concurrent.futures.ThreadPoolExecutor(4, "kevents-aio")
            self.next_aio += 1
            ident = self.next_aio
            self.aio_pins[ident] = view
            self.aio_futures[ident] = self.pool.submit(
                self._run_aio, ident, op, fd, view, offset, udata
            )
        return ident

    def _aio_cancel(self, ident: int) -> int:
        """EV_DELETE of an AIO request: nothing will be reported for it (0 or ENOENT)."""
        with self.lock:
            fut = self.aio_futures.pop(ident, None)
            if fut is None:
                # done but not yet collected: it is still a knote, and deleting it means
                # it is never reported (as the emulation's engine does)
                for ev in self.aio_done:
                    if ev.ident == ident:
                        self.aio_done.remove(ev)
                        return 0
                return errno.ENOENT
            self.aio_cancelled.add(ident)
            if fut.cancel():
                self._unpin(ident)
            return 0

    def _unpin(self, ident: int) -> None:
        view = self.aio_pins.pop(ident, None)
        if view is not None:
            view.release()

    # -- translation --------------------------------------------------------------------------

    def _to_native(self, ch: KEvent, index: int = 0) -> Any:
        """A native kevent, or an errno (int) when this host cannot express the change.
        Its native udata is ``index``, the change's place in the list, so that an error
        or receipt entry finds its own change (not another one on the same knote)."""
        flags = int(ch.flags)
        if (flags & Flag.ENABLE and flags & Flag.DISABLE) or (
            flags & Flag.ADD and flags & (Flag.DELETE | Flag.KEEPUDATA)
        ):
            return errno.EINVAL  # D8 on every host (macOS lets DISABLE win)
        if ch.filter == Filter.AIO:  # kevents' own submissions, as on FreeBSD: no EV_ADD
            return errno.EPERM if flags & Flag.ADD else self._aio_cancel(ch.ident)
        native_filter = self.table.filters.get(ch.filter)
        if native_filter is None:
            return errno.ENOTSUP if ch.filter in _KNOWN else errno.EINVAL
        if flags & self.table.missing_flags:
            return errno.ENOTSUP
        flags &= ~_NODATA  # kevents' own bit (D78): a kqueue counts for free, and
        # a native kevent's flags are 16 bits
        fflags = int(ch.fflags)
        if ch.filter == Filter.TIMER:
            units = fflags & _UNITS
            if fflags & ~(_UNITS | _ABSTIME) or units & (units - 1) or ch.data < 0:
                return errno.EINVAL  # as every BSD says
            unit = self.table.timer_units.get(units)
            if unit is None or (fflags & _ABSTIME and self.table.timer_abstime is None):
                return errno.ENOTSUP
            fflags = unit | ((self.table.timer_abstime or 0) if fflags & _ABSTIME else 0)
        elif ch.filter == Filter.VNODE and fflags & self.table.missing_vnode:
            return errno.ENOTSUP
        elif ch.filter == Filter.PROC:
            if fflags & self.table.missing_proc:
                return errno.ENOTSUP
            if fflags & NoteProc.EXIT:
                fflags |= self.table.proc_exitstatus
            # The kernel copies udata into NOTE_TRACK children: the tracked pid lets
            # their events find the Python udata even when NOTE_EXIT has replaced the
            # parent pid in `data` (a child that exits before it is reported).
            return self.mod.kevent(ch.ident, native_filter, flags, fflags, ch.data, ch.ident)
        return self.mod.kevent(ch.ident, native_filter, flags, fflags, ch.data, index)

    def _remember_all(self, todo: list[KEvent], failed: set[int | None]) -> None:
        with self.lock:
            for i, ch in enumerate(todo):
                if i not in failed:
                    self._remember(ch)

    def _not_applied(self, got: list[Any], todo: list[KEvent], room: int) -> set[int | None]:
        """Indices of the changes the kernel did not apply: those that got an error
        entry and, when the entries filled the room, those after the receipt it
        stopped at (spec §4.5, D6)."""
        entries = [(self._change_of(ev, todo), ev) for ev in got if ev.flags & _ERROR]
        answered = [i for i, _ in entries]
        out: set[int | None] = {i for i, ev in entries if ev.data}
        if len(answered) >= room:
            last = max((i for i in answered if i is not None), default=-1)
            stop = next((j for j in range(last + 1, len(todo)) if todo[j].flags & _RECEIPT), None)
            if stop is not None:
                out.update(range(stop + 1, len(todo)))
        return out

    def _change_of(self, ev: Any, todo: list[KEvent]) -> int | None:
        """The index in ``todo`` of the change an error or receipt entry answers (its
        native udata, see ``_to_native``); None for an event."""
        if not ev.flags & _ERROR:
            return None
        key = (ev.ident, self.reverse.get(ev.filter, ev.filter))
        i = ev.udata
        if 0 <= i < len(todo) and (todo[i].ident, todo[i].filter) == key:
            return int(i)
        # PROC's native udata is its pid: the last change on the knote
        return max((j for j, ch in enumerate(todo) if (ch.ident, ch.filter) == key), default=None)

    def _remember(self, ch: KEvent) -> None:
        key = (ch.ident, ch.filter)
        if ch.flags & Flag.DELETE:
            self.udata.pop(key, None)
        elif not ch.flags & Flag.KEEPUDATA:
            self.udata[key] = ch.udata

    def _apply_one_by_one(
        self, todo: list[KEvent], native: list[Any], max_events: int
    ) -> list[KEvent] | None:
        """Some changes were refused before the kernel: apply the list one change at a
        time (each with EV_RECEIPT, so the kernel reports and never collects), keeping
        kevent()'s order, room and stop rules (spec §4)."""
        entries: list[KEvent] | None = None
        for ch, n in zip(todo, native, strict=True):
            if isinstance(n, int):
                err = n
            else:
                # no room: the kernel applies the change and collects nothing, and an
                # error comes back as the exception (an EV_RECEIPT added here would be
                # kept by the knote and show in its events)
                try:
                    self.kq.control([n], 0, 0)
                    err = 0
                except OSError as exc:
                    err = exc.errno or errno.EINVAL
                if not err:
                    self._remember(ch)
            if not err and not ch.flags & _RECEIPT:
                continue
            if entries is None:
                entries = []
            if len(entries) >= max_events:
                if err:
                    raise oserror(err)
                break
            entries.append(
                KEvent(ch.ident, ch.filter, int(ch.flags) | _ERROR, ch.fflags, err, ch.udata)
            )
        return entries

    def _from_native(self, got: list[Any], todo: list[KEvent], room: int) -> list[KEvent]:
        out: list[KEvent] = []
        for ev in got:
            filt = self.reverse.get(ev.filter, ev.filter)
            key = (ev.ident, filt)
            if ev.flags & _ERROR:  # an error or receipt entry: udata of its change
                i = self._change_of(ev, todo)
                ch = todo[i] if i is not None else None
                out.append(
                    KEvent(
                        ev.ident,
                        filt,
                        ev.flags,
                        ev.fflags,
                        ev.data,
                        ch.udata if ch is not None else None,
                    )
                )
                continue
            if filt == Filter.USER and ev.ident == _AIO_WAKE:
                self._aio_events(out, room - (len(got) - 1))
                continue
            flags = ev.flags & ~_ACTIONS  # macOS echoes EV_ADD (D4)
            fflags = ev.fflags
            if filt == Filter.TIMER:
                fflags = 0  # D26
            udata = self.udata.get(key)
            if filt == Filter.PROC and fflags & NoteProc.CHILD and key not in self.udata:
                # a NOTE_TRACK child: the kernel gave it the tracked ancestor's udata
                parent = (ev.data, Filter.PROC)
                udata = self.udata.get(parent if parent in self.udata else (ev.udata, Filter.PROC))
                self.udata[key] = udata
            if flags & _ONESHOT:
                self.udata.pop(key, None)
            out.append(KEvent(ev.ident, filt, flags, fflags, ev.data, udata))
        return out

    # -- AIO by thread pool -----------------------------------------------------------------

    def _run_aio(self, ident: int, op: str, fd: int, view: Any, offset: int, udata: Any) -> None:
        res = perform(op, fd, view, offset)
        data, err = (res, 0) if res >= 0 else (-1, -res)
        flags = int(Flag.ONESHOT | Flag.EOF)
        with self.lock:
            self._unpin(ident)
            self.aio_futures.pop(ident, None)
            if ident in self.aio_cancelled:
                self.aio_cancelled.discard(ident)
                return
            self.aio_done.append(KEvent(ident, Filter.AIO, flags, err, data, udata))
            if not self.kq.closed:
                self.kq.control(
                    [self.mod.kevent(_AIO_WAKE, self.table.filters[Filter.USER], 0, _TRIGGER)], 0
                )

    def _aio_events(self, out: list[KEvent], room: int) -> None:
        with self.lock:
            while self.aio_done and room > 0:
                out.append(self.aio_done.popleft())
                room -= 1
            if self.aio_done:  # more than fits: wake the next call too
                self.kq.control(
                    [self.mod.kevent(_AIO_WAKE, self.table.filters[Filter.USER], 0, _TRIGGER)], 0
                )

    def mechanisms(self) -> dict[int, tuple[str, str]]:
        where = (
            "the Linux emulation through kevents.compat.select: this is NOT a run on a BSD kernel"
            if self.table is FREEBSD and self.mod is not select
            else f"the {self.table.name} kernel"
        )
        out = {
            f: ("kqueue", f"native filter {n} of {where}") for f, n in self.table.filters.items()
        }
        if Filter.USER in self.table.filters:
            out[Filter.AIO] = ("thread pool", f"completions through EVFILT_USER of {where}")
        return out


def emulation_backend() -> KqueueBackend:
    """The translation layer over kevents' own emulation (tests it on Linux)."""
    from ...compat import select as compat
    from .. import _probe

    # the emulation is the platform's own backend, whatever KEVENTS_BACKEND says
    return KqueueBackend(
        compat, FREEBSD, "kqueue-over-emulation", lambda: compat.kqueue(_backend=_probe())
    )


__all__ = ["KqueueBackend", "emulation_backend"]
