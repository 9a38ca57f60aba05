"""Wake a kevents loop from another thread: worker threads hand results to the loop
with a USER event (NOTE_TRIGGER), no self-pipe and no polling.

    python examples/thread_wakeup.py        # 4 threads, 20 jobs; prints each result

A USER knote with EV_CLEAR is a wake-up flag in the kernel's shape: any thread sets it
with NOTE_TRIGGER, the waiting thread gets one event however many triggers came before
it looked, and the event resets when delivered. The results themselves travel in a
thread-safe collections.deque; the event only says "look".
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import sys

import kevents
from kevents import Filter, Flag, KEvent, NoteUser

WAKE = 1  # the USER knote's ident: any number


def work(n: int) -> str:
    return hashlib.sha256(str(n).encode() * 10_000).hexdigest()[:12]


def main() -> int:
    jobs = 20
    results: collections.deque[tuple[int, str]] = collections.deque()
    with kevents.Queue() as kq, concurrent.futures.ThreadPoolExecutor(4) as pool:
        kq.control([KEvent(WAKE, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
        wake = [KEvent(WAKE, Filter.USER, fflags=NoteUser.TRIGGER)]

        def job(n: int) -> None:  # runs in a pool thread
            results.append((n, work(n)))
            kq.control(wake, 0)  # safe from any thread; wakes the loop below

        for n in range(jobs):
            pool.submit(job, n)
        done = wakeups = 0
        while done < jobs:
            # The loop could wait on sockets, timers and processes too: one queue.
            for ev in kq.control(None, 8, timeout=10):
                if ev.filter == Filter.USER:
                    wakeups += 1
                    while results:
                        n, digest = results.popleft()
                        print(f"job {n:2}: {digest}")
                        done += 1
    print(f"{jobs} results in {wakeups} wake-up(s): triggers that came while the loop")
    print("was busy were merged into one event (EV_CLEAR)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
