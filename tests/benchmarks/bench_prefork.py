"""The multi-core story in numbers (issue 18): requests/s of examples/prefork_server.py
with 1 and with 2 workers (one process and one kevents queue each, one SO_REUSEPORT
port), on loopback (127.0.0.1 only), in the same run. Not collected by pytest.

    python tests/benchmarks/bench_prefork.py [--seconds 1.5] [--requests 20000] [--work 100]

Load: 2 client processes x 16 keep-alive connections, each connection sending one
request at a time. Each run is bounded both ways: it ends after ``--seconds`` or after
``--requests`` replies, whichever comes first; the best of 3 runs is reported per
worker count, and every run is printed too. Each request costs the worker ``--work``
rounds of hashing (about 0.25 ms at 100 on the project's build machine), standing for a
handler's CPU time; with no work the Python clients, not the server, would be measured.
The ratio can only approach 2 on a machine with cores to spare for the clients too: the
number of usable cores is printed, and the load average, since on a machine busy with
other work the scheduler's share of the cores grows with the number of our processes.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

from _util import report

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prefork_server.py"
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
CLIENTS = 2
CONNECTIONS = 16


def client(port: int, seconds: float, limit: int) -> None:
    """One load process: CONNECTIONS keep-alive connections in lock-step; prints
    {"replies": n, "seconds": s}."""
    sel = selectors.DefaultSelector()
    bufs: dict[socket.socket, bytearray] = {}
    for _ in range(CONNECTIONS):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bufs[conn] = bytearray()
        sel.register(conn, selectors.EVENT_READ)
    replies = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    for conn in bufs:
        conn.sendall(REQUEST)
    while replies < limit and time.perf_counter() < end:
        for key, _ in sel.select(1.0):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            buf = bufs[conn]
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("a worker closed a connection")
            buf += data
            head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
            if not sep:
                continue
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                continue
            del buf[: len(head) + 4 + length]
            replies += 1
            conn.sendall(REQUEST)
    elapsed = time.perf_counter() - t0
    for conn in bufs:
        conn.close()
    print(json.dumps({"replies": replies, "seconds": elapsed}), flush=True)


def start_server(workers: int, work: int) -> tuple[subprocess.Popen[str], int]:
    args = ["--workers", str(workers), "--port", "0", "--work", str(work)]
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), *args], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    first = server.stdout.readline()  # "supervisor PID: N workers on 127.0.0.1:PORT"
    port = int(first.rsplit(":", 1)[1])
    # Ready when every worker has answered (each has its own socket in the group).
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(seen)} of {workers} workers answered")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(REQUEST)
                seen.add(conn.recv(4096).split(b"\r\n\r\n", 1)[1].split()[0].decode())
        except (ConnectionError, IndexError):
            time.sleep(0.05)
    return server, port


def stop_server(server: subprocess.Popen[str]) -> None:
    server.terminate()  # the supervisor forwards SIGTERM to the workers
    try:
        server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        raise


def load(port: int, args: argparse.Namespace) -> float:
    """One bounded run of CLIENTS load processes against ``port``: requests/s."""
    cmd = [sys.executable, __file__, "--client", str(port)]
    cmd += ["--seconds", str(args.seconds), "--requests", str(args.requests // CLIENTS)]
    loads = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(CLIENTS)]
    results = [json.loads(p.communicate(timeout=args.seconds + 30)[0]) for p in loads]
    if any(p.returncode for p in loads):
        raise RuntimeError("a client failed")
    return sum(r["replies"] for r in results) / max(r["seconds"] for r in results)


def measure(counts: tuple[int, ...], args: argparse.Namespace) -> dict[int, list[float]]:
    """Requests/s of 3 runs per worker count. Every server is up for the whole
    measurement and the runs alternate (1, 2, 1, 2...), so a change in the machine's
    load during the run does not favour one count."""
    servers = {n: start_server(n, args.work) for n in counts}
    try:
        runs: dict[int, list[float]] = {n: [] for n in counts}
        for _ in range(3):
            for n, (_, port) in servers.items():
                runs[n].append(load(port, args))
        return runs
    finally:
        for server, _ in servers.values():
            stop_server(server)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.5, help="upper bound per run")
    ap.add_argument("--requests", type=int, default=20000, help="upper bound per run")
    ap.add_argument("--work", type=int, default=100, help="hash rounds per request")
    ap.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client(args.client, args.seconds, args.requests)
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    runs = measure((1, 2), args)
    rates = {f"prefork, {n} worker(s)": max(rates) for n, rates in runs.items()}
    report(
        f"prefork server on 127.0.0.1, {CLIENTS}x{CONNECTIONS} keep-alive connections, "
        f"--work {args.work}, {cores} usable core(s)",
        rates,
        "prefork, 1 worker(s)",
    )
    for n, rates in runs.items():  # the spread says how far to trust the best
        print(f"  runs with {n} worker(s): " + ", ".join(f"{r:,.0f}" for r in rates))
    if hasattr(os, "getloadavg"):
        # On a busy machine the scheduler shares the cores between processes, so more
        # workers also means a larger share: a ratio above the core count says so.
        print(f"  (load average during the run: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
