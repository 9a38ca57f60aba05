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
import heapq
import time

from .._backends._contract import Backend, Source
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


class _Timer:
    __slots__ = ("count", "deadline", "gen", "period")

    def __init__(self) -> None:
        self.period = 0
        self.deadline = 0
        self.gen = 0
        self.count = 0


def _interval_ns(fflags: int, data: int, oneshot: bool) -> tuple[int, bool]:
    """Validate a timer's input; return (nanoseconds, absolute) or raise EINVAL."""
    unit = fflags & _UNITS
    if fflags & ~(_UNITS | _ABSTIME) or unit & (unit - 1) or data < 0:
        raise OSError(errno.EINVAL, "bad timer fflags or data")
    absolute = bool(fflags & _ABSTIME)
    if data == 0 and not oneshot and not absolute:
        data = 1
    return min(data * _UNIT_NS[unit], _NEVER_NS), absolute


class TimerSource(Source):
    filter = Filter.TIMER
    userspace = True

    def __init__(self, engine: Engine, backend: Backend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.heap: list[tuple[int, int, int, Knote]] = []
        self.seq = 0
        self.armed = -1
        engine.timers = self

    def _start(self, kn: Knote, fflags: int, data: int) -> None:
        ns, absolute = _interval_ns(fflags, data, bool(kn.flags & _ONESHOT))
        st: _Timer = kn.priv if kn.priv is not None else _Timer()
        now = time.monotonic_ns()
        st.gen += 1
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
        kn.priv = st
        kn.data = 0
        self.seq += 1
        heapq.heappush(self.heap, (st.deadline, self.seq, st.gen, kn))
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
        st: _Timer | None = kn.priv
        if st is not None:
            st.gen += 1  # the heap entry is now dead; it is skipped when it surfaces

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
        if heap and heap[0][0] <= time.monotonic_ns():
            now = time.monotonic_ns()
            while heap and heap[0][0] <= now:
                deadline, _, gen, kn = heapq.heappop(heap)
                st: _Timer = kn.priv
                if gen != st.gen or not kn.alive:
                    continue
                if st.period:
                    missed = 1 + (now - deadline) // st.period
                    st.count += missed
                    st.deadline = deadline + missed * st.period
                    self.seq += 1
                    heapq.heappush(heap, (st.deadline, self.seq, st.gen, kn))
                else:
                    st.count += 1
                kn.data = st.count
                self.engine.enqueue(kn)
        top = heap[0][0] if heap else -1
        if top != self.armed:
            self.armed = top
            self.backend.arm_timer(top)

    def clip(self, wait_ns: int) -> int:
        """Shorten a wait so it ends at the next deadline."""
        if not self.heap:
            return wait_ns
        return max(0, min(wait_ns, self.heap[0][0] - time.monotonic_ns()))

    def close(self) -> None:
        self.heap.clear()
