"""Fuzzing invariants (issue 15): random change lists, valid and invalid, over every
filter and flag, with huge and negative values and udata of any type, on real and
bogus descriptors (kevents' own among them), interleaved with collections, AIO
submissions and descriptors closed or replaced under their knotes. After every list:
no crash, no hang, no ghost kernel registration (every epoll registration belongs to a
knote or to kevents itself, read from /proc/self/fdinfo), and in the end no fd leak,
every signal disposition as it was, and a queue that still works.

Seeded and reproducible: a failure names its seed and round. ``make test`` runs a few
seeds; ``test_fuzz_long`` (``slow``) many more.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import math
import os
import random
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from _kernel_state import linux_engine, problems

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteTimer, NoteUser, NoteVnode, Queue
from kevents._errors import UnsupportedError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors and signals")

FILTERS = [int(f) for f in Filter] + [0, 1, -14, -100, -32768, 32767]
FLAG_BITS = [int(f) for f in Flag if f not in (Flag.SYSFLAGS,)]
NOTES = [
    0,
    int(NoteProc.EXIT),
    int(NoteProc.EXIT | NoteProc.FORK),
    int(NoteProc.TRACK),
    int(NoteTimer.SECONDS),
    int(NoteTimer.NSECONDS),
    int(NoteTimer.ABSTIME | NoteTimer.MSECONDS),
    int(NoteTimer.SECONDS | NoteTimer.USECONDS),
    int(NoteUser.TRIGGER),
    int(NoteUser.FFCOPY | NoteUser.TRIGGER) | 0xFF,
    int(NoteVnode.WRITE | NoteVnode.DELETE),
    int(NoteVnode.RENAME | NoteVnode.ATTRIB | NoteVnode.EXTEND),
    1,
    0xFFFFFFFF,
]
DATA = [0, 1, -1, 2, 40, 1000, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, -(2**63)]
# signals that may be watched here; their dispositions are checked at the end
SIGNALS = [0, -1, 65, 10**6] + [int(s) for s in signal.valid_signals() if 0 < s < 65]


#: how the API refuses bad input (never anything else: no crash, no KeyError...)
REFUSALS = (OSError, ValueError, TypeError, OverflowError, UnsupportedError)


class Weird:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("udata is never compared")

    __hash__ = None  # type: ignore[assignment]


UDATA: list[Any] = [None, 0, -1, 2**200, "s", b"b", 1.5, math.nan, [1], {"k": 1}, Weird()]


@pytest.fixture(scope="module", autouse=True)
def shared_signal_eventfd() -> None:
    """The SIGNAL filter's eventfd is process-wide and made once: make it before the
    fd-leak check of the first test takes its snapshot."""
    with Queue() as q:
        q.control([KEvent(signal.SIGWINCH, Filter.SIGNAL, Flag.ADD)], 0)
        q.control([KEvent(signal.SIGWINCH, Filter.SIGNAL, Flag.DELETE)], 0)


class World:
    """The descriptors a fuzz run plays with."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.socks = list(socket.socketpair()) + list(socket.socketpair(type=socket.SOCK_DGRAM))
        r, w = os.pipe()
        fd, self.path = tempfile.mkstemp(dir=tmp)
        os.write(fd, b"data" * 10)
        self.fds = [s.fileno() for s in self.socks] + [r, w, fd]
        self.fds.append(os.open(tmp, os.O_RDONLY))
        self.fds.append(os.open(os.devnull, os.O_RDWR))
        if hasattr(os, "eventfd"):
            self.fds.append(os.eventfd(0))
        self.child = kevents.spawn([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
        self.closed = os.dup(fd)
        os.close(self.closed)

    def idents(self, kq: Queue) -> list[int]:
        eng = linux_engine(kq)
        own = [fd for fd in range(256) if eng.backend.owns(fd)] if eng is not None else []
        return [
            *self.fds,
            self.child.pidfd,
            self.child.pid,
            os.getpid(),
            self.closed,
            kq.fileno(),
            *own,
            0,
            1,
            2,
            7,
            2**31,
            2**63,
            2**64 - 1,
            -1,
            *SIGNALS,
        ]

    def replace(self, rng: random.Random) -> None:
        """Close a descriptor under its knotes and put another file at its number."""
        i = rng.randrange(len(self.fds))
        fd = self.fds[i]
        if any(fd == s.fileno() for s in self.socks):
            return  # socket objects own theirs
        new = os.open(self.path, os.O_RDONLY)
        os.dup2(new, fd)
        os.close(new)

    def close(self) -> None:
        for s in self.socks:
            s.close()
        for fd in self.fds[len(self.socks) :]:
            os.close(fd)
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait(10)
        self.child.close_pidfd()


def random_change(rng: random.Random, idents: list[int]) -> KEvent:
    flags = 0
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        flags |= rng.choice(FLAG_BITS)
    if rng.random() < 0.5:
        flags |= int(Flag.ADD)
    if rng.random() < 0.05:
        flags = rng.randrange(0x10000)
    fflags = rng.choice(NOTES) if rng.random() < 0.9 else rng.randrange(2**32)
    data = rng.choice(DATA) if rng.random() < 0.9 else rng.randrange(-(2**63), 2**63)
    return KEvent(rng.choice(idents), rng.choice(FILTERS), flags, fflags, data, rng.choice(UDATA))


def dispositions() -> dict[int, Any]:
    return {s: signal.getsignal(s) for s in SIGNALS if 0 < s < 65}


def fuzz(backend: str, seed: int, rounds: int, tmp: str) -> None:
    rng = random.Random(seed)
    before = dispositions()
    world = World(tmp)
    kq = Queue(backend=backend)
    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails loudly
    try:
        idents = world.idents(kq)
        for round_ in range(rounds):
            where = f"seed {seed} round {round_}"
            op = rng.random()
            if op < 0.05:
                world.replace(rng)
                continue
            if op < 0.1:
                buf: Any = rng.choice((bytearray(8), b"ro", memoryview(bytearray(4))))
                with contextlib.suppress(*REFUSALS):
                    rng.choice((kq.aio_read, kq.aio_write))(
                        rng.choice(idents[:12]), buf, rng.choice(DATA), udata=rng.choice(UDATA)
                    )
                continue
            changes = [random_change(rng, idents) for _ in range(rng.randrange(1, 17))]
            room = rng.choice((0, 0, 1, 4, 64))
            try:
                got = kq.control(changes, room, 0)
            except REFUSALS:
                got = []
            assert len(got) <= room, where
            if rng.random() < 0.5:
                kq.control(None, rng.choice((1, 8, 256)), 0)
            assert problems(kq) == [], where
        alive(kq)
    finally:
        faulthandler.cancel_dump_traceback_later()
        kq.close()
        world.close()
        after = dispositions()
        for s, handler in before.items():
            if after[s] != handler and handler is not None:
                signal.signal(s, handler)  # leave the process as it was, then judge
    assert after == before, f"seed {seed}: dispositions changed"


def alive(kq: Queue) -> None:
    """The queue still does its job after everything above."""
    kq.control([KEvent(999, Filter.USER, Flag.ADD | Flag.ONESHOT, NoteUser.TRIGGER)], 0)
    seen = set()
    for _ in range(100):
        seen |= {(ev.ident, ev.filter) for ev in kq.control(None, 256, 0.05)}
        if (999, Filter.USER) in seen:
            break
    assert (999, Filter.USER) in seen
    a, b = socket.socketpair()
    with a, b:
        (ev,) = kq.control([KEvent(a, Filter.WRITE, Flag.ADD | Flag.ONESHOT)], 1, 0)
        assert ev.flags & Flag.ERROR == 0 or ev.data == 0
        b.send(b"x")
        evs = kq.control([KEvent(a, Filter.READ, Flag.ADD | Flag.ONESHOT)], 8, 1)
        assert any(ev.ident == a.fileno() and ev.filter == Filter.READ for ev in evs) or any(
            ev.ident == a.fileno() and ev.filter == Filter.READ for ev in kq.control(None, 256, 1)
        )
    assert problems(kq) == []


@pytest.fixture
def tmp(tmp_path: os.PathLike[str]) -> Iterator[str]:
    yield os.fspath(tmp_path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz(backend: str, seed: int, tmp: str) -> None:
    fuzz(backend, seed, 150, tmp)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 106))
def test_fuzz_long(backend: str, seed: int, tmp: str) -> None:
    fuzz(backend, seed, 1500, tmp)


def test_errno_of_a_bogus_filter(kq: Queue) -> None:
    (ev,) = kq.control([KEvent(1, -100, Flag.ADD)], 1, 0)
    assert ev.flags & Flag.ERROR and ev.data == errno.EINVAL
