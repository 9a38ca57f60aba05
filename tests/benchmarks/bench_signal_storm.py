"""A 10,000-signal storm (issue 4, D16, D17): how many deliveries each mechanism reports.

Another process sends SIGUSR1 10,000 times as fast as it can, then SIGRTMIN 10,000
times, while this process counts them, one mechanism per run:

* kevents' SIGNAL filter (the counting, chaining C handler; the queue is read after the
  storm: the counter loses nothing while nobody reads it);
* a plain Python signal handler;
* ``signal.set_wakeup_fd`` (one byte per C-level delivery, as asyncio uses it);
* asyncio's ``loop.add_signal_handler`` (the same wakeup fd, read by the loop);
* signalfd with the signal blocked (the other Linux design, D16), read by a thread.

Standard signals coalesce in the kernel while one is pending, so every mechanism may
see fewer than were sent (BSD kqueue counts at generation and would report 10,000);
real-time signals are queued by the kernel and should all arrive. Then, for the choice
against signalfd: the cost of one delivery (a signal sent to self, handled, counted)
under each mechanism, and whether a signal sent to another thread (``pthread_kill``) is
seen. Not collected by pytest (``make bench`` runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import kevents
from kevents import Filter, KEvent

N = 10_000
SENDER = (
    "import os, sys\n"
    "pid, sig, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "kill = os.kill\n"
    "for _ in range(n):\n"
    "    kill(pid, sig)\n"
)
SIGINFO_SIZE = 128  # struct signalfd_siginfo

_libc = ctypes.CDLL(None, use_errno=True)


def _sigset(*sigs: int) -> ctypes.Array[ctypes.c_ulong]:
    """A kernel-layout sigset_t (glibc reserves 1024 bits; the kernel reads 64)."""
    mask = (ctypes.c_ulong * 16)()
    for s in sigs:
        mask[(s - 1) // 64] |= 1 << ((s - 1) % 64)
    return mask


def open_signalfd(sig: int) -> int:
    fd = int(_libc.signalfd(-1, _sigset(sig), os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "signalfd")
    return fd


def storm(sig: int) -> None:
    subprocess.run([sys.executable, "-c", SENDER, str(os.getpid()), str(sig), str(N)], check=True)
    time.sleep(0.2)  # let the last deliveries land


# -- counts seen in a storm -----------------------------------------------------------


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
    seen = 0
    stop = threading.Event()

    def reader() -> None:  # drain while the storm goes on, as an event loop would
        nonlocal seen
        while not stop.is_set():
            select.select([r], [], [], 0.05)
            with contextlib.suppress(BlockingIOError):
                seen += r.recv(65536).count(sig)

    t = threading.Thread(target=reader)
    t.start()
    storm(sig)
    stop.set()
    t.join()
    signal.set_wakeup_fd(old)
    signal.signal(sig, signal.SIG_IGN)
    r.close()
    w.close()
    return seen


def with_asyncio(sig: int) -> int:
    count = [0]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(sig, lambda: count.__setitem__(0, count[0] + 1))
        # asyncio's wakeup fd drops bytes when full; keep it from printing each drop
        signal.set_wakeup_fd(signal.set_wakeup_fd(-1), warn_on_full_buffer=False)
        await loop.run_in_executor(None, storm, sig)
        await asyncio.sleep(0.1)
        loop.remove_signal_handler(sig)

    asyncio.run(main())
    signal.signal(sig, signal.SIG_IGN)
    return count[0]


def with_signalfd(sig: int) -> int:
    # Blocked in this thread before the reader starts, so the reader inherits the mask;
    # the main thread waits in subprocess.run with it blocked too.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    fd = open_signalfd(sig)
    seen = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal seen
        while not stop.is_set():
            select.select([fd], [], [], 0.05)
            with contextlib.suppress(BlockingIOError):
                seen += len(os.read(fd, SIGINFO_SIZE * 256)) // SIGINFO_SIZE

    t = threading.Thread(target=reader)
    t.start()
    storm(sig)
    stop.set()
    t.join()
    os.close(fd)
    signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return seen


# -- cost of one delivery, and thread-directed signals ----------------------------------

M = 20_000
Setup = Callable[[int], tuple[Callable[[], None], Callable[[], int]]]


def _kill(sig: int) -> Callable[[], None]:
    pid = os.getpid()
    return lambda: os.kill(pid, sig)


def _per_signal(setup: Setup, sig: int) -> tuple[float, int]:
    """Best of 3: microseconds per signal sent to self and handled, and the count seen."""
    best, seen = float("inf"), 0
    for _ in range(3):
        send, done = setup(sig)
        t0 = time.perf_counter()
        for _ in range(M):
            send()
        seen = done()
        best = min(best, time.perf_counter() - t0)
    return best / M * 1e6, seen


def cost_ignored(sig: int) -> tuple[Callable[[], None], Callable[[], int]]:
    signal.signal(sig, signal.SIG_IGN)
    return _kill(sig), lambda: 0


def cost_kevents(sig: int) -> tuple[Callable[[], None], Callable[[], int]]:
    signal.signal(sig, signal.SIG_IGN)
    kq = kevents.Queue()
    kq.control([KEvent(sig, Filter.SIGNAL)], 0)

    def done() -> int:
        n = sum(ev.data for ev in kq.control(None, 16, 0))
        kq.close()
        return n

    return _kill(sig), done


def cost_handler(sig: int) -> tuple[Callable[[], None], Callable[[], int]]:
    count = [0]
    signal.signal(sig, lambda *a: count.__setitem__(0, count[0] + 1))

    def done() -> int:
        signal.signal(sig, signal.SIG_IGN)
        return count[0]

    return _kill(sig), done


def cost_kevents_and_handler(sig: int) -> tuple[Callable[[], None], Callable[[], int]]:
    count = [0]
    signal.signal(sig, lambda *a: count.__setitem__(0, count[0] + 1))
    kq = kevents.Queue()
    kq.control([KEvent(sig, Filter.SIGNAL)], 0)

    def done() -> int:
        n = sum(ev.data for ev in kq.control(None, 16, 0))
        kq.close()
        signal.signal(sig, signal.SIG_IGN)
        return n

    return _kill(sig), done


def cost_signalfd(sig: int) -> tuple[Callable[[], None], Callable[[], int]]:
    # Each signal is read at once (a blocked standard signal would coalesce otherwise,
    # and the loop would measure nothing): os.kill + one read per signal.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    fd = open_signalfd(sig)
    seen = [0]
    pid = os.getpid()

    def send() -> None:
        os.kill(pid, sig)
        seen[0] += len(os.read(fd, SIGINFO_SIZE)) // SIGINFO_SIZE

    def done() -> int:
        os.close(fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return seen[0]

    return send, done


def _pthread_kill_worker(sig: int, times: int) -> tuple[threading.Thread, threading.Event]:
    """Start a thread, send it ``sig`` ``times`` times; the caller sets the event."""
    gate, done = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: (gate.set(), done.wait()))
    worker.start()
    gate.wait()
    assert worker.ident is not None
    for _ in range(times):
        signal.pthread_kill(worker.ident, sig)
        time.sleep(0.002)
    return worker, done


def thread_directed() -> tuple[int, int]:
    """pthread_kill(worker, SIGUSR2) x 10: (kevents count, signalfd-in-main count)."""
    sig = signal.SIGUSR2
    signal.signal(sig, signal.SIG_IGN)
    with kevents.Queue() as kq:
        kq.control([KEvent(sig, Filter.SIGNAL)], 0)
        worker, done = _pthread_kill_worker(sig, 10)
        counted = sum(ev.data for ev in kq.control(None, 16, 0.5))
    done.set()
    worker.join()
    # signalfd: the worker blocks it too (created after the mask is set), main reads
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    fd = open_signalfd(sig)
    worker, done = _pthread_kill_worker(sig, 10)
    seen = 0
    with contextlib.suppress(BlockingIOError):
        seen = len(os.read(fd, SIGINFO_SIZE * 16)) // SIGINFO_SIZE
    done.set()
    worker.join()
    os.close(fd)
    signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return counted, seen


def main() -> None:
    for sig in (signal.SIGUSR1, signal.SIGRTMIN):
        name = "SIGRTMIN" if sig == signal.SIGRTMIN else signal.Signals(sig).name
        print(f"\n{N:,} x {name} from another process: deliveries reported")
        for label, fn in (
            ("kevents SIGNAL filter", with_kevents),
            ("Python signal handler", with_handler),
            ("signal.set_wakeup_fd", with_wakeup_fd),
            ("asyncio add_signal_handler", with_asyncio),
            ("signalfd (signal blocked)", with_signalfd),
        ):
            print(f"  {label:32s} {fn(sig):6d}", flush=True)

    sig = signal.SIGUSR1
    print(f"\nCost of one SIGUSR1 sent to self and handled ({M:,} in a loop, best of 3)")
    for label, setup in (
        ("ignored (baseline: os.kill only)", cost_ignored),
        ("kevents SIGNAL filter", cost_kevents),
        ("Python signal handler", cost_handler),
        ("kevents + Python handler", cost_kevents_and_handler),
        ("signalfd (kill + read)", cost_signalfd),
    ):
        us, seen = _per_signal(setup, sig)
        print(f"  {label:34s} {us:6.2f} us   counted {seen}")

    counted, seen = thread_directed()
    print("\n10 x pthread_kill(other thread, SIGUSR2)")
    print(f"  {'kevents SIGNAL filter':32s} {counted:6d}")
    print(f"  {'signalfd read in the main thread':32s} {seen:6d}")


if __name__ == "__main__":
    main()
