"""EVFILT_SIGNAL (spec §5.8, C-81..C-91, D16, D17). Dispositions and masks are
process-global, so every case runs in a fresh interpreter; differences from FreeBSD are
read from the platform table, never assumed."""

from __future__ import annotations

import sys

import pytest

from kevents._platforms import status
from kevents.testing import run_isolated

# Every case here sends POSIX signals (os.kill to self, SIGUSR1, sigmask, real-time
# signals): Windows has none of them; its console-event SIGNAL filter is tested in
# tests/backends/test_windows.py (table row "SIGNAL numbers").
pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals; Windows: tests/backends/test_windows.py"
)

PRELUDE = """
import errno, os, signal, subprocess, sys, threading, time
import kevents
from kevents import Filter, Flag, KEvent
kq = kevents.Queue(backend={backend!r})
def events(timeout=1.0):
    return kq.control(None, 16, timeout)
def total(timeout=1.0):
    got = {{}}
    evs = events(timeout)
    while evs:
        for ev in evs:
            got[ev.ident] = got.get(ev.ident, 0) + ev.data
        evs = events(0.1)
    return got
def kill(sig, n=1):
    for _ in range(n):
        os.kill(os.getpid(), sig)
def ignore(*sigs):
    for s in sigs:
        signal.signal(s, signal.SIG_IGN)
"""


def run(backend: str, body: str) -> str:
    out = run_isolated(
        PRELUDE.format(backend=backend) + body + "\nkq.close()\nprint('ok')\n"
    ).stdout
    assert out.endswith("ok\n"), out
    return out


def differs(feature: str, backend: str) -> bool:
    return status(feature, backend)[0] != "yes"


def test_ignored_signal_counted_once(backend: str) -> None:  # C-81
    siginfo = status("SIGNAL siginfo extra", backend)[0] != "unsupported"
    run(
        backend,
        f"""
ignore(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.ident == signal.SIGUSR1 and ev.filter == Filter.SIGNAL, ev
assert ev.data == 1 and ev.flags & Flag.CLEAR, ev
assert events(0.1) == []
if {siginfo}:  # the sender's siginfo, where the platform gives it
    assert isinstance(ev.ext, kevents.SigInfo), ev
    assert ev.ext.pid == os.getpid() and ev.ext.uid == os.getuid() and ev.ext.code == 0, ev
else:
    assert ev.ext is None, ev
""",
    )


def test_counts_and_realtime_signals(backend: str) -> None:  # C-82, C-83, D17
    run(
        backend,
        """
rt = signal.SIGRTMIN
ignore(signal.SIGUSR1, rt)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(rt, Filter.SIGNAL)], 0)
kill(signal.SIGUSR1, 3)
kill(rt, 5)
got = total()
assert 1 <= got[signal.SIGUSR1] <= 3, got   # coalescing may lower it (D17, documented)
assert got[rt] == 5, got
""",
    )


def test_blocked_burst(backend: str) -> None:  # D17: BSD counts generations, Linux deliveries
    expected = 1 if differs("SIGNAL counts", backend) else 3
    run(
        backend,
        f"""
ignore(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
kill(signal.SIGUSR1, 3)        # blocked: the kernel keeps one pending standard signal
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
got = total()
assert got == {{signal.SIGUSR1: {expected}}}, got
""",
    )


def test_python_handler_still_runs(backend: str) -> None:  # C-84, D16
    run(
        backend,
        """
hits = []
signal.signal(signal.SIGUSR2, lambda *a: hits.append(1))
kq.control([KEvent(signal.SIGUSR2, Filter.SIGNAL)], 0)
kill(signal.SIGUSR2)
(ev,) = events()
assert hits == [1] and ev.data == 1, (hits, ev)
assert signal.getsignal(signal.SIGUSR2) is not signal.SIG_IGN
""",
    )


def test_keyboard_interrupt_still_raised(backend: str) -> None:  # D16
    run(
        backend,
        """
# Python raises KeyboardInterrupt only where it installed its SIGINT handler, which it
# does not when started with SIGINT ignored (a background job, CI): install it here.
signal.signal(signal.SIGINT, signal.default_int_handler)
kq.control([KEvent(signal.SIGINT, Filter.SIGNAL)], 0)
main = threading.main_thread().ident
threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGINT)).start()
try:
    time.sleep(30)   # interrupted: the default SIGINT handler raises at once
    raise AssertionError("no KeyboardInterrupt")
except KeyboardInterrupt:
    pass
(ev,) = events()
assert ev.ident == signal.SIGINT and ev.data == 1, ev
""",
    )


def test_disable_keeps_counting_and_oneshot(backend: str) -> None:  # C-85, C-86
    run(
        backend,
        """
ignore(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD | Flag.DISABLE)], 0)
kill(signal.SIGUSR1, 2)     # unblocked, sent to self: each is delivered before kill returns
assert events(0.1) == []
(ev,) = kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ENABLE)], 1, 1)
assert ev.data == 2, ev
assert events(0.1) == []
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.DELETE)], 0)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD | Flag.ONESHOT)], 0)
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1 and ev.flags & Flag.ONESHOT, ev
kill(signal.SIGUSR1)
assert events(0.1) == []
try:
    kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.DELETE)], 0)
    raise AssertionError("still there")
except FileNotFoundError:
    pass
""",
    )


def test_dispatch_and_readd(backend: str) -> None:
    run(
        backend,
        """
ignore(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD | Flag.DISPATCH, udata=1)], 0)
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1 and ev.udata == 1, ev
kill(signal.SIGUSR1, 2)     # disabled by DISPATCH: still counted
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD, udata=2)], 0)  # ADD: no enable
assert events(0.1) == []
(ev,) = kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ENABLE, udata=3)], 1, 1)
assert ev.data == 2 and ev.udata == 3, ev
""",
    )


def test_two_queues_and_two_signals(backend: str) -> None:  # C-87, C-88
    run(
        backend,
        """
ignore(signal.SIGUSR1, signal.SIGUSR2)
kq2 = kevents.Queue(backend=kq.backend)
both = [KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(signal.SIGUSR2, Filter.SIGNAL)]
for q in (kq, kq2):
    q.control(both, 0)
kill(signal.SIGUSR1)
(a,) = events()
(b,) = kq2.control(None, 4, 1)
assert a.ident == b.ident == signal.SIGUSR1 and a.data == b.data == 1, (a, b)
kill(signal.SIGUSR2)
(a,) = events()
(b,) = kq2.control(None, 4, 1)
assert a.ident == b.ident == signal.SIGUSR2 and a.data == b.data == 1, (a, b)
kq2.close()
kill(signal.SIGUSR1)        # the first queue still counts after the second one closed
(a,) = events()
assert a.ident == signal.SIGUSR1 and a.data == 1, a
""",
    )


def test_sent_before_registration_not_counted(backend: str) -> None:  # C-89
    run(
        backend,
        """
ignore(signal.SIGUSR1)
kill(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
assert events(0.1) == []
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1, ev
""",
    )


def test_pending_at_registration(backend: str) -> None:  # C-89 with the signal blocked
    expected = 1 if differs("SIGNAL pending at registration", backend) else 0
    run(
        backend,
        f"""
ignore(signal.SIGUSR1)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
kill(signal.SIGUSR1)                       # pending (blocked) before the knote exists
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
assert total(0.2).get(signal.SIGUSR1, 0) == {expected}
""",
    )


def test_thread_directed_signals_counted(backend: str) -> None:  # C-90
    to_worker = 0 if sys.platform == "darwin" else 1  # macOS counts process-directed only
    run(
        backend,
        f"""
ignore(signal.SIGUSR1)
stop = threading.Event()
worker = threading.Thread(target=stop.wait)
worker.start()                                  # a thread that existed before the ADD
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1, ev
signal.pthread_kill(worker.ident, signal.SIGUSR1)   # handled in the worker thread
assert total(0.5).get(signal.SIGUSR1, 0) == {to_worker}
stop.set()
worker.join()
""",
    )


def test_threads_existing_before_registration(backend: str) -> None:
    run(
        backend,
        """
# Threads started first; then the main thread blocks the signal, so the kernel must
# deliver a process-directed one (from another process) to one of the workers.
ignore(signal.SIGUSR1)
stop = threading.Event()
workers = [threading.Thread(target=stop.wait) for _ in range(3)]
for t in workers:
    t.start()
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
subprocess.run([sys.executable, "-c", f"import os; os.kill({os.getpid()}, {int(signal.SIGUSR1)})"],
               check=True)
(ev,) = events(5)
assert ev.ident == signal.SIGUSR1 and ev.data == 1, ev
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
stop.set()
for t in workers:
    t.join()
""",
    )


def test_siginfo_of_another_process(backend: str) -> None:
    if status("SIGNAL siginfo extra", backend)[0] == "unsupported":
        return  # documented: no siginfo there (C-81 checks ev.ext is None)
    run(
        backend,
        """
ignore(signal.SIGUSR2)
kq.control([KEvent(signal.SIGUSR2, Filter.SIGNAL)], 0)
p = subprocess.Popen([sys.executable, "-c",
                      f"import os; os.kill({os.getpid()}, {int(signal.SIGUSR2)})"])
(ev,) = events(5)
p.wait()
assert ev.ext == kevents.SigInfo(pid=p.pid, uid=os.getuid(), code=0), (ev, p.pid)
signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR2)
(ev,) = events()
assert ev.ext.pid == os.getpid() and ev.ext.code == -6, ev   # SI_TKILL
""",
    )


def test_delete_restores_disposition(backend: str) -> None:  # C-91
    run(
        backend,
        """
handler = lambda *a: None
signal.signal(signal.SIGUSR1, handler)
ignore(signal.SIGUSR2)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(signal.SIGUSR2, Filter.SIGNAL),
            KEvent(signal.SIGTERM, Filter.SIGNAL)], 0)
assert signal.getsignal(signal.SIGUSR1) is handler        # never changed, even meanwhile
kq.control([KEvent(s, Filter.SIGNAL, Flag.DELETE) for s in (signal.SIGUSR1, signal.SIGUSR2)], 0)
kill(signal.SIGUSR2)
assert events(0.1) == []
assert signal.getsignal(signal.SIGUSR1) is handler
assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN
assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
""",
    )


def test_default_action_still_happens(backend: str) -> None:  # D16
    run(
        backend,
        f"""
code = '''
import os, signal, time, kevents
from kevents import KEvent, Filter
kq = kevents.Queue(backend={backend!r})
kq.control([KEvent(signal.SIGTERM, Filter.SIGNAL)], 0)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(30)
'''
p = subprocess.run([sys.executable, "-c", code], timeout=20)
assert p.returncode == -signal.SIGTERM, p.returncode   # SIG_DFL still terminates
""",
    )


def test_sigchld_ignored(backend: str) -> None:  # D16: never take over auto-reaping
    refused = differs("SIGNAL SIGCHLD ignored", backend)
    run(
        backend,
        f"""
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
got = kq.control([KEvent(signal.SIGCHLD, Filter.SIGNAL)], 1, 0)
if {refused}:
    (ev,) = got
    assert ev.flags & Flag.ERROR and ev.data == errno.EPERM, ev
else:
    assert got == [], got    # BSD: accepted, and an ignored SIGCHLD is never counted
assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
subprocess.run(["true"])   # auto-reaping still on
""",
    )


def test_replaced_handler_is_reinstalled_by_add(backend: str) -> None:  # D16
    run(
        backend,
        """
ignore(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
hits = []
signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))  # may replace kevents' handler
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)    # EV_ADD puts it back on top
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1 and hits == [1], (ev, hits)
""",
    )


def test_signal_numbers(backend: str) -> None:
    refused = differs("SIGNAL ident check", backend)
    run(
        backend,
        f"""
bad = [0, signal.SIGKILL, signal.SIGSTOP, 200]
got = kq.control([KEvent(s, Filter.SIGNAL) for s in bad], 8, 0)
if {refused}:
    assert [(ev.ident, ev.data) for ev in got] == [(s, errno.EINVAL) for s in bad], got
else:
    assert got == [], got     # BSD registers any number; it never fires
""",
    )
