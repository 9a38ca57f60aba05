"""Instructions per ping-pong hop under valgrind's callgrind: deterministic, unlike the
wall-clock benchmarks on a shared machine (issue 13, deliver 7).

Each loop runs twice in its own ``valgrind --tool=callgrind`` process, with a short and
a long hop count; the difference of the two totals divided by the difference of the
counts is the cost of one hop alone (start-up, imports and set-up cancel out).
Run: .venv/bin/python tests/benchmarks/bench_callgrind.py (``make callgrind``).
Targets: Queue.control <= 1.0x select.epoll, compat.select <= 1.2x.
Valgrind comes from the distribution: ``.ci/install-valgrind.sh``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from _util import record

SHORT, LONG = 1_000, 4_000

QUEUE_LOOP = """
import kevents
kq = kevents.Queue({args})
kq.control([kevents.KEvent(a.fileno(), udata=a), kevents.KEvent(fb, udata=b)], 0)
control = kq.control
a.send(b"x")
for _ in range(n):
    for ev in control(None, 8):
        s = ev.udata
        s.recv(1)
        s.send(b"x")
"""

#: one hop loop per implementation; each runs `n` hops over one socketpair
LOOPS = {
    "select.epoll": """
import select
ep = select.epoll(); ep.register(a, select.EPOLLIN); ep.register(b, select.EPOLLIN)
poll = ep.poll
a.send(b"x")
for _ in range(n):
    for fd, _ in poll():
        s = b if fd == fb else a
        s.recv(1)
        s.send(b"x")
""",
    "selectors.DefaultSelector": """
import selectors
sel = selectors.DefaultSelector()
sel.register(a, selectors.EVENT_READ, a); sel.register(b, selectors.EVENT_READ, b)
a.send(b"x")
for _ in range(n):
    for key, _ in sel.select():
        s = key.data
        s.recv(1)
        s.send(b"x")
""",
    "kevents.Queue": QUEUE_LOOP.format(args=""),
    "kevents.Queue(counts=False)": QUEUE_LOOP.format(args="counts=False"),
    "kevents.compat.select": """
from kevents.compat import select as kselect
kq = kselect.kqueue()
kq.control([kselect.kevent(a), kselect.kevent(b)], 0)
control = kq.control
a.send(b"x")
for _ in range(n):
    for ev in control(None, 8):
        s = b if ev.ident == fb else a
        s.recv(1)
        s.send(b"x")
""",
}

PRELUDE = """
import socket, sys
n = int(sys.argv[1])
a, b = socket.socketpair()
fb = b.fileno()
"""


def instructions(body: str, n: int, env: dict[str, str]) -> int:
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            PRELUDE + body,
            str(n),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    m = re.search(r"Collected : (\d+)", proc.stderr)
    if m is None:
        raise RuntimeError(f"no callgrind total in: {proc.stderr[-500:]}")
    return int(m.group(1))


def per_hop(body: str, env: dict[str, str]) -> float:
    return (instructions(body, LONG, env) - instructions(body, SHORT, env)) / (LONG - SHORT)


def main() -> dict[str, float]:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: run .ci/install-valgrind.sh")
        return {}
    env = dict(os.environ, PYTHONHASHSEED="0")  # same dict layouts in every run
    results = {name: per_hop(body, env) for name, body in LOOPS.items()}
    nospeed = dict(env, KEVENTS_SPEEDUPS="0")
    results["kevents.Queue (KEVENTS_SPEEDUPS=0)"] = per_hop(LOOPS["kevents.Queue"], nospeed)
    base = results["select.epoll"]
    title = "instructions per ping-pong hop (callgrind, hop loop only)"
    print(f"\n{title}")
    for name, ins in results.items():
        print(f"  {name:36s} {ins:9,.0f}   {ins / base:5.2f}x select.epoll")
    record(title, results, "select.epoll", higher=False)
    return results


if __name__ == "__main__":
    main()
