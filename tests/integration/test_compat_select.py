"""kevents.compat.select: CPython's own kqueue and KqueueSelector tests, and our cases
for the stdlib surface (spec §4.16, C-21..C-24)."""

from __future__ import annotations

import errno
import os
import pathlib
import re
import socket
import subprocess
import sys
import types

import pytest

from kevents.compat import select as ks
from kevents.testing import run_isolated

HERE = pathlib.Path(__file__).parent


def test_cpython_kqueue_and_kqueueselector_suites() -> None:
    import importlib.util

    if (
        importlib.util.find_spec("test") is None
        or importlib.util.find_spec("test.test_kqueue") is None
    ):
        pytest.skip("this CPython ships without its test package (the Windows embeddable one)")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_run_cpython_kqueue_tests.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"RESULT ran=\d+ failures=0 errors=0", proc.stdout), proc.stdout
    for line in proc.stdout.splitlines():
        if line.startswith("SKIPPED"):
            # CPython skips its mock-based modify test for every selector but
            # epoll/poll/devpoll, on BSD too (skipTest("")); nothing else may skip
            assert "test_modify_unregister" in line, line


def test_constants_are_freebsds() -> None:
    assert (ks.KQ_FILTER_READ, ks.KQ_FILTER_WRITE, ks.KQ_FILTER_TIMER, ks.KQ_FILTER_USER) == (
        -1,
        -2,
        -7,
        -11,
    )
    assert (ks.KQ_EV_ADD, ks.KQ_EV_ONESHOT, ks.KQ_EV_ERROR, ks.KQ_EV_EOF) == (
        1,
        0x10,
        0x4000,
        0x8000,
    )
    assert ks.KQ_NOTE_EXIT == 0x80000000 and ks.KQ_NOTE_USECONDS == 4
    assert ks.error is OSError


def test_kevent_conversions() -> None:
    r, w = os.pipe()
    try:
        with open(r, closefd=False) as f:
            assert ks.kevent(f).ident == r
        assert ks.kevent(0, 1, 0x1_0001).flags == 1  # unsigned short wraps (bpo-11973)
        assert ks.kevent(0, 1, 0, 0x1_0000_0002).fflags == 2
        with pytest.raises(OverflowError):
            ks.kevent(0, 0x8000)
        # kevent(-1): OverflowError before 3.14, ValueError after (test_compat_exact.py)
        with pytest.raises(OverflowError if sys.version_info < (3, 14) else ValueError):
            ks.kevent(-1)
        with pytest.raises(TypeError):
            hash(ks.kevent(1))
        assert "ident=1" in repr(ks.kevent(1))
    finally:
        os.close(r)
        os.close(w)


def test_fromfd_aliases_the_same_queue() -> None:  # C-22
    kq = ks.kqueue()
    kq2 = ks.kqueue.fromfd(kq.fileno())
    a, b = socket.socketpair()
    with a, b:
        kq2.control([ks.kevent(b, ks.KQ_FILTER_READ)], 0)
        a.send(b"x")
        (ev,) = kq.control(None, 1, 1)
        assert (ev.ident, ev.filter, ev.data) == (b.fileno(), ks.KQ_FILTER_READ, 1)
    kq.close()
    # as CPython: the second object still holds the (now dead) descriptor number
    assert not kq2.closed
    with pytest.raises(OSError) as info:
        kq2.control(None, 1, 0)
    assert info.value.errno == errno.EBADF
    if sys.version_info >= (3, 15):  # gh-146205: closing a dead descriptor says so
        with pytest.raises(OSError):
            kq2.close()
    kq2.close()
    assert kq2.closed


def test_fromfd_of_a_non_queue_is_ebadf() -> None:
    r, w = os.pipe()
    os.close(w)
    kq = ks.kqueue.fromfd(r)
    with pytest.raises(OSError) as info:
        kq.control(None, 1, 0)
    assert info.value.errno == errno.EBADF
    kq.close()  # closes r, as CPython does
    with pytest.raises(OSError):
        os.fstat(r)


def test_validation_messages() -> None:
    kq = ks.kqueue()
    try:
        with pytest.raises(ValueError, match="Length of eventlist must be 0 or positive"):
            kq.control(None, -1)
        with pytest.raises(ValueError, match="timeout must be positive or None"):
            kq.control(None, 1, -1)
        with pytest.raises(TypeError, match="timeout argument must be a number or None"):
            kq.control(None, 1, "x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"changelist must be an iterable of select\.kevent"):
            kq.control([1], 0)  # type: ignore[list-item]
        with pytest.raises(TypeError, match="changelist is not iterable"):
            kq.control(5, 0)  # type: ignore[arg-type]
    finally:
        kq.close()
    with pytest.raises(ValueError, match="I/O operation on closed kqueue object"):
        kq.control(None, 1)


def test_non_inheritable_and_error_entries() -> None:
    kq = ks.kqueue()
    try:
        assert not os.get_inheritable(kq.fileno())
        (ev,) = kq.control([ks.kevent(99, ks.KQ_FILTER_USER, ks.KQ_EV_DELETE, udata=7)], 1, 0)
        assert ev.flags & ks.KQ_EV_ERROR and ev.data == errno.ENOENT and ev.udata == 7
    finally:
        kq.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_closed_in_forked_child() -> None:  # C-21, the CPython >= 3.12 rule (gh-110395)
    kq = ks.kqueue()
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if sys.version_info >= (3, 12):
                    code = 0 if kq.closed else 2
                else:  # 3.11: the object stays open on a queue the child does not have
                    try:
                        kq.control(None, 1, 0)
                        code = 3
                    except OSError as exc:
                        code = 0 if not kq.closed and exc.errno == errno.EBADF else 4
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not kq.closed
    finally:
        kq.close()


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGALRM and setitimer (POSIX)")
def test_eintr_does_not_reapply_changes() -> None:  # C-24, D9
    run_isolated("""
        import signal, time
        from kevents.compat import select as ks
        hits = []
        signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
        kq = ks.kqueue()
        kq.control([ks.kevent(5, ks.KQ_FILTER_USER, ks.KQ_EV_ADD)], 0)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        got = kq.control([ks.kevent(5, ks.KQ_FILTER_USER, ks.KQ_EV_DELETE)], 1, 0.5)
        assert hits == [1] and got == [] and time.monotonic() - t0 >= 0.5, (hits, got)
        kq.close()
    """)


def test_kqueue_selector_does_not_count_but_kqueue_does() -> None:  # D84
    """After install(), selectors.KqueueSelector's queue skips READ/WRITE data (nobody
    can read it through a selector: a hop is 3 system calls on Linux), and works as
    before; a kqueue() of the caller's own still reports FreeBSD's count. Installing
    twice wraps the class once, and a DefaultSelector chosen before is kept."""
    run_isolated("""
        import selectors, socket
        from kevents._platforms import status
        from kevents.compat import select as ks
        default = selectors.DefaultSelector
        ks.install()
        ks.install()
        assert selectors.DefaultSelector is default
        cls = selectors.KqueueSelector
        # wrapped once: the stdlib's class, then its base
        names = [c.__name__ for c in cls.__mro__[:3]]
        assert names == ["KqueueSelector", "KqueueSelector", "_BaseSelectorImpl"], names
        kq = ks.kqueue()
        zero = status("READ/WRITE data with counts=False", kq._queue.backend)[0] != "yes"
        kq.close()
        a, b = socket.socketpair()
        with a, b, selectors.KqueueSelector() as sel:
            sel.register(a, selectors.EVENT_READ, "a")
            b.send(b"12345")
            got = [(key.data, mask) for key, mask in sel.select(5)]
            assert got == [("a", selectors.EVENT_READ)], got
            (ev,) = sel._selector.control(None, 1, 0)
            assert ev.ident == a.fileno() and ev.data == (0 if zero else 5), ev
            kq = ks.kqueue()
            kq.control([ks.kevent(a)], 0)
            (ev,) = kq.control(None, 1, 0)
            assert ev.data == 5, ev
            kq.close()
    """)


def test_install_into_a_module() -> None:
    mod = types.ModuleType("fake_select")
    ks.install(mod)
    assert mod.kqueue is ks.kqueue and mod.KQ_FILTER_READ == -1  # type: ignore[attr-defined]
