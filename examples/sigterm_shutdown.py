"""A TCP echo server that shuts down cleanly on SIGTERM: sockets and signals in one
kevents loop, no signal handler juggling.

    python examples/sigterm_shutdown.py [--serve]

By default it serves one client of its own, then sends itself SIGTERM and exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

import kevents
from kevents import Filter, Flag, KEvent


def main() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the queue counts it; nothing dies
    srv = socket.create_server(("127.0.0.1", 0))
    srv.setblocking(False)
    port = srv.getsockname()[1]
    print(f"echo server on port {port}; SIGTERM stops it")
    if "--serve" not in sys.argv:

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"hello")
                print("client got", c.recv(100))
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=client).start()
    conns: dict[int, socket.socket] = {}
    with kevents.Queue() as kq:
        kq.control([KEvent(srv, Filter.READ), KEvent(signal.SIGTERM, Filter.SIGNAL)], 0)
        running = True
        while running:
            for ev in kq.control(None, 16, None):
                if ev.filter == Filter.SIGNAL:
                    print(f"SIGTERM x{ev.data}: closing {len(conns)} connection(s)")
                    running = False
                elif ev.ident == srv.fileno():
                    conn, _ = srv.accept()
                    conns[conn.fileno()] = conn
                    kq.control([KEvent(conn, Filter.READ)], 0)
                else:
                    conn = conns[ev.ident]
                    data = conn.recv(4096) if ev.data else b""
                    if data:
                        conn.sendall(data)
                    if ev.flags & Flag.EOF and not data:
                        kq.close_fd(conns.pop(ev.ident).detach())
        for conn in conns.values():
            conn.close()
    srv.close()
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
