"""EVFILT_SIGNAL (spec §5.8, C-81..C-91, D16, D17). Dispositions are process-global, so
every case runs in a fresh interpreter."""

from __future__ import annotations

from kevents._platforms import status
from kevents.testing import run_isolated

PRELUDE = """
import os, signal, threading, time
import kevents
from kevents import Filter, Flag, KEvent
kq = kevents.Queue(backend={backend!r})
def events(timeout=1.0):
    return kq.control(None, 16, timeout)
def kill(sig, n=1):
    for _ in range(n):
        os.kill(os.getpid(), sig)
"""


def run(backend: str, body: str) -> str:
    return run_isolated(
        PRELUDE.format(backend=backend) + body + "\nkq.close()\nprint('ok')\n"
    ).stdout


def test_ignored_signal_counted_once(backend: str) -> None:  # C-81
    siginfo = status("SIGNAL siginfo extra", backend)[0] != "unsupported"
    body = f"""
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1 and ev.flags & Flag.CLEAR, ev
assert events(0.1) == []
if {siginfo}:  # the sender's siginfo, where the platform gives it
    assert isinstance(ev.ext, kevents.SigInfo), ev
    assert ev.ext.pid == os.getpid() and ev.ext.code == 0, ev
else:
    assert ev.ext is None, ev
"""
    assert run(backend, body).endswith("ok\n")


def test_counts_and_realtime_signals(backend: str) -> None:  # C-82, C-83, D17
    run(
        backend,
        """
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
rt = signal.SIGRTMIN
signal.signal(rt, signal.SIG_IGN)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(rt, Filter.SIGNAL)], 0)
kill(signal.SIGUSR1, 3)
kill(rt, 5)
total = {}
for ev in events() + events(0.1):
    total[ev.ident] = total.get(ev.ident, 0) + ev.data
assert 1 <= total[signal.SIGUSR1] <= 3, total   # coalescing may lower it (documented)
assert total[rt] == 5, total
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
""",
    )


def test_keyboard_interrupt_still_raised(backend: str) -> None:
    run(
        backend,
        """
kq.control([KEvent(signal.SIGINT, Filter.SIGNAL)], 0)
try:
    threading.Timer(0.1, kill, (signal.SIGINT,)).start()
    time.sleep(2)
    raise AssertionError("no KeyboardInterrupt")
except KeyboardInterrupt:
    pass
(ev,) = events()
assert ev.ident == signal.SIGINT and ev.data == 1
""",
    )


def test_disable_keeps_counting_and_oneshot(backend: str) -> None:  # C-85, C-86
    run(
        backend,
        """
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD | Flag.DISABLE)], 0)
kill(signal.SIGUSR1)
assert events(0.1) == []
(ev,) = kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ENABLE)], 1, 1)
assert ev.data >= 1
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.DELETE)], 0)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD | Flag.ONESHOT)], 0)
kill(signal.SIGUSR1)
assert len(events()) == 1
kill(signal.SIGUSR1)
assert events(0.1) == []
try:
    kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.DELETE)], 0)
    raise AssertionError("still there")
except FileNotFoundError:
    pass
""",
    )


def test_two_queues_and_two_signals(backend: str) -> None:  # C-87, C-88
    run(
        backend,
        """
for s in (signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, signal.SIG_IGN)
kq2 = kevents.Queue(backend=kq.backend)
for q in (kq, kq2):
    q.control([KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(signal.SIGUSR2, Filter.SIGNAL)], 0)
kill(signal.SIGUSR1)
(a,) = events()
(b,) = kq2.control(None, 4, 1)
assert a.ident == b.ident == signal.SIGUSR1 and a.data == b.data == 1
kq2.close()
""",
    )


def test_before_registration_not_counted_thread_directed_counted(backend: str) -> None:
    run(
        backend,
        """  # C-89, C-90
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
kill(signal.SIGUSR1)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
assert events(0.1) == []
threading.Thread(target=lambda: None).start()  # other threads exist
signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1
""",
    )


def test_delete_restores_disposition(backend: str) -> None:  # C-91
    run(
        backend,
        """
handler = lambda *a: None
signal.signal(signal.SIGUSR1, handler)
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL), KEvent(signal.SIGUSR2, Filter.SIGNAL),
            KEvent(signal.SIGTERM, Filter.SIGNAL)], 0)
kq.control([KEvent(s, Filter.SIGNAL, Flag.DELETE) for s in (signal.SIGUSR1, signal.SIGUSR2)], 0)
kill(signal.SIGUSR2)
assert events(0.1) == []
assert signal.getsignal(signal.SIGUSR1) is handler
assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN
from kevents._ffi import lib
assert not lib.kev_sig_is_ours(signal.SIGUSR1) and not lib.kev_sig_is_ours(signal.SIGUSR2)
kq.close()   # closing the queue restores the rest
assert not lib.kev_sig_is_ours(signal.SIGTERM)
kq = kevents.Queue(backend=kq.backend)
""",
    )


def test_default_action_still_happens(backend: str) -> None:
    out = run_isolated(
        PRELUDE.format(backend=backend)
        + """
import subprocess, sys
code = '''
import os, signal, kevents
from kevents import KEvent, Filter
kq = kevents.Queue()
kq.control([KEvent(signal.SIGTERM, Filter.SIGNAL)], 0)
os.kill(os.getpid(), signal.SIGTERM)
import time; time.sleep(5)
'''
p = subprocess.run([sys.executable, "-c", code])
assert p.returncode == -signal.SIGTERM, p.returncode   # SIG_DFL still terminates
print("ok")
kq.close()
"""
    ).stdout
    assert out.strip().endswith("ok")


def test_sigchld_ignored_is_refused(backend: str) -> None:
    run(
        backend,
        """
import errno
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
(ev,) = kq.control([KEvent(signal.SIGCHLD, Filter.SIGNAL)], 1, 0)
assert ev.flags & Flag.ERROR and ev.data == errno.EPERM, ev
assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
""",
    )


def test_replaced_handler_is_reinstalled_by_add(backend: str) -> None:
    run(
        backend,
        """
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)
hits = []
signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))  # replaces kevents' handler
kq.control([KEvent(signal.SIGUSR1, Filter.SIGNAL)], 0)    # EV_ADD installs it again
kill(signal.SIGUSR1)
(ev,) = events()
assert ev.data == 1 and hits == [1]
""",
    )
