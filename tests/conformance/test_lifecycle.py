"""Queue lifecycle: close, fileno, fork, threads, signals, backend choice (C-21..C-25, D9,
D35, D36)."""

from __future__ import annotations

import gc
import os
import platform
import socket
import sys
import threading
import time
import warnings

import pytest

import kevents
from kevents import Filter, Flag, KEvent, NoteUser, Queue, UnsupportedError
from kevents.testing import run_isolated


def test_close_is_idempotent(backend: str) -> None:  # C-23
    kq = Queue(backend=backend)
    assert not kq.closed
    kq.close()
    kq.close()
    assert kq.closed
    with pytest.raises(ValueError):
        kq.fileno()
    with pytest.raises(ValueError):
        kq.control(None, 1, 0)


def test_context_manager(backend: str) -> None:
    with Queue(backend=backend) as kq:
        assert not kq.closed
    assert kq.closed


def test_resource_warning_when_collected_open(backend: str) -> None:
    kq = Queue(backend=backend)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del kq
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_fork_closes_queue_in_child(kq: Queue) -> None:  # C-21, D35
    a, b = socket.socketpair()
    with a, b:
        kq.control([KEvent(b, Filter.READ), KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
        pid = os.fork()
        if pid == 0:  # child: the queue is closed, and touching it changes nothing
            code = 0
            try:
                kq.control(None, 1, 0)
                code = 1
            except ValueError:
                pass
            if not kq.closed:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        a.send(b"x")
        got = kq.control([KEvent(1, Filter.USER, 0, 0x01000000)], 4, 1)
        assert {(e.ident, e.filter) for e in got} == {(b.fileno(), Filter.READ), (1, Filter.USER)}


def test_close_while_another_thread_waits(backend: str) -> None:  # D36
    kq = Queue(backend=backend)
    result: list[BaseException | None] = []

    def waiter() -> None:
        try:
            kq.control(None, 1, 10)
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    kq.close()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    assert isinstance(result[0], ValueError)


def test_two_waiters_are_counted_until_the_last_leaves(backend: str) -> None:  # D36
    """close() with two threads in the wait wakes both; the backend's descriptors are
    released by the last to leave (the engine counts its waiters: a list in Python, a
    C count under speedups), and a wait that returned counts no more."""
    kq = Queue(backend=backend)
    # (the BSD backend passes the kernel's kqueue through: no engine, nothing to count)
    waiting = getattr(kq._engine, "waiting", [])
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    kq.control([KEvent(1, Filter.USER, 0, NoteUser.TRIGGER)], 0)
    assert [ev.ident for ev in kq.control(None, 1)] == [1]
    assert len(waiting) == 0
    result: list[BaseException | None] = []

    def waiter() -> None:
        try:
            kq.control(None, 1)
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    threads = [threading.Thread(target=waiter) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(waiting) < 2 and hasattr(kq._engine, "waiting"):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.05)  # (both blocked: the count says they entered)
    kq.close()
    for t in threads:
        t.join(10)
    assert len(result) == 2 and all(isinstance(r, ValueError) for r in result), result
    assert len(waiting) == 0 and not waiting


#: the waits whose 4th argument is the timeout in milliseconds, by machine
_EPOLL_WAITS = {"x86_64": {232, 281}, "aarch64": {22}}  # epoll_wait, epoll_pwait


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() not in _EPOLL_WAITS,
    reason="reads a blocked thread's system call from /proc (Linux, x86_64 or aarch64)",
)
@pytest.mark.parametrize(("timeout", "ms"), [(None, -1), (5.0, 5000)])
def test_a_wait_without_timeout_has_no_kernel_bound(
    kq: Queue, timeout: float | None, ms: int
) -> None:
    """A wait with no timeout blocks in epoll_wait(-1), not in a wait clamped to a day
    (the kernel then reads no clock and arms no timeout per call: _engine.FOREVER); a
    bounded wait passes its bound."""
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    got: list[KEvent] = []
    t = threading.Thread(target=lambda: got.extend(kq.control(None, 1, timeout)))
    t.start()
    try:
        deadline = time.monotonic() + 10
        while True:  # /proc/self/task/TID/syscall: the number, then the arguments
            with open(f"/proc/self/task/{t.native_id}/syscall") as f:
                fields = f.read().split()
            if fields[0].isdigit() and int(fields[0]) in _EPOLL_WAITS[platform.machine()]:
                break
            assert time.monotonic() < deadline, fields
            time.sleep(0.005)
        assert int(fields[4], 16) & 0xFFFFFFFF == ms & 0xFFFFFFFF, fields
    finally:
        kq.control([KEvent(1, Filter.USER, 0, NoteUser.TRIGGER)], 0)
        t.join(10)
    assert [ev.ident for ev in got] == [1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals (table: SIGNAL numbers)")
def test_signal_during_wait_does_not_reapply_changes(backend: str) -> None:  # C-24, D9
    run_isolated(f"""
        import os, signal, time
        from kevents import Queue, KEvent, Filter, Flag
        hits = []
        signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
        kq = Queue(backend={backend!r})
        kq.control([KEvent(5, Filter.USER, Flag.ADD)], 0)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        got = kq.control([KEvent(5, Filter.USER, Flag.DELETE)], 1, 0.5)
        dt = time.monotonic() - t0
        assert hits == [1], hits
        assert got == [], got
        assert 0.5 <= dt < 2, dt
        kq.close()
    """)


@pytest.mark.skipif(
    sys.platform == "win32",
    reason="pthread_kill(SIGINT): Windows delivers SIGINT as a console event",
)
def test_keyboard_interrupt_breaks_wait(backend: str) -> None:
    proc = run_isolated(f"""
        import signal, threading, os
        from kevents import Queue
        # not inherited: a Python started with SIGINT ignored (a background job, CI)
        # has no KeyboardInterrupt until it installs the handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
        kq = Queue(backend={backend!r})
        threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            kq.control(None, 1, 5)
        except KeyboardInterrupt:
            print("interrupted")
        kq.close()
    """)
    assert proc.stdout == "interrupted\n", proc.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="Queue.fileno() is unsupported on Windows")
def test_fd_not_inherited_by_exec(kq: Queue) -> None:
    assert not os.get_inheritable(kq.fileno())


def test_backend_choice_order(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv("KEVENTS_BACKEND", backend)
    info = kevents.backend_info()
    assert info.backend == backend and "KEVENTS_BACKEND" in info.chosen_by
    assert kevents.backend_info(backend).chosen_by == "explicit argument"
    monkeypatch.setenv("KEVENTS_BACKEND", "no-such-backend")
    with pytest.raises(ValueError):
        Queue()
    with Queue(backend=backend) as kq:  # the explicit argument wins over the environment
        assert kq.backend == backend


def test_unavailable_backend_is_unsupported() -> None:
    other = "iocp" if sys.platform != "win32" else "linux"
    with pytest.raises(UnsupportedError):
        Queue(backend=other)


def test_backend_info_describes_every_filter(backend: str) -> None:
    info = kevents.backend_info(backend)
    assert {i.filter for i in info.filters} == set(Filter)
    for i in info.filters:
        assert i.why
        assert (i.mechanism is not None) == i.supported
    for f in (Filter.READ, Filter.WRITE, Filter.TIMER, Filter.USER):
        assert info.filter(f).supported


def test_import_has_no_side_effects() -> None:
    proc = run_isolated("""
        import threading, signal, sys
        before = threading.active_count()
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        import kevents
        assert threading.active_count() == before
        assert {s: signal.getsignal(s) for s in handlers} == handlers
        assert "kevents._native" not in sys.modules, "compiled module loaded at import"
        print("ok")
    """)
    assert proc.stdout.strip() == "ok"
