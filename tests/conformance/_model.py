"""A small pure-Python model of a kqueue: the knote table and the flag rules, as
FreeBSD's kqueue_register/kqueue_scan apply them (spec §1.4, §1.5, §4; D2-D8, D12), for
the filters whose state a test can drive exactly: USER, and READ/WRITE on sockets,
pipes, an eventfd and a regular file. test_model.py runs it next to a real queue.

The model knows the objects behind the descriptors (bytes waiting, which end of a
pipe) and nothing about any backend: what it predicts is BSD's answer.
"""

from __future__ import annotations

import dataclasses
import errno
from typing import Any

from kevents import Filter, Flag, KEvent, NoteRW, NoteUser

ADD, DELETE, ENABLE, DISABLE = (int(f) for f in (Flag.ADD, Flag.DELETE, Flag.ENABLE, Flag.DISABLE))
ONESHOT, CLEAR, RECEIPT, DISPATCH = (
    int(f) for f in (Flag.ONESHOT, Flag.CLEAR, Flag.RECEIPT, Flag.DISPATCH)
)
KEEPUDATA, ERROR, SYSFLAGS = (int(f) for f in (Flag.KEEPUDATA, Flag.ERROR, Flag.SYSFLAGS))
PERSISTENT = ONESHOT | CLEAR | RECEIPT | DISPATCH
TRIGGER = int(NoteUser.TRIGGER)
_CTRL, _MASK = int(NoteUser.FFCTRLMASK), int(NoteUser.FFLAGSMASK)
LOWAT = int(NoteRW.LOWAT)


@dataclasses.dataclass
class Obj:
    """What a descriptor number names, as far as READ and WRITE can tell."""

    kind: str  # "sock", "pipe_r", "pipe_w", "eventfd", "file", "closed", "internal"
    waiting: int = 0  # bytes to read (sock, pipe_r), the counter (eventfd), size (file)
    peer: int = -1  # whose send space a read here frees (the other socket, pipe_w)

    def readable(self, lowat: int = 1) -> int | None:
        """READ's ``data`` when ready (at least ``lowat`` bytes on a socket), else None."""
        if self.kind == "sock":
            return self.waiting if self.waiting >= lowat else None
        if self.kind in ("pipe_r", "file"):
            return self.waiting or None
        if self.kind == "eventfd":
            return 1 if self.waiting else None  # FIONREAD cannot count an eventfd
        return None

    def writable(self) -> bool:
        return self.kind in ("sock", "pipe_w", "eventfd", "file")


@dataclasses.dataclass
class MKnote:
    ident: int
    filter: int
    flags: int  # the persistent ones (D2)
    udata: Any
    disabled: bool
    edge: bool = True  # EV_CLEAR: a new activation since the last delivery
    lowat: int = 1  # READ NOTE_LOWAT on a socket
    triggered: bool = False  # USER
    fflags: int = 0  # USER's user flags
    data: int = 0  # USER's data


def _lowat(ch: KEvent) -> int:
    """The mark a READ change sets: its ``data`` with NOTE_LOWAT, clamped to what a
    socket takes (D47), else 1."""
    if not ch.fflags & LOWAT:
        return 1
    return min(max(1, ch.data), 2**31 - 1)


def _ctrl(current: int, fflags: int) -> int:
    op, bits = fflags & _CTRL, fflags & _MASK
    if op == int(NoteUser.FFAND):
        return current & bits
    if op == int(NoteUser.FFOR):
        return current | bits
    if op == int(NoteUser.FFCOPY):
        return bits
    return current


class ModelQueue:
    """The model of one queue over ``objs`` (descriptor number -> object)."""

    def __init__(self, objs: dict[int, Obj], pipe_writer_edges: bool = True) -> None:
        self.objs = objs
        self.knotes: dict[tuple[int, int], MKnote] = {}
        # BSD hangs a pipe's WRITE knote on the reader's list (sys_pipe.c: pipe_kqfilter),
        # so every read and write that leaves PIPE_BUF free is a new edge for it; Linux
        # wakes a pipe's writers only when a read empties a full pipe, which the test's
        # short writes never make (the platform table: "WRITE EV_CLEAR on a pipe")
        self.pipe_writer_edges = pipe_writer_edges

    # -- objects change --------------------------------------------------------------

    def arrived(self, fd: int, n: int) -> None:
        """``n`` bytes (an eventfd: a count) arrived for ``fd``: a new edge for READ."""
        obj = self.objs[fd]
        obj.waiting += n
        self._edge((fd, Filter.READ))
        if obj.kind == "pipe_r" and self.pipe_writer_edges:
            self._edge((obj.peer, Filter.WRITE))

    def drained(self, fd: int) -> None:
        """Everything waiting on ``fd`` was read: space for its writer, a new edge for
        the writer's WRITE knote (BSD's sowwakeup; an eventfd is its own writer)."""
        obj = self.objs[fd]
        obj.waiting = 0
        if obj.kind != "pipe_r" or self.pipe_writer_edges:
            self._edge((obj.peer, Filter.WRITE))

    def _edge(self, key: tuple[int, int]) -> None:
        kn = self.knotes.get(key)
        if kn is not None:
            kn.edge = True

    # -- changes -----------------------------------------------------------------------

    def control(self, changes: list[KEvent], max_events: int) -> list[KEvent] | None:
        """Apply the changes; the entries (errors, receipts) when there are any, else
        None (the caller collects events then). Raises OSError as kevent() does."""
        entries: list[KEvent] = []
        self.results: list[int] = []  # each change's errno (0: applied), as processed
        for ch in changes:
            err = self._apply(ch)
            self.results.append(err)
            if not err and not int(ch.flags) & RECEIPT:
                continue
            if len(entries) >= max_events:
                if err:
                    raise OSError(err, "no room for the error entry")
                break  # D6: a receipt without room stops the list
            entries.append(
                KEvent(ch.ident, ch.filter, int(ch.flags) | ERROR, ch.fflags, err, ch.udata)
            )
        return entries or None

    def _apply(self, ch: KEvent) -> int:
        flags = int(ch.flags) & ~SYSFLAGS
        filt = int(ch.filter)
        if filt not in (Filter.READ, Filter.WRITE, Filter.USER):
            raise AssertionError("the model knows READ, WRITE and USER only")
        if flags & ENABLE and flags & DISABLE:
            return errno.EINVAL
        if flags & ADD and flags & (DELETE | KEEPUDATA):
            return errno.EINVAL
        key = (ch.ident, filt)
        if filt != Filter.USER and self.objs[ch.ident].kind in ("closed", "internal"):
            self.knotes.pop(key, None)  # BSD dropped it at close
            return errno.EBADF
        kn = self.knotes.get(key)
        if kn is None:
            if not flags & ADD:
                return errno.ENOENT
            if filt == Filter.READ and ch.fflags & LOWAT and self.objs[ch.ident].kind != "sock":
                return errno.EINVAL
            if filt == Filter.WRITE and ch.fflags & LOWAT:
                return errno.ENOTSUP  # D34 (Linux); the test skips it elsewhere
            kn = MKnote(ch.ident, filt, flags & PERSISTENT, ch.udata, bool(flags & DISABLE))
            kn.lowat = _lowat(ch)
            if filt == Filter.USER:
                kn.triggered = bool(ch.fflags & TRIGGER)  # D27
                kn.fflags = _ctrl(0, ch.fflags)
                kn.data = ch.data
            self.knotes[key] = kn
            return 0
        if flags & DELETE:
            del self.knotes[key]
            return 0
        if filt == Filter.WRITE and ch.fflags & LOWAT:
            return errno.ENOTSUP  # a refused change changes nothing, udata neither (D3)
        if filt == Filter.READ and ch.fflags & LOWAT and self.objs[ch.ident].kind != "sock":
            return errno.EINVAL
        if not flags & KEEPUDATA:
            kn.udata = ch.udata
        if filt == Filter.USER:
            if ch.fflags & TRIGGER:
                kn.triggered = True
            kn.fflags = _ctrl(kn.fflags, ch.fflags)
            kn.data = ch.data
            if flags & CLEAR:
                kn.triggered = False
        kn.lowat = _lowat(ch)
        kn.edge = True  # BSD re-runs the filter on every change
        if flags & ENABLE:
            kn.disabled = False
        elif flags & DISABLE:
            kn.disabled = True
        return 0

    # -- collection ---------------------------------------------------------------------

    def ready(self) -> dict[tuple[int, int], KEvent]:
        """The event each knote would deliver now, by key."""
        out = {}
        for key, kn in self.knotes.items():
            if kn.disabled or (kn.flags & CLEAR and kn.filter != Filter.USER and not kn.edge):
                continue
            obj = self.objs.get(kn.ident)
            if kn.filter == Filter.USER:
                if not kn.triggered:
                    continue
                fflags, data = kn.fflags, kn.data
            elif kn.filter == Filter.READ:
                got = obj.readable(kn.lowat) if obj is not None else None
                if got is None:
                    continue
                fflags, data = 0, got
            else:
                if obj is None or not obj.writable():
                    continue
                fflags, data = 0, 0
            out[key] = KEvent(kn.ident, kn.filter, kn.flags, fflags, data, kn.udata)
        return out

    def delivered(self, key: tuple[int, int]) -> None:
        """Apply what a delivery does to the knote (ONESHOT, DISPATCH, CLEAR)."""
        kn = self.knotes[key]
        if kn.flags & ONESHOT:
            del self.knotes[key]
            return
        if kn.flags & CLEAR:
            kn.edge = False
            kn.triggered = False
        if kn.flags & DISPATCH:
            kn.disabled = True
