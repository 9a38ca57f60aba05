"""EVFILT_TIMER (spec §5.9, C-59..C-72, D22-D26)."""

from __future__ import annotations

import errno
import random
import time

import pytest

from kevents import Filter, Flag, KEvent, NoteTimer, Queue
from kevents.testing import expect_no_events, scaled

TIMER = Filter.TIMER


def wait_one(kq: Queue, timeout: float = 5) -> KEvent:
    got = kq.control(None, 1, timeout)
    assert len(got) == 1, got
    return got[0]


def test_periodic_counts_overruns(kq: Queue) -> None:  # C-59
    kq.control([KEvent(1, TIMER, Flag.ADD, data=10)], 0)
    ev = wait_one(kq)
    assert ev.flags & Flag.CLEAR and ev.data >= 1 and ev.fflags == 0  # C-71
    time.sleep(0.105)
    assert wait_one(kq).data >= 8


def test_oneshot_usec(kq: Queue) -> None:  # C-60
    t0 = time.monotonic()
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, NoteTimer.USECONDS, 1000)], 0)
    ev = wait_one(kq)
    assert time.monotonic() - t0 >= 0.001 and ev.data == 1 and ev.flags & Flag.ONESHOT
    expect_no_events(kq)
    with pytest.raises(FileNotFoundError):
        kq.control([KEvent(1, TIMER, Flag.DELETE)], 0)


@pytest.mark.parametrize(
    ("fflags", "data", "low", "high"),
    [
        (NoteTimer.SECONDS, 1, 1.0, 3.0),
        (NoteTimer.NSECONDS, 50_000_000, 0.05, 1.0),
        (0, 50, 0.05, 1.0),
        (NoteTimer.MSECONDS, 50, 0.05, 1.0),
    ],
)
def test_units(kq: Queue, fflags: int, data: int, low: float, high: float) -> None:  # C-61
    t0 = time.monotonic()
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, fflags, data)], 0)
    wait_one(kq, high + 1)
    assert low <= time.monotonic() - t0 < scaled(high)


@pytest.mark.parametrize(
    ("fflags", "data"),
    [(NoteTimer.SECONDS | NoteTimer.USECONDS, 1), (0x100, 1), (0, -1)],
)
def test_invalid(kq: Queue, fflags: int, data: int) -> None:  # C-62, D23
    (ev,) = kq.control([KEvent(1, TIMER, Flag.ADD, fflags, data)], 1, 0)
    assert ev.flags & Flag.ERROR and ev.data == errno.EINVAL


def test_zero(kq: Queue) -> None:  # C-63, D22
    kq.control([KEvent(1, TIMER, Flag.ADD, data=0)], 0)
    assert wait_one(kq).data >= 1
    assert wait_one(kq).data >= 1
    kq.control([KEvent(1, TIMER, Flag.DELETE), KEvent(2, TIMER, Flag.ADD | Flag.ONESHOT)], 0)
    assert wait_one(kq, 0.5).ident == 2


def test_huge_is_never(kq: Queue) -> None:  # D23
    kq.control([KEvent(1, TIMER, Flag.ADD, NoteTimer.SECONDS, 2**62)], 0)
    expect_no_events(kq, 0.05)


def test_readd_restarts(kq: Queue) -> None:  # C-64
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, data=1000, udata=1)], 0)
    t0 = time.monotonic()
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, data=1, udata=2)], 0)
    ev = wait_one(kq, 2)
    assert 0.001 <= time.monotonic() - t0 < 1 and ev.udata == 2
    expect_no_events(kq, 0.05)


def test_readd_after_expiry(kq: Queue) -> None:  # C-65
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, data=1)], 0)
    time.sleep(0.01)
    t0 = time.monotonic()
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, data=20)], 0)
    wait_one(kq)
    assert time.monotonic() - t0 >= 0.02
    expect_no_events(kq, 0.05)


@pytest.mark.slow
def test_readd_periodic(kq: Queue) -> None:  # C-66 (scaled: 100 ms then 200 ms)
    kq.control([KEvent(1, TIMER, Flag.ADD, data=100)], 0)
    wait_one(kq)
    wait_one(kq)
    t0 = time.monotonic()
    kq.control([KEvent(1, TIMER, Flag.ADD, data=200)], 0)
    ev = wait_one(kq)
    assert time.monotonic() - t0 >= 0.2 and ev.data == 1


def test_abstime(kq: Queue) -> None:  # C-67
    deadline = time.time() + 0.3
    kq.control(
        [
            KEvent(
                1,
                TIMER,
                Flag.ADD | Flag.ONESHOT,
                NoteTimer.ABSTIME | NoteTimer.USECONDS,
                int(deadline * 1e6),
            )
        ],
        0,
    )
    ev = wait_one(kq)
    assert time.time() >= deadline - 0.001
    assert ev.flags & Flag.ONESHOT and not ev.flags & Flag.CLEAR and ev.data == 1


@pytest.mark.parametrize("when", [-1.0, None])
def test_abstime_past_fires_now(kq: Queue, when: float | None) -> None:  # C-68
    data = 0 if when is None else int((time.time() + when) * 1000)
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.ONESHOT, NoteTimer.ABSTIME, data)], 0)
    assert wait_one(kq, 0.5).data == 1


def test_counts_while_disabled(kq: Queue) -> None:  # C-69, D24
    kq.control([KEvent(1, TIMER, Flag.ADD, data=10)], 0)
    kq.control([KEvent(1, TIMER, Flag.DISABLE)], 0)
    time.sleep(0.055)
    (ev,) = kq.control([KEvent(1, TIMER, Flag.ENABLE)], 1, 0)
    assert ev.data >= 4


def test_dispatch(kq: Queue) -> None:  # C-70 (scaled)
    kq.control([KEvent(1, TIMER, Flag.ADD | Flag.DISPATCH, data=50)], 0)
    wait_one(kq)
    expect_no_events(kq, 0.2)
    (ev,) = kq.control([KEvent(1, TIMER, Flag.ENABLE)], 1, 0)
    assert ev.data >= 3


@pytest.mark.slow
def test_many_oneshots(kq: Queue) -> None:  # C-72 (scaled to 20k)
    n = 20_000
    rng = random.Random(1)
    t0 = time.monotonic_ns()
    due = {}
    changes = []
    for i in range(n):
        ms = rng.randrange(0, 200)
        due[i] = t0 + ms * 1_000_000
        changes.append(KEvent(i, TIMER, Flag.ADD | Flag.ONESHOT, data=ms))
    kq.control(changes, 0)
    seen = 0
    deadline = time.monotonic() + 10
    while seen < n and time.monotonic() < deadline:
        for ev in kq.control(None, 1024, 1):
            assert time.monotonic_ns() >= due[ev.ident]
            seen += 1
    assert seen == n
    expect_no_events(kq, 0.05)
