"""EVFILT_USER (spec §5.10, C-73..C-80, D27, D28)."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from kevents import Filter, Flag, KEvent, NoteUser, Queue
from kevents.testing import expect_no_events

T = NoteUser.TRIGGER


def test_trigger_once_with_clear(kq: Queue) -> None:  # C-73
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    expect_no_events(kq, 0.02)
    kq.control([KEvent(1, Filter.USER, 0, T)], 0)
    (ev,) = kq.control(None, 4, 0)
    assert ev.ident == 1 and ev.filter == Filter.USER
    assert ev.fflags & (NoteUser.FFCTRLMASK | T) == 0
    expect_no_events(kq, 0.02)


def test_level_without_clear(kq: Queue) -> None:  # C-74
    kq.control([KEvent(1, Filter.USER, Flag.ADD), KEvent(1, Filter.USER, 0, T)], 0)
    for _ in range(3):
        assert len(kq.control(None, 4, 0)) == 1
    kq.control([KEvent(1, Filter.USER, Flag.DELETE)], 0)
    expect_no_events(kq, 0.02)


def test_triggers_merge(kq: Queue) -> None:  # C-75
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    kq.control([KEvent(1, Filter.USER, 0, T)] * 10, 0)
    assert len(kq.control(None, 10, 0)) == 1
    expect_no_events(kq, 0.02)


def test_fflags_ops(kq: Queue) -> None:  # C-76
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)

    def fire(ff: int) -> int:
        (ev,) = kq.control([KEvent(1, Filter.USER, 0, T | ff)], 1, 0)
        return ev.fflags

    assert fire(NoteUser.FFCOPY | 0x5) == 0x5
    assert fire(NoteUser.FFOR | 0x2) == 0x7
    assert fire(NoteUser.FFAND | 0x1) == 0x1
    assert fire(NoteUser.FFNOP | 0xFF) == 0x1
    assert fire(NoteUser.FFCOPY | 0xFFFFFF) == 0xFFFFFF


def test_data(kq: Queue) -> None:  # C-77
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    (ev,) = kq.control([KEvent(1, Filter.USER, 0, T, 42)], 1, 0)
    assert ev.data == 42


def test_dispatch_enable_and_trigger_atomically(kq: Queue) -> None:  # C-78
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR | Flag.DISPATCH)], 0)
    (ev,) = kq.control([KEvent(1, Filter.USER, 0, T)], 1, 0)
    assert ev.flags & Flag.DISPATCH
    assert kq.control([KEvent(1, Filter.USER, 0, T)], 1, 0) == []
    (ev,) = kq.control([KEvent(1, Filter.USER, Flag.ENABLE, T)], 1, 0)
    assert ev.flags & Flag.DISPATCH


def test_trigger_remembered_while_disabled(kq: Queue) -> None:  # C-79, D28
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR | Flag.DISABLE)], 0)
    kq.control([KEvent(1, Filter.USER, 0, T)], 0)
    expect_no_events(kq, 0.02)
    assert len(kq.control([KEvent(1, Filter.USER, Flag.ENABLE)], 1, 0)) == 1


def test_trigger_missing_is_enoent(kq: Queue) -> None:  # C-80
    (ev,) = kq.control([KEvent(77, Filter.USER, 0, T)], 1, 0)
    assert ev.data == errno.ENOENT


def test_trigger_in_add_fires(kq: Queue) -> None:  # D27 (macOS behaviour, documented)
    assert len(kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR, T)], 1, 0)) == 1


def test_clear_in_change_resets_trigger(kq: Queue) -> None:
    kq.control([KEvent(1, Filter.USER, Flag.ADD), KEvent(1, Filter.USER, 0, T)], 0)
    kq.control([KEvent(1, Filter.USER, Flag.CLEAR)], 0)
    expect_no_events(kq, 0.02)


def test_trigger_from_another_thread_wakes_waiter(kq: Queue) -> None:  # C-25
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)

    def poke() -> None:
        time.sleep(0.05)
        kq.control([KEvent(1, Filter.USER, 0, T)], 0)

    t = threading.Thread(target=poke)
    t.start()
    t0 = time.monotonic()
    got = kq.control(None, 1, 5)
    t.join()
    assert len(got) == 1 and time.monotonic() - t0 < 2


@pytest.mark.slow
def test_many_threads_no_deadlock(kq: Queue) -> None:  # C-119
    n = 8
    kq.control([KEvent(i, Filter.USER, Flag.ADD | Flag.CLEAR) for i in range(n)], 0)
    seen: set[int] = set()
    stop = threading.Event()

    def worker(i: int) -> None:
        for _ in range(200):
            kq.control([KEvent(i, Filter.USER, 0, T)], 0)
            for ev in kq.control(None, 4, 0):
                seen.add(ev.ident)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stop.set()
    seen.update(ev.ident for ev in kq.control(None, 64, 0))
    assert seen == set(range(n))
