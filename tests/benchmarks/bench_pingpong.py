"""Ping-pong over one socketpair: round trips per second, kevents vs select.epoll and
selectors.DefaultSelector in the same run. Run: .venv/bin/python tests/benchmarks/bench_pingpong.py
Targets (issue 13): Queue.control >= 1.0x select.epoll, compat.select >= 0.9x, with one
and with 64 socketpairs."""

from __future__ import annotations

import fcntl
import select
import selectors
import socket
import termios

from _util import best_rate, report

import kevents
from kevents import Filter, KEvent

N = 20_000


def run_epoll(n: int) -> None:
    a, b = socket.socketpair()
    ep = select.epoll()
    ep.register(a, select.EPOLLIN)
    ep.register(b, select.EPOLLIN)
    fa, fb = a.fileno(), b.fileno()
    a.send(b"x")
    for _ in range(n):
        for fd, _ in ep.poll():
            if fd == fb:
                b.recv(1)
                b.send(b"x")
            else:
                a.recv(1)
                a.send(b"x")
    assert fa != fb
    ep.close()
    a.close()
    b.close()


def run_epoll_fionread(n: int) -> None:
    """select.epoll plus the FIONREAD that gives kqueue's ``data``: like for like."""
    a, b = socket.socketpair()
    ep = select.epoll()
    ep.register(a, select.EPOLLIN)
    ep.register(b, select.EPOLLIN)
    fb = b.fileno()
    buf = bytearray(4)
    a.send(b"x")
    for _ in range(n):
        for fd, _ in ep.poll():
            fcntl.ioctl(fd, termios.FIONREAD, buf)
            s = b if fd == fb else a
            s.recv(1)
            s.send(b"x")
    ep.close()
    a.close()
    b.close()


def run_selectors(n: int) -> None:
    a, b = socket.socketpair()
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, a)
    sel.register(b, selectors.EVENT_READ, b)
    a.send(b"x")
    for _ in range(n):
        for key, _ in sel.select():
            s = key.data
            s.recv(1)
            s.send(b"x")
    sel.close()
    a.close()
    b.close()


def run_kevents(n: int, counts: bool = True) -> None:
    a, b = socket.socketpair()
    kq = kevents.Queue(counts=counts)
    kq.control(
        [KEvent(a.fileno(), Filter.READ, udata=a), KEvent(b.fileno(), Filter.READ, udata=b)], 0
    )
    a.send(b"x")
    control = kq.control
    for _ in range(n):
        for ev in control(None, 8):
            s = ev.udata
            s.recv(1)
            s.send(b"x")
    kq.close()
    a.close()
    b.close()


def run_kevents_nocounts(n: int) -> None:
    """An event loop's queue: it never reads ``data`` (D43)."""
    run_kevents(n, counts=False)


def run_compat(n: int) -> None:
    from kevents.compat import select as kselect

    a, b = socket.socketpair()
    kq = kselect.kqueue()
    kq.control([kselect.kevent(a), kselect.kevent(b)], 0)
    fb = b.fileno()
    a.send(b"x")
    control = kq.control
    for _ in range(n):
        for ev in control(None, 8):
            s = b if ev.ident == fb else a
            s.recv(1)
            s.send(b"x")
    kq.close()
    a.close()
    b.close()


PAIRS = 64


def _pairs() -> list[tuple[socket.socket, socket.socket]]:
    pairs = [socket.socketpair() for _ in range(PAIRS)]
    for a, _ in pairs:
        a.send(b"x")  # one message in flight per pair: up to 64 events per wait
    return pairs


def _close(pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    for a, b in pairs:
        a.close()
        b.close()


def run_epoll_64(n: int) -> None:
    pairs = _pairs()
    ep = select.epoll()
    peer = {}
    for a, b in pairs:
        ep.register(a, select.EPOLLIN)
        ep.register(b, select.EPOLLIN)
        peer[a.fileno()], peer[b.fileno()] = a, b
    done = 0
    while done < n:
        for fd, _ in ep.poll():
            s = peer[fd]
            s.recv(1)
            s.send(b"x")
            done += 1
    ep.close()
    _close(pairs)


def run_kevents_64(n: int) -> None:
    pairs = _pairs()
    kq = kevents.Queue(counts=False)
    kq.control([KEvent(s.fileno(), Filter.READ, udata=s) for p in pairs for s in p], 0)
    control = kq.control
    done = 0
    while done < n:
        for ev in control(None, 128):
            s = ev.udata
            s.recv(1)
            s.send(b"x")
            done += 1
    kq.close()
    _close(pairs)


def run_compat_64(n: int) -> None:
    from kevents.compat import select as kselect

    pairs = _pairs()
    kq = kselect.kqueue()
    peer = {s.fileno(): s for p in pairs for s in p}
    kq.control([kselect.kevent(fd) for fd in peer], 0)
    control = kq.control
    done = 0
    while done < n:
        for ev in control(None, 128):
            s = peer[ev.ident]
            s.recv(1)
            s.send(b"x")
            done += 1
    kq.close()
    _close(pairs)


def main() -> dict[str, float]:
    rates = {
        "select.epoll": best_rate(run_epoll, N),
        "select.epoll + FIONREAD": best_rate(run_epoll_fionread, N),
        "selectors.DefaultSelector": best_rate(run_selectors, N),
        "kevents.Queue": best_rate(run_kevents, N),
        "kevents.Queue(counts=False)": best_rate(run_kevents_nocounts, N),
        "kevents.compat.select": best_rate(run_compat, N),
    }
    report(f"ping-pong over one socketpair ({N} hops)", rates, "select.epoll")
    rates64 = {
        "select.epoll": best_rate(run_epoll_64, N),
        "kevents.Queue(counts=False)": best_rate(run_kevents_64, N),
        "kevents.compat.select": best_rate(run_compat_64, N),
    }
    report(f"ping-pong over {PAIRS} socketpairs ({N} hops)", rates64, "select.epoll")
    print(
        f"  kevents / selectors: {rates['kevents.Queue'] / rates['selectors.DefaultSelector']:.2f}x"
    )
    return rates


if __name__ == "__main__":
    main()
