"""A 10,000-ADD change list (issue 2): kevents applies it in one control() call; the
stdlib baselines register one fd at a time (select.epoll.register,
selectors.DefaultSelector.register)."""

from __future__ import annotations

import select
import selectors
import socket
import time

from _util import report

import kevents
from kevents import Filter, KEvent

N = 10_000


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return N / best


def main() -> None:
    socks = []
    for _ in range(N // 2):
        socks.extend(socket.socketpair())
    fds = [s.fileno() for s in socks]

    def run_kevents() -> None:
        with kevents.Queue() as kq:
            kq.control([KEvent(fd, Filter.READ) for fd in fds], 0)

    def run_epoll() -> None:
        ep = select.epoll()
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
        ep.close()

    def run_selectors() -> None:
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        sel.close()

    rates = {
        "select.epoll.register loop": timed(run_epoll),
        "selectors.register loop": timed(run_selectors),
        "kevents one changelist": timed(run_kevents),
    }
    report(f"{N}-ADD change list (adds/s)", rates, "select.epoll.register loop")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
