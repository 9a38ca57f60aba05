"""A 10,000-ADD change list (issues 2 and 6): kevents applies it in one control() call,
with io_uring (batched EPOLL_CTL) and without; the stdlib baselines register one
fd at a time. Wall time in the same run, and system calls counted with strace (the
difference between a run with the change list and one without).
Targets (issue 13): <= 10 system calls with io_uring; the change list's wall time
<= 1.0x the register loop's with io_uring, <= 1.3x without. The wall time is also
given with each queue's creation and close, where the kernel's teardown of 10,000
registrations is most of it."""

from __future__ import annotations

import select
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from _util import report

import kevents
from kevents import Filter, KEvent

N = 10_000

SCRIPT = """
import os, socket, sys, kevents, select
from kevents import KEvent, Filter
socks = [s for _ in range({half}) for s in socket.socketpair()]
mode = sys.argv[1]
if mode.startswith("kevents"):
    kq = kevents.Queue(io_uring=mode == "kevents-io_uring")
    changes = [KEvent(s.fileno(), Filter.READ) for s in socks]
    warm = [s for _ in range(4) for s in socket.socketpair()]
    kq.control([KEvent(s.fileno(), Filter.READ) for s in warm], 0)  # probe, ring, imports
    if sys.argv[2] == "run":
        kq.control(changes, 0)
else:
    ep = select.epoll()
    fds = [s.fileno() for s in socks]
    if sys.argv[2] == "run":
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
os._exit(0)  # count the change list, not the teardown
"""


_MEMORY = {"brk", "mmap", "munmap", "mremap", "madvise", "mprotect"}


def _calls(text: str) -> dict[str, int]:
    calls = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            calls[parts[-1]] = int(parts[3])
    return calls


def count_syscalls(mode: str) -> tuple[int, int] | None:
    """System calls made by the change list: (all, all but the allocator's memory
    management), as the difference of a run with it and one without."""
    if shutil.which("strace") is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        script = f"{d}/s.py"
        with open(script, "w") as f:
            f.write(SCRIPT.format(half=N // 2))
        runs = []
        for what in ("setup", "run"):
            out = f"{d}/{what}.txt"
            subprocess.run(
                ["strace", "-f", "-c", "-o", out, sys.executable, script, mode, what],
                check=True,
                capture_output=True,
            )
            with open(out) as f:
                runs.append(_calls(f.read()))
        diff = {k: runs[1].get(k, 0) - runs[0].get(k, 0) for k in runs[0].keys() | runs[1].keys()}
        return sum(diff.values()), sum(v for k, v in diff.items() if k not in _MEMORY)


def timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best of 5 of fn(), which returns (the changes alone, the whole run with the
    queue's creation and close)."""
    best = (float("inf"), float("inf"))
    for _ in range(5):
        t0 = time.perf_counter()
        alone = fn()
        whole = time.perf_counter() - t0
        best = (min(best[0], alone), min(best[1], whole))
    return best


def main() -> None:
    socks = [s for _ in range(N // 2) for s in socket.socketpair()]
    fds = [s.fileno() for s in socks]
    changes = [KEvent(fd, Filter.READ) for fd in fds]

    def kevents_run(io_uring: bool):  # type: ignore[no-untyped-def]
        def run() -> float:
            with kevents.Queue(io_uring=io_uring) as kq:
                t0 = time.perf_counter()
                kq.control(changes, 0)
                return time.perf_counter() - t0

        return run

    def run_epoll() -> float:
        ep = select.epoll()
        t0 = time.perf_counter()
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
        alone = time.perf_counter() - t0
        ep.close()
        return alone

    def run_selectors() -> float:
        sel = selectors.DefaultSelector()
        t0 = time.perf_counter()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        alone = time.perf_counter() - t0
        sel.close()
        return alone

    times = {
        "select.epoll.register loop": timed(run_epoll),
        "selectors.register loop": timed(run_selectors),
        "kevents, one change list": timed(kevents_run(False)),
    }
    uring = kevents.backend_info(io_uring=None).filter(Filter.READ).why
    if "io_uring" in uring and "batched" in uring:
        times["kevents + io_uring, one change list"] = timed(kevents_run(True))
    report(
        f"{N}-ADD change list (adds/s)",
        {k: N / v[0] for k, v in times.items()},
        "select.epoll.register loop",
    )
    base = times["select.epoll.register loop"]
    print("  wall time (the changes alone; with the queue's creation and close)")
    for name, (alone, whole) in times.items():
        print(
            f"  {name:36s} {alone * 1e3:7.1f} ms {alone / base[0]:5.2f}x stdlib;"
            f" {whole * 1e3:7.1f} ms {whole / base[1]:5.2f}x"
        )
    for mode, label in (
        ("epoll", "select.epoll.register loop"),
        ("kevents", "kevents"),
        ("kevents-io_uring", "kevents + io_uring"),
    ):
        n = count_syscalls(mode)
        if n is None:
            print("  system calls: strace missing")
        else:
            print(f"  system calls {label:34s} {n[1]:6d} (+{n[0] - n[1]} allocator mmap/brk)")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
