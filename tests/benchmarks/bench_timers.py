"""Timers (issue 13 deliver 5): 100,000 TIMER ADDs (one change list, and one control()
each) beside the stdlib way (a heapq of deadlines plus one timerfd, re-armed at the
earliest), and the memory of re-arming one timer 1,000,000 times (the idle-timeout
pattern). Targets: ADDs <= 1.0x heapq + one timerfd; re-arms: RSS growth < 1 MiB."""

from __future__ import annotations

import heapq
import os
import time

from _util import record

import kevents
from kevents import Filter, Flag, KEvent

N = 100_000


def heapq_timerfd() -> float:
    """The stdlib baseline: push each deadline, re-arm one timerfd at the earliest."""
    t0 = time.perf_counter()
    fd = os.timerfd_create(time.CLOCK_MONOTONIC) if hasattr(os, "timerfd_create") else -1
    heap: list[tuple[int, int]] = []
    armed = -1
    now = time.monotonic_ns()
    for i in range(N):
        heapq.heappush(heap, (now + 60 * 10**9 + i, i))
        if heap[0][0] != armed and fd >= 0:
            armed = heap[0][0]
            os.timerfd_settime_ns(fd, flags=os.TFD_TIMER_ABSTIME, initial=armed)
    if fd >= 0:
        os.close(fd)
    return time.perf_counter() - t0


def kevents_one_list() -> float:
    changes = [KEvent(i, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 60_000) for i in range(N)]
    with kevents.Queue() as kq:
        t0 = time.perf_counter()
        kq.control(changes, 0)
        return time.perf_counter() - t0


def kevents_close() -> float:
    """close() of a queue holding the N timers (each detach is an O(log n) heap removal
    in Python, D44)."""
    changes = [KEvent(i, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 60_000) for i in range(N)]
    kq = kevents.Queue()
    kq.control(changes, 0)
    t0 = time.perf_counter()
    kq.close()
    return time.perf_counter() - t0


def kevents_one_call_each() -> float:
    # the constants are named once, as the heapq loop's are (folded by the compiler): an
    # enum member's lookup costs ~1,200 instructions on 3.11, Python's cost, not kevents'
    timer, flags = Filter.TIMER, Flag.ADD | Flag.ONESHOT
    with kevents.Queue() as kq:
        control = kq.control
        t0 = time.perf_counter()
        for i in range(N):
            control([KEvent(i, timer, flags, 0, 60_000)], 0)
        return time.perf_counter() - t0


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rearm_growth(n: int = 1_000_000) -> int:
    with kevents.Queue() as kq:
        batch = [KEvent(1, Filter.TIMER, Flag.ADD, 0, 3_600_000)] * 1000
        kq.control(batch, 0)
        before = rss()
        for _ in range(n // 1000):
            kq.control(batch, 0)
        return rss() - before


def main() -> None:
    times = {
        "heapq + one timerfd": min(heapq_timerfd() for _ in range(3)),
        "kevents: one change list": min(kevents_one_list() for _ in range(3)),
        "kevents: one control() each": min(kevents_one_call_each() for _ in range(3)),
    }
    closing = min(kevents_close() for _ in range(3))
    title = f"{N:,} TIMER ADDs (seconds)"
    print(f"\n{title}")
    base = times["heapq + one timerfd"]
    for name, t in times.items():
        print(f"  {name:32s} {t:9.3f} s   {t / base:5.2f}x heapq + one timerfd")
    record(title, times, "heapq + one timerfd", higher=False)
    print(f"  {'kevents: close() of the queue':32s} {closing:9.3f} s")
    grown = rearm_growth()
    print(f"\n1,000,000 re-arms of one timer: RSS grew {grown / 2**20:.2f} MiB (target < 1 MiB)")


if __name__ == "__main__":
    main()
