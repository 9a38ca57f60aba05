"""EVFILT_TIMER: one heap per queue, driving one kernel timer (portable; spec §5.9, §6.7).

Story: libkqueue gives every timer its own timerfd, so 100k timers cost 100k fds. Here
every timer of a queue is an entry in one heap of CLOCK_MONOTONIC deadlines, and the
backend arms a single kernel timer (Linux: one timerfd, which also keeps the queue's fd
pollable; Windows: the completion-port wait timeout) at the earliest one.

Periodic timers are drift-free: when a reader is late, the missed periods are counted
into ``data`` and the next deadline stays on the original grid. Expirations keep
counting while a knote is disabled (D24). NOTE_ABSTIME converts the wall-clock deadline
to a monotonic one once, at registration, as BSD and XNU do (D25). ``data`` 0 means one
unit when periodic and "now" with EV_ONESHOT (D22); negative ``data`` is EINVAL and huge
values clamp to "practically never" (D23). Returned ``fflags`` are 0 (D26).
"""

from __future__ import annotations

import errno
import time

from .._backends._contract import Backend, Source
from .._core import C_LAYOUT, TimerBase, TimerSourceBase
from .._engine import Engine
from .._event import Filter, Flag, NoteTimer
from .._knote import Knote

_UNIT_NS = {
    int(NoteTimer.SECONDS): 10**9,
    int(NoteTimer.MSECONDS): 10**6,
    int(NoteTimer.USECONDS): 10**3,
    int(NoteTimer.NSECONDS): 1,
    0: 10**6,
}
_UNITS = int(NoteTimer.SECONDS | NoteTimer.MSECONDS | NoteTimer.USECONDS | NoteTimer.NSECONDS)
_ABSTIME = int(NoteTimer.ABSTIME)
_ONESHOT = int(Flag.ONESHOT)
_CLEAR = int(Flag.CLEAR)
_ADD = int(Flag.ADD)
_NEVER_NS = 2**62  # about 146 years: the clamp for huge periods


class _Timer(TimerBase):
    """A timer's state; ``index`` is its knote's place in the heap (-1: not in it)."""

    # the fields, or, under speedups, TimerBase's C layout of the same names (D76)
    __slots__ = () if C_LAYOUT else ("count", "deadline", "index", "period", "seq")

    def __init__(self) -> None:
        self.period = 0
        self.deadline = 0
        self.count = 0
        self.seq = 0
        self.index = -1


def _interval_ns(fflags: int, data: int, oneshot: bool) -> tuple[int, bool]:
    """Validate a timer's input; return (nanoseconds, absolute) or raise EINVAL."""
    unit = fflags & _UNITS
    if fflags & ~(_UNITS | _ABSTIME) or unit & (unit - 1) or data < 0:
        raise OSError(errno.EINVAL, "bad timer fflags or data")
    absolute = bool(fflags & _ABSTIME)
    if data == 0 and not oneshot and not absolute:
        data = 1
    return min(data * _UNIT_NS[unit], _NEVER_NS), absolute


class TimerSource(Source, TimerSourceBase):
    filter = Filter.TIMER
    userspace = True

    def __init__(self, engine: Engine, backend: Backend) -> None:
        super().__init__(engine)
        self.backend = backend
        #: an indexed binary heap of the armed timers' knotes, earliest (deadline, seq)
        #: first. Story: a heap of (deadline, seq, knote) tuples with lazy deletion
        #: kept every re-armed or deleted timer's entry, and with it the knote and its
        #: udata, until the old deadline passed: the idle-timeout pattern (re-arm on
        #: every message) grew by 172 MiB per million re-arms. Each knote now holds
        #: its position, so re-arm moves its one entry and delete removes it, in
        #: O(log n), as FreeBSD's callout_reset does (issue 13, D45).
        self.heap: list[Knote] = []
        self.seq = 0
        self.armed = -1
        engine.timers = self

    # -- the heap ---------------------------------------------------------------------

    def _place(self, i: int, kn: Knote) -> None:
        self.heap[i] = kn
        kn.priv.index = i

    def _up(self, i: int) -> None:
        heap = self.heap
        kn = heap[i]
        key = (kn.priv.deadline, kn.priv.seq)
        while i:
            parent = (i - 1) >> 1
            p = heap[parent]
            if (p.priv.deadline, p.priv.seq) <= key:
                break
            self._place(i, p)
            i = parent
        self._place(i, kn)

    def _down(self, i: int) -> None:
        heap = self.heap
        n = len(heap)
        kn = heap[i]
        key = (kn.priv.deadline, kn.priv.seq)
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            c = heap[child]
            ckey = (c.priv.deadline, c.priv.seq)
            if child + 1 < n:
                r = heap[child + 1]
                rkey = (r.priv.deadline, r.priv.seq)
                if rkey < ckey:
                    child, c, ckey = child + 1, r, rkey
            if key <= ckey:
                break
            self._place(i, c)
            i = child
        self._place(i, kn)

    def _schedule(self, kn: Knote) -> None:
        """Put ``kn`` in the heap at its (new) deadline: moved if it is there already."""
        st: _Timer = kn.priv
        self.seq += 1
        st.seq = self.seq
        if st.index < 0:
            self.heap.append(kn)
            st.index = len(self.heap) - 1
            self._up(st.index)
        else:
            self._up(st.index)
            self._down(st.index)

    def _unschedule(self, kn: Knote) -> None:
        st: _Timer = kn.priv
        i = st.index
        if i < 0:
            return
        st.index = -1
        last = self.heap.pop()
        if last is not kn:
            self._place(i, last)
            self._up(i)
            self._down(last.priv.index)

    # -- the source ---------------------------------------------------------------------

    def _start(self, kn: Knote, fflags: int, data: int) -> None:
        ns, absolute = _interval_ns(fflags, data, bool(kn.flags & _ONESHOT))
        if kn.priv is None:
            kn.priv = _Timer()
        st: _Timer = kn.priv
        now = time.monotonic_ns()
        st.count = 0
        if absolute:
            st.period = 0
            st.deadline = now + (ns - time.time_ns())
        elif kn.flags & _ONESHOT:
            st.period = 0
            st.deadline = now + ns
        else:
            st.period = ns
            st.deadline = now + ns
        kn.data = 0
        self._schedule(kn)
        self.expire()

    def attach(self, kn: Knote) -> None:
        if not kn.sfflags & _ABSTIME:
            kn.flags |= _CLEAR
        self._start(kn, kn.sfflags, kn.sdata)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if not flags & _ADD:
            return
        _interval_ns(fflags, data, bool(kn.flags & _ONESHOT))  # EINVAL leaves it as is
        kn.sfflags, kn.sdata = fflags, data
        self.engine.dequeue(kn)
        self._start(kn, fflags, data)

    def detach(self, kn: Knote) -> None:
        if kn.priv is not None:
            self._unschedule(kn)  # at once: the heap holds no deleted knote (or udata)

    def event(self, kn: Knote) -> bool:
        st: _Timer = kn.priv
        kn.data = st.count
        return st.count > 0

    def clear(self, kn: Knote) -> None:
        kn.priv.count = 0
        kn.data = 0

    def expire(self) -> None:
        """Count expirations up to now, queue their knotes, re-arm the kernel timer."""
        heap = self.heap
        if heap and heap[0].priv.deadline <= time.monotonic_ns():
            now = time.monotonic_ns()
            while heap and heap[0].priv.deadline <= now:
                kn = heap[0]
                st: _Timer = kn.priv
                if st.period:
                    missed = 1 + (now - st.deadline) // st.period
                    st.count += missed
                    st.deadline += missed * st.period
                    self._schedule(kn)
                else:
                    self._unschedule(kn)
                    st.count += 1
                kn.data = st.count
                self.engine.enqueue(kn)
        top = heap[0].priv.deadline if heap else -1
        if top != self.armed:
            self.armed = top
            self.backend.arm_timer(top)

    def clip(self, wait_ns: int) -> int:
        """Shorten a wait so it ends at the next deadline."""
        if not self.heap:
            return wait_ns
        first: _Timer = self.heap[0].priv
        return max(0, min(wait_ns, first.deadline - time.monotonic_ns()))

    def close_order(self) -> list[Knote]:
        """The armed timers in the order Engine.close() detaches them: from the heap's
        end. Story: the knotes were dropped in the order they were added, so each was the
        heap's root in turn and its removal sifted the whole depth in Python (100,000
        timers: 1.2 s, six times their EV_ADD). Removing the last entry is a pop, and
        what is left is still a heap, so nothing that reads it meanwhile sees a dead
        timer. (Leaving the heap to close() instead left dead timers in it until then,
        and was taken back, D44.)"""
        return self.heap[::-1]

    def close(self) -> None:
        for kn in self.heap:
            kn.priv.index = -1
        self.heap.clear()
