"""Re-arming, replacing or deleting a TIMER leaves nothing behind (issue 13 deliver 5,
D45): the old deadline's entry is moved or removed at once, so a deleted or replaced
timer's udata is released immediately and a million re-arms keep memory flat."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

import kevents
from kevents import Filter, Flag, KEvent


class Token:
    """A udata object whose lifetime a weak reference can watch."""


def test_deleted_timer_releases_udata_at_once(kq: kevents.Queue) -> None:
    token = Token()
    ref = weakref.ref(token)
    kq.control([KEvent(1, Filter.TIMER, Flag.ADD, 0, 60_000, token)], 0)
    del token
    assert ref() is not None  # the knote holds it
    kq.control([KEvent(1, Filter.TIMER, Flag.DELETE)], 0)
    assert ref() is None  # not at the old deadline, a minute from now: now


def test_rearmed_timer_releases_old_udata_and_fires_once(kq: kevents.Queue) -> None:
    refs = []
    for i in range(200):
        token = Token()
        refs.append(weakref.ref(token))
        # the idle-timeout pattern: push the deadline back on every message
        kq.control([KEvent(7, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 60_000 + i, token)], 0)
        del token
    assert all(r() is None for r in refs[:-1]) and refs[-1]() is not None
    kq.control([KEvent(7, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 1, "last")], 0)
    (ev,) = kq.control(None, 8, 5)
    assert (ev.ident, ev.filter, ev.udata, ev.data) == (7, Filter.TIMER, "last", 1)
    assert kq.control(None, 8, 0.05) == []  # the 200 old deadlines left nothing behind


def test_many_timers_fire_in_deadline_order(kq: kevents.Queue) -> None:
    # re-arms and deletes in between must keep the heap's order
    changes = [KEvent(i, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 60_000) for i in range(50)]
    kq.control(changes, 0)
    order = [17, 3, 44, 0, 29]
    kq.control(
        [
            KEvent(i, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 20 + 10 * n)
            for n, i in enumerate(order)
        ]
        + [KEvent(i, Filter.TIMER, Flag.DELETE) for i in range(50) if i not in order],
        0,
    )
    got: list[int] = []
    while len(got) < len(order):
        evs = kq.control(None, 1, 5)
        assert evs, got
        got.extend(ev.ident for ev in evs)
    assert got == order


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_million_rearms_keep_memory_flat(kq: kevents.Queue) -> None:
    batch = [KEvent(1, Filter.TIMER, Flag.ADD, 0, 3_600_000, None)] * 1000
    kq.control(batch, 0)
    gc.collect()
    before = _rss()
    for _ in range(1000):
        kq.control(batch, 0)
    gc.collect()
    assert _rss() - before < 1 << 20
