"""Wakeup cost with 10 vs 10,000 idle registrations (issue 2): one socketpair ping-pongs
while N other sockets are registered for READ and never ready. The cost must stay flat
(target: <= 1.1x from 10 to 10,000), as for select.epoll; selectors is shown too."""

from __future__ import annotations

import select
import selectors
import socket

from _util import best_rate, report

import kevents
from kevents import Filter, KEvent

N = 10_000


def idle_sockets(n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n // 2):
        socks.extend(socket.socketpair())
    return socks


def pingpong(wait, a: socket.socket, b: socket.socket):  # type: ignore[no-untyped-def]
    """A ping-pong loop over ``wait()``, which returns the ready sockets."""

    def run(n: int) -> None:
        a.send(b"x")
        for _ in range(n):
            for s in wait():
                s.recv(1)
                s.send(b"x")
        for s in wait():  # drain the ball still in flight
            s.recv(1)

    return run


def kevents_setup(idle: list[socket.socket], a: socket.socket, b: socket.socket):  # type: ignore[no-untyped-def]
    kq = kevents.Queue()
    kq.control([KEvent(s.fileno(), Filter.READ) for s in idle], 0)
    kq.control(
        [KEvent(a.fileno(), Filter.READ, udata=a), KEvent(b.fileno(), Filter.READ, udata=b)], 0
    )
    return (lambda: [ev.udata for ev in kq.control(None, 8)]), kq.close


def epoll_setup(idle: list[socket.socket], a: socket.socket, b: socket.socket):  # type: ignore[no-untyped-def]
    ep = select.epoll()
    for s in idle:
        ep.register(s, select.EPOLLIN)
    socks = {a.fileno(): a, b.fileno(): b}
    for s in (a, b):
        ep.register(s, select.EPOLLIN)
    return (lambda: [socks[fd] for fd, _ in ep.poll()]), ep.close


def selectors_setup(idle: list[socket.socket], a: socket.socket, b: socket.socket):  # type: ignore[no-untyped-def]
    sel = selectors.DefaultSelector()
    for s in idle:
        sel.register(s, selectors.EVENT_READ)
    for s in (a, b):
        sel.register(s, selectors.EVENT_READ, s)
    return (lambda: [key.data for key, _ in sel.select()]), sel.close


def main() -> None:
    results = {}
    for count in (10, 10_000):
        idle = idle_sockets(count)
        rates = {}
        for name, setup in (
            ("select.epoll", epoll_setup),
            ("selectors", selectors_setup),
            ("kevents", kevents_setup),
        ):
            a, b = socket.socketpair()
            wait, close = setup(idle, a, b)
            rates[f"{name}, {count} idle"] = best_rate(pingpong(wait, a, b), N, 3)
            close()
            a.close()
            b.close()
        report(f"wakeups with {count} idle registrations", rates, f"select.epoll, {count} idle")
        results[count] = rates[f"kevents, {count} idle"]
        for s in idle:
            s.close()
    flat = results[10] / results[10_000]
    print(f"  kevents cost 10 -> 10,000 idle: {flat:.2f}x (target <= 1.1x)")


if __name__ == "__main__":
    main()
