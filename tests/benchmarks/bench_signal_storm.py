"""A 10,000-signal storm (issue 4): how many deliveries each mechanism reports.

SIGUSR1 is sent 10,000 times by a helper process while this process counts it with
kevents' SIGNAL filter, a plain Python handler, and ``signal.set_wakeup_fd`` (what
asyncio uses), each in its own run; and SIGRTMIN (a real-time signal, queued by the
kernel) the same way. Standard signals coalesce in the kernel while one is pending, so
every mechanism may see fewer than were sent; real-time signals should all arrive.
Mechanism costs are compared as counts, not times. Not collected by pytest."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import kevents
from kevents import Filter, KEvent

N = 10_000
SENDER = (
    "import os, sys, signal\n"
    "pid, sig, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "for _ in range(n):\n"
    "    os.kill(pid, sig)\n"
)


def storm(sig: int) -> None:
    subprocess.run([sys.executable, "-c", SENDER, str(os.getpid()), str(sig), str(N)], check=True)
    time.sleep(0.2)  # let the last deliveries land


def with_kevents(sig: int) -> int:
    signal.signal(sig, signal.SIG_IGN)
    with kevents.Queue() as kq:
        kq.control([KEvent(sig, Filter.SIGNAL)], 0)
        storm(sig)
        return sum(ev.data for ev in kq.control(None, 16, 0.5))


def with_handler(sig: int) -> int:
    count = [0]
    signal.signal(sig, lambda *a: count.__setitem__(0, count[0] + 1))
    storm(sig)
    signal.signal(sig, signal.SIG_IGN)
    return count[0]


def with_wakeup_fd(sig: int) -> int:
    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    signal.signal(sig, lambda *a: None)
    old = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    storm(sig)
    signal.set_wakeup_fd(old)
    signal.signal(sig, signal.SIG_IGN)
    seen = 0
    try:
        while True:
            seen += sum(1 for b in r.recv(65536) if b == sig)
    except BlockingIOError:
        pass
    r.close()
    w.close()
    return seen


def main() -> None:
    for sig in (signal.SIGUSR1, signal.SIGRTMIN):
        name = signal.Signals(sig).name if sig != signal.SIGRTMIN else "SIGRTMIN"
        print(f"\n{N} x {name} from another process: deliveries reported")
        for label, fn in (
            ("kevents SIGNAL filter", with_kevents),
            ("Python signal handler", with_handler),
            ("signal.set_wakeup_fd (asyncio)", with_wakeup_fd),
        ):
            print(f"  {label:32s} {fn(sig):6d}")


if __name__ == "__main__":
    main()
