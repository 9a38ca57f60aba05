"""Random change lists never corrupt a queue, leak an fd or hang (C-118, scaled)."""

from __future__ import annotations

import os
import random
import socket

import pytest

from kevents import Filter, Flag, KEvent, Queue

FILTERS = [Filter.READ, Filter.WRITE, Filter.TIMER, Filter.USER, -100, 5, Filter.FS]
FLAG_BITS = [
    Flag.ADD,
    Flag.DELETE,
    Flag.ENABLE,
    Flag.DISABLE,
    Flag.ONESHOT,
    Flag.CLEAR,
    Flag.RECEIPT,
    Flag.DISPATCH,
    Flag.FORCEONESHOT,
    Flag.KEEPUDATA,
    Flag.EOF,
]


@pytest.mark.parametrize("seed", range(3))
def test_random_changelists(kq: Queue, seed: int) -> None:
    rng = random.Random(seed)
    socks = [s for _ in range(4) for s in socket.socketpair()]
    r, w = os.pipe()
    idents = [s.fileno() for s in socks] + [r, w, 10**6, 2**40, 0, 1]
    try:
        for s in socks[::2]:
            s.send(b"x")
        for _ in range(2000):
            changes = []
            for _ in range(rng.randrange(0, 6)):
                flags = 0
                for bit in rng.sample(FLAG_BITS, rng.randrange(0, 4)):
                    flags |= bit
                changes.append(
                    KEvent(
                        rng.choice(idents),
                        rng.choice(FILTERS),
                        flags,
                        rng.choice([0, 1, 2, 4, 0x01000000, 0xC0000005]),
                        rng.choice([0, 1, 5, -1, 10**6]),
                        rng.random(),
                    )
                )
            room = rng.randrange(0, 8)
            try:
                got = kq.control(changes, room, 0)
            except OSError:
                continue
            assert len(got) <= room
            for ev in got:
                assert isinstance(ev, KEvent)
                if ev.flags & Flag.ERROR:
                    assert ev.data >= 0
        # the queue still works afterwards
        kq.control([KEvent(424242, Filter.USER, Flag.ADD | Flag.CLEAR, 0x01000000)], 0)
        got = kq.control(None, 64, 0)
        assert any(ev.ident == 424242 for ev in got)
    finally:
        kq.close()
        for s in socks:
            s.close()
        os.close(r)
        os.close(w)
