"""close() detaches a queue's timers from the heap's end (D44): each removal is a pop,
and the heap holds only live timers, in heap order, at every step of the close."""

from __future__ import annotations

import random
import weakref
from typing import Any

import pytest

import kevents
from kevents import Filter, Flag, KEvent
from kevents._filters.timer import TimerSource


class Token:
    """A udata object whose lifetime a weak reference can watch."""


def _check_heap(src: TimerSource) -> None:
    heap = src.heap
    assert all(kn.alive for kn in heap)
    assert [kn.priv.index for kn in heap] == list(range(len(heap)))
    keys = [(kn.priv.deadline, kn.priv.seq) for kn in heap]
    assert all(keys[(i - 1) // 2] <= keys[i] for i in range(1, len(keys)))


def test_close_keeps_the_timer_heap_a_heap_of_live_timers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kq = kevents.Queue()
    src = getattr(kq._engine, "timers", None)
    if not isinstance(src, TimerSource):
        pytest.skip("this backend's timers are the kernel's")
    rng = random.Random(13)
    tokens = [Token() for _ in range(300)]
    refs = [weakref.ref(t) for t in tokens]
    oneshot = Flag.ADD | Flag.ONESHOT
    adds = [
        KEvent(i, Filter.TIMER, oneshot, 0, rng.randrange(60_000, 120_000), t)
        for i, t in enumerate(tokens)
    ]
    # re-arms and deletes, so that the heap's order is not the order of addition
    later = [KEvent(i, Filter.TIMER, oneshot, 0, 59_000 - i, tokens[i]) for i in range(0, 300, 7)]
    gone = [KEvent(i, Filter.TIMER, Flag.DELETE) for i in range(3, 300, 11)]
    kq.control(adds + later + gone, 0)
    del tokens, adds, later
    assert len(src.heap) == 300 - len(gone)
    _check_heap(src)
    sizes: list[int] = []
    last: list[bool] = []
    detach = TimerSource.detach

    def checked(self: TimerSource, kn: Any) -> None:
        if kn.priv.index >= 0:  # each timer still in the heap is its last entry: a pop
            last.append(kn.priv.index == len(self.heap) - 1)
        detach(self, kn)
        sizes.append(len(self.heap))
        _check_heap(self)

    monkeypatch.setattr(TimerSource, "detach", checked)
    kq.close()
    assert last == [True] * (300 - len(gone))
    assert sizes[: 300 - len(gone)] == list(range(299 - len(gone), -1, -1))
    assert all(r() is None for r in refs)
