"""Run code written for BSD's ``select.kqueue`` unchanged, on any OS, through
``kevents.compat.select``.

    python examples/port_select_kqueue.py

``bsd_echo_once`` below is BSD-only code as found in the wild: it imports ``select``
and uses ``select.kqueue``/``select.kevent``/``KQ_*``. There are two ways to run it:

1. change one import: ``from kevents.compat import select``;
2. change nothing in the module: call ``kevents.compat.select.install()`` once at start
   (it adds kqueue, kevent and the KQ_* constants to the standard ``select`` module),
   which also makes ``selectors.KqueueSelector`` exist, as the last part shows.
"""

from __future__ import annotations

import socket
import sys
from typing import Any


def bsd_echo_once(select: Any, server: socket.socket) -> bytes:
    """BSD code: wait for a connection and one message with a kqueue, echo it back.
    (``select`` is a parameter only so that this file can run it both ways.)"""
    kq = select.kqueue()
    try:
        kq.control([select.kevent(server, select.KQ_FILTER_READ, select.KQ_EV_ADD)], 0)
        (ev,) = kq.control(None, 1, 5)
        conn, _ = server.accept()
        with conn:
            kq.control([select.kevent(conn, select.KQ_FILTER_READ, select.KQ_EV_ADD)], 0)
            (ev,) = kq.control(None, 1, 5)
            data = conn.recv(ev.data)  # data: bytes readable, as on BSD
            conn.sendall(data)
            return bytes(data)
    finally:
        kq.close()


def round_trip(select: Any) -> bytes:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        with client:
            client.sendall(b"hello, kqueue")
            got = bsd_echo_once(select, server)
            assert client.recv(100) == got
    return got


def main() -> int:
    # 1. one import changed
    from kevents.compat import select as kselect

    print("compat module:", round_trip(kselect))

    # 2. nothing changed: the standard module gains kqueue where the OS lacks it
    import select

    import kevents.compat.select

    kevents.compat.select.install()
    print("installed into select:", round_trip(select))

    import selectors  # imported after install(): defines KqueueSelector here too

    a, b = socket.socketpair()
    with selectors.KqueueSelector() as sel, a, b:
        sel.register(b, selectors.EVENT_READ, data="b is readable")
        a.send(b"x")
        print("selectors.KqueueSelector:", [key.data for key, _ in sel.select(5)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
