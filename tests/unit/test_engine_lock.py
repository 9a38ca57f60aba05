"""Engine.lock is threading.Lock, or under speedups its C twin (engine.c: Lock), which
the core takes with a plain call. Both must behave alike for the Python engine's code:
acquire/release/locked, the context manager, timeouts, contention across threads,
release by another thread, and a blocking acquire a signal handler can interrupt."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

import pytest

import kevents
from kevents._core import _speedups
from kevents._engine import Engine

LOCKS: list[Any] = [threading.Lock] + ([] if _speedups is None else [_speedups.Lock])


@pytest.fixture(params=LOCKS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def lock(request: pytest.FixtureRequest) -> Any:
    return request.param()


def test_the_engine_uses_the_c_lock_under_speedups() -> None:
    with kevents.Queue() as kq:
        engine = getattr(kq, "_engine", None)
        if not isinstance(engine, Engine):
            pytest.skip("this backend passes the kernel's queue through: no engine lock")
        assert type(engine.lock) is type(LOCKS[-1]())


def test_acquire_release_and_locked(lock: Any) -> None:
    assert not lock.locked()
    assert lock.acquire() is True
    assert lock.locked()
    assert lock.acquire(False) is False
    assert lock.acquire(blocking=False) is False
    t0 = time.monotonic()
    assert lock.acquire(timeout=0.05) is False
    assert time.monotonic() - t0 >= 0.04
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_context_manager(lock: Any) -> None:
    with lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(KeyError), lock:
        raise KeyError
    assert not lock.locked()


def test_bad_arguments(lock: Any) -> None:
    with pytest.raises(ValueError):
        lock.acquire(False, 1)
    with pytest.raises(ValueError):
        lock.acquire(timeout=-2)
    assert not lock.locked()


def test_contended_and_released_by_another_thread(lock: Any) -> None:
    lock.acquire()
    got: list[float] = []

    def waiter() -> None:
        t0 = time.monotonic()
        assert lock.acquire(timeout=10)
        got.append(time.monotonic() - t0)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    assert not got  # blocked, and without the GIL: this thread runs meanwhile
    lock.release()
    t.join(10)
    assert got and got[0] >= 0.05
    assert lock.locked()  # the waiter holds it now; any thread may release it
    lock.release()
    assert not lock.locked()


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGALRM")
def test_a_signal_handler_interrupts_a_blocking_acquire(lock: Any) -> None:
    class Alarm(Exception):
        pass

    def handler(signum: int, frame: Any) -> None:
        raise Alarm

    lock.acquire()
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        with pytest.raises(Alarm):
            lock.acquire()
        assert time.monotonic() - t0 < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    lock.release()
    assert not lock.locked()
