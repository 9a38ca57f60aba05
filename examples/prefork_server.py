"""A prefork TCP server: N worker processes accept on one SO_REUSEPORT port, each with
its own kevents queue, under a kevents supervisor that restarts a worker that exits and
forwards SIGTERM and SIGHUP to the workers.

    python examples/prefork_server.py --workers 4 --port 8080   # serve until SIGTERM
    python examples/prefork_server.py                           # self-check, ~3 s

A kernel event queue belongs to one process, and one Python process runs Python code on
one core at a time. A server that outgrows a core therefore runs one process, and one
queue, per core: the kernel spreads new connections over the listening sockets of a
SO_REUSEPORT group (Linux; FreeBSD 12+ with SO_REUSEPORT_LB), so the workers share
nothing. The protocol is a minimal HTTP/1.1 with keep-alive; each request does
``--work`` rounds of hashing, standing for a handler's CPU time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import kevents
from kevents import Filter, Flag, KEvent, NoteProc

# Linux balances new connections over a SO_REUSEPORT group; FreeBSD only with
# SO_REUSEPORT_LB (0x10000): its plain SO_REUSEPORT, like macOS's, shares the port but
# not the load. Windows has neither (0: main() refuses to start).
if sys.platform.startswith("freebsd"):
    REUSEPORT = getattr(socket, "SO_REUSEPORT_LB", 0x10000)
else:
    REUSEPORT = getattr(socket, "SO_REUSEPORT", 0)


def port_socket(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    return s


# -- a worker: one process, one queue, one listening socket of the group ------------------


def respond(request: bytes, work: int) -> bytes:
    digest = hashlib.sha256(request)
    for _ in range(work):
        digest = hashlib.sha256(digest.digest())
    body = f"{os.getpid()} {digest.hexdigest()[:16]}\n".encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def serve(port: int, work: int, ready_fd: int) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the queue counts them instead
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the supervisor
    srv = port_socket(port)
    srv.listen(1024)
    srv.setblocking(False)
    conns: dict[int, tuple[socket.socket, bytearray]] = {}
    served = 0
    with kevents.Queue() as kq:
        kq.control(
            [
                KEvent(srv, Filter.READ),
                KEvent(signal.SIGTERM, Filter.SIGNAL),
                KEvent(signal.SIGHUP, Filter.SIGNAL),
            ],
            0,
        )
        os.write(ready_fd, b"!")  # tell the supervisor: signals are handled from now on
        os.close(ready_fd)
        while True:
            for ev in kq.control(None, 64):
                if ev.filter == Filter.SIGNAL and ev.ident == signal.SIGTERM:
                    for conn, _ in conns.values():  # a real server would finish replies
                        kq.close_fd(conn.detach())  # delete, then close
                    kq.close_fd(srv.detach())
                    print(f"worker {os.getpid()}: SIGTERM, served {served}", flush=True)
                    return 0
                if ev.filter == Filter.SIGNAL:
                    print(f"worker {os.getpid()}: SIGHUP, served {served}", flush=True)
                elif ev.ident == srv.fileno():
                    for _ in range(ev.data):  # data: connections waiting to be accepted
                        try:
                            conn, _ = srv.accept()
                        except BlockingIOError:
                            break
                        conn.setblocking(False)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        conns[conn.fileno()] = (conn, bytearray())
                        kq.control([KEvent(conn, Filter.READ)], 0)
                else:
                    conn, buf = conns[ev.ident]
                    try:
                        data = conn.recv(65536) if ev.data else b""
                        buf += data
                        while (end := buf.find(b"\r\n\r\n")) >= 0:
                            # small replies to a client that waits for each: the
                            # socket's buffer has room (a real server would use WRITE)
                            conn.sendall(respond(bytes(buf[:end]), work))
                            del buf[: end + 4]
                            served += 1
                    except ConnectionError:  # reset by the client
                        data = b""
                    if not data:  # EOF: the client is done
                        del conns[ev.ident]
                        kq.close_fd(conn.detach())


# -- the supervisor: starts the workers, restarts them, forwards signals -----------------


class Supervisor:
    """Worker processes kept running, each watched by a PROC knote; signals are
    forwarded to the workers that are *ready*. A worker starts with SIGTERM and SIGHUP
    at their default action (kevents' handler replaces SIG_IGN, so a child does not
    inherit it), and a signal forwarded before it has set up its queue would kill it:
    each worker says when it is ready through a pipe, a READ knote here."""

    def __init__(self, kq: kevents.Queue, port: int, workers: int, work: int) -> None:
        self.kq, self.port, self.work = kq, port, work
        self.children: dict[int, subprocess.Popen[bytes]] = {}  # pid -> worker
        self.pipes: dict[int, int] = {}  # pid -> read end of its readiness pipe
        self.ready: set[int] = set()
        self.slots = workers
        self.stopping = False

    def start(self) -> None:
        r, w = os.pipe()
        cmd = [sys.executable, __file__, "--worker", "--port", str(self.port)]
        child = subprocess.Popen(
            [*cmd, "--work", str(self.work), "--ready-fd", str(w)], pass_fds=(w,)
        )
        os.close(w)
        # A PROC knote on our own child's pid cannot race pid reuse: until we reap it,
        # the exited child (a zombie) keeps its pid. So PROC, portable to the BSDs.
        self.kq.control(
            [
                KEvent(child.pid, Filter.PROC, Flag.ADD, NoteProc.EXIT),
                KEvent(r, Filter.READ, udata=child.pid),
            ],
            0,
        )
        self.children[child.pid] = child
        self.pipes[child.pid] = r
        print(f"supervisor: started worker {child.pid}", flush=True)

    def is_ready(self, ev: KEvent) -> None:
        pid = ev.udata
        if pid not in self.pipes:  # it exited earlier in this batch of events
            return
        self.kq.close_fd(self.pipes.pop(pid))  # one byte, or EOF if it died first
        if ev.data:
            self.ready.add(pid)
            if self.stopping:  # SIGTERM came while it started
                os.kill(pid, signal.SIGTERM)

    def exited(self, ev: KEvent) -> None:
        child = self.children.pop(int(ev.ident))
        child.wait()  # kevents never reaps
        self.ready.discard(child.pid)
        if child.pid in self.pipes:
            self.kq.close_fd(self.pipes.pop(child.pid))
        code = os.waitstatus_to_exitcode(ev.data)
        print(f"supervisor: worker {child.pid} exited ({code})", flush=True)
        if not self.stopping:
            # one restart per exit; a one-shot timer would add back-off (supervisor.py)
            self.start()

    def forward(self, signum: int) -> None:
        for pid in self.ready:  # an unreaped child keeps its pid: no reuse race
            os.kill(pid, signum)

    def run(self) -> None:
        for _ in range(self.slots):
            self.start()
        while self.children:
            for ev in self.kq.control(None, 16):
                if ev.filter == Filter.PROC:
                    self.exited(ev)
                elif ev.filter == Filter.READ:
                    self.is_ready(ev)
                elif ev.ident == signal.SIGHUP:  # the other events are SIGNAL ones
                    print("supervisor: SIGHUP, forwarding", flush=True)
                    self.forward(signal.SIGHUP)
                elif not self.stopping:  # SIGTERM or SIGINT: stop the workers, then exit
                    print(f"supervisor: {signal.Signals(ev.ident).name}, stopping", flush=True)
                    self.stopping = True
                    self.forward(signal.SIGTERM)


def supervise(
    port: int, workers: int, work: int, ready: Callable[[int, Supervisor], None] | None = None
) -> int:
    stops = (signal.SIGTERM, signal.SIGINT)
    for sig in (signal.SIGHUP, *stops):
        signal.signal(sig, signal.SIG_IGN)
    # Hold the port (bound, not listening: it takes no connections) so that it stays
    # ours while workers restart, and so that port 0 can pick one for the group.
    with port_socket(port) as reserved, kevents.Queue() as kq:
        port = reserved.getsockname()[1]
        print(f"supervisor {os.getpid()}: {workers} workers on 127.0.0.1:{port}", flush=True)
        kq.control([KEvent(s, Filter.SIGNAL) for s in (signal.SIGHUP, *stops)], 0)
        sup = Supervisor(kq, port, workers, work)
        if ready is not None:
            ready(port, sup)
        sup.run()
    print("supervisor: all workers stopped", flush=True)
    return 0


# -- the self-check: a client thread drives a supervisor in this process ------------------


def ask(port: int) -> int:
    """One request on a new connection; the pid of the worker that answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reply = b""
        while not reply.endswith(b"\n") or b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                raise ConnectionError("the worker closed the connection")
            reply += chunk
    return int(reply.split(b"\r\n\r\n", 1)[1].split()[0])


def self_check() -> int:
    failures: list[str] = []

    def until(done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 10
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(0.02)

    def client(port: int, sup: Supervisor) -> None:
        try:
            until(lambda: len(sup.ready) == 2, "the workers did not start")
            pids = set()
            for _ in range(40):  # new connections: the kernel spreads them over workers
                pids.add(ask(port))
                if len(pids) == 2:
                    break
            print(f"client: answered by workers {sorted(pids)}", flush=True)
            if len(pids) != 2:
                failures.append(f"only {pids} answered 40 connections")
            pid = ask(port)
            os.kill(pid, signal.SIGKILL)  # a worker dies; the supervisor restarts it
            until(lambda: len(sup.ready) == 2 and pid not in sup.ready, "no replacement")
            ask(port)
            os.kill(os.getpid(), signal.SIGHUP)  # forwarded to the workers
            time.sleep(0.3)
        except Exception as exc:  # the supervisor must still stop; the check fails
            failures.append(repr(exc))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threads: list[threading.Thread] = []

    def ready(port: int, sup: Supervisor) -> None:
        threads.append(threading.Thread(target=client, args=(port, sup)))
        threads[0].start()

    supervise(0, 2, 1, ready)
    threads[0].join()
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--port", type=int)
    ap.add_argument("--work", type=int, default=100, help="hash rounds per request")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not REUSEPORT:
        ap.error(f"SO_REUSEPORT is not available on {sys.platform}")
    if args.worker:
        return serve(args.port, args.work, args.ready_fd)
    if args.port is None:
        return self_check()
    return supervise(args.port, args.workers, args.work)


if __name__ == "__main__":
    sys.exit(main())
