"""A :mod:`selectors` selector over a kevents queue, with room for kevents of any filter.

asyncio's selector loop speaks ``register(fd, EVENT_READ | EVENT_WRITE, data)`` and
``select(timeout) -> [(key, mask)]``; here each mask bit is one kevent registration,
``(fd, READ)`` and ``(fd, WRITE)``, as in CPython's ``KqueueSelector``. A ``modify``
changes only the filters that differ, in one ``control()`` call. A selector never
hands out ``data``, so its registrations are made with ``Flag.NODATA`` (D78): on Linux
a hop costs no FIONREAD, while raw registrations on the same queue keep their counts.

Every other event the queue returns (USER wake-ups, signals, process exits, file
changes, AIO completions, raw registrations) is kept in :attr:`extras` for the caller.
The event loop uses :class:`LoopSelector`, which hands it the queue's events as they
are: it routes fd events and the others in one pass.
"""

from __future__ import annotations

import contextlib
import selectors
from typing import Any

import kevents
from kevents import Filter, Flag, KEvent

_READ = int(Filter.READ)
_WRITE = int(Filter.WRITE)
_EVENT_READ = selectors.EVENT_READ
_EVENT_WRITE = selectors.EVENT_WRITE
# the selector's own knotes: nobody reads their data (D78)
_ADD = int(Flag.ADD | Flag.NODATA)
_DELETE = int(Flag.DELETE)
_MIN_ROOM = 64
# the stdlib's key bookkeeping (as CPython's own KqueueSelector uses it); typeshed does
# not describe its attributes
_SelectorImpl: Any = selectors._BaseSelectorImpl


class KeventsSelector(_SelectorImpl):  # type: ignore[misc]
    """A selector on a :class:`kevents.Queue` (owned: closed with the selector)."""

    def __init__(self, queue: kevents.Queue | None = None) -> None:
        super().__init__()
        self.queue = queue if queue is not None else kevents.Queue()
        self.extras: list[KEvent] = []
        self._room = _MIN_ROOM
        self._control = self.queue.control

    def fileno(self) -> int:
        return self.queue.fileno()

    def _changes(self, fd: int, old: int, new: int) -> list[KEvent]:
        changes = []
        for bit, filt in ((_EVENT_READ, _READ), (_EVENT_WRITE, _WRITE)):
            if new & bit and not old & bit:
                changes.append(KEvent(fd, filt, _ADD))
            elif old & bit and not new & bit:
                changes.append(KEvent(fd, filt, _DELETE))
        return changes

    def _room_for(self) -> None:
        self._room = max(_MIN_ROOM, 2 * len(self._fd_to_key))

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key: selectors.SelectorKey = super().register(fileobj, events, data)
        try:
            self._control(self._changes(key.fd, 0, events), 0, 0)
        except BaseException:
            super().unregister(fileobj)
            raise
        self._room_for()
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key: selectors.SelectorKey = super().unregister(fileobj)
        for change in self._changes(key.fd, key.events, 0):
            with contextlib.suppress(OSError):  # closed since: its knotes went with it
                self._control([change], 0, 0)
        self._room_for()
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        try:
            key = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            if not events or events & ~(_EVENT_READ | _EVENT_WRITE):
                raise ValueError(f"Invalid events: {events!r}")
            self._control(self._changes(key.fd, key.events, events), 0, 0)
        new: selectors.SelectorKey = key._replace(events=events, data=data)
        self._fd_to_key[key.fd] = new
        return new

    def _wait(self, timeout: float | None = None) -> list[KEvent]:
        if timeout is not None and timeout < 0:
            timeout = 0
        try:
            return self._control(None, self._room, timeout)
        except InterruptedError:
            return []

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = []
        get = self._fd_to_key.get
        for ev in self._wait(timeout):
            filt = ev.filter
            if filt in (_READ, _WRITE):
                key = get(ev.ident)
                if key is not None:
                    mask = _EVENT_READ if filt == _READ else _EVENT_WRITE
                    if key.events & mask:
                        ready.append((key, mask))
                    continue
            self.extras.append(ev)
        return ready

    def close(self) -> None:
        self.queue.close()
        self.extras.clear()
        super().close()


class LoopSelector(KeventsSelector):
    """The event loop's own selector: ``select`` returns the queue's events as they
    are, and the loop routes them itself in one pass (no ``(key, mask)`` pairs, no
    :attr:`extras` list per turn)."""

    def __init__(self, queue: kevents.Queue | None = None) -> None:
        super().__init__(queue)
        #: the last select() polled and found events (see select)
        self.fresh = False

    def select(self, timeout: float | None = None) -> list[KEvent]:  # type: ignore[override]
        # Story (issue 14): asyncio's loop turn polls first and then runs what is
        # ready, and the callbacks an I/O callback schedules (a future's result waking
        # the task that awaits a stream) run one turn later, after a poll with
        # timeout 0 that finds nothing: the fourth system call of a streams hop, which
        # uvloop does not make (libuv runs them before it polls again). So a select(0)
        # right after a poll that found events does not poll: the callbacks those
        # events scheduled run first, and the turn after polls again, whatever it
        # finds. At most one poll in two turns is skipped, only while callbacks are
        # ready (timeout 0), and the queue keeps what it did not return (a level
        # descriptor still polls ready, an EV_CLEAR knote stays pending): events wait
        # one batch of callbacks, none is lost. A run's first turn always polls
        # (KeventsEventLoop.run_forever), as a loop stepped once by a test expects.
        # The poll below is _wait's, inlined: one Python frame per loop turn.
        if timeout == 0 and self.fresh:
            self.fresh = False
            return SKIPPED
        if timeout is not None and timeout < 0:
            timeout = 0
        try:
            events: list[KEvent] = self._control(None, self._room, timeout)
        except InterruptedError:
            events = []
        self.fresh = bool(events)
        return events


#: what LoopSelector.select returns for a skipped poll (never filled)
SKIPPED: list[KEvent] = []
