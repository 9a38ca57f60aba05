"""Model-based test of the kqueue state machine (issue 15): hypothesis drives a real
queue and the pure-Python model (_model.py) with the same operations on real
descriptors (a socket pair, a pipe, an eventfd, a regular file, a closed number, one of
kevents' own descriptors) and compares every result: error and receipt entries, raised
errors, and the events collected.

Bounded and reproducible in ``make test`` (derandomized, a fixed number of examples);
``test_model_long`` (``slow``) runs many more. Events are compared as sets: the order in
which a queue lists simultaneous events is not kqueue semantics, but which ones it
returns, with what, is. When the room is smaller than the events ready, any of them may
come, and the model then applies what was actually delivered.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")

from _kernel_state import linux_engine, problems  # noqa: E402
from _model import (  # noqa: E402
    ADD,
    CLEAR,
    DELETE,
    DISABLE,
    DISPATCH,
    ENABLE,
    ERROR,
    KEEPUDATA,
    LOWAT,
    ONESHOT,
    PERSISTENT,
    RECEIPT,
    ModelQueue,
    Obj,
)
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test  # noqa: E402

from kevents import Filter, Flag, KEvent, NoteUser, Queue  # noqa: E402
from kevents._platforms import status  # noqa: E402

EOF_ = int(Flag.EOF)
SLOTS = ("a", "b", "pipe_r", "pipe_w", "eventfd", "file", "closed", "internal")
FLAG_BITS = (ADD, DELETE, ENABLE, DISABLE, ONESHOT, CLEAR, RECEIPT, DISPATCH, KEEPUDATA)
COMMON = (
    ADD,
    ADD | CLEAR,
    ADD | ONESHOT,
    ADD | DISPATCH,
    ADD | DISABLE,
    ADD | RECEIPT,
    DELETE,
    ENABLE,
    DISABLE,
    0,
    KEEPUDATA,
)
USER_FFLAGS = (
    0,
    int(NoteUser.TRIGGER),
    int(NoteUser.TRIGGER | NoteUser.FFOR) | 0x5,
    int(NoteUser.FFCOPY) | 0x3,
    int(NoteUser.FFAND) | 0x1,
    int(NoteUser.FFOR) | 0x10,
)
UDATA = (None, 0, 7, "u", ("t", 1))

flags_st = st.one_of(
    st.sampled_from(COMMON),
    st.sets(st.sampled_from(FLAG_BITS), max_size=4).map(lambda bits: sum(bits)),
)
fd_change = st.tuples(
    st.sampled_from(SLOTS),
    st.sampled_from((Filter.READ, Filter.WRITE)),
    flags_st,
    st.sampled_from((0, 0, 0, LOWAT)),
    st.sampled_from((0, 1, 3, 40, 2**31, -1)),
    st.sampled_from(UDATA),
)
user_change = st.tuples(
    st.integers(0, 3),
    st.just(Filter.USER),
    flags_st,
    st.sampled_from(USER_FFLAGS),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(UDATA),
)
ROOMS = st.sampled_from((0, 1, 2, 3, 64))


class KqueueMachine(RuleBasedStateMachine):
    backend = "linux"

    def __init__(self) -> None:
        super().__init__()
        self.kq = Queue(backend=self.backend)
        self.a, self.b = socket.socketpair()
        self.pipe_r, self.pipe_w = os.pipe()
        self.efd = os.eventfd(0) if hasattr(os, "eventfd") else -1
        ffd, path = tempfile.mkstemp()
        os.unlink(path)
        os.write(ffd, b"z" * 100)
        os.lseek(ffd, 0, os.SEEK_SET)
        self.ffd = ffd
        closed = os.dup(ffd)
        os.close(closed)  # a number nothing has (kevents may take it: EBADF either way)
        eng = linux_engine(self.kq)
        internal = eng.backend.pendfd if eng is not None else -1
        self.fds = {
            "a": self.a.fileno(),
            "b": self.b.fileno(),
            "pipe_r": self.pipe_r,
            "pipe_w": self.pipe_w,
            "eventfd": self.efd,
            "file": ffd,
            "closed": closed,
            "internal": internal,
        }
        objs = {
            self.a.fileno(): Obj("sock", peer=self.b.fileno()),
            self.b.fileno(): Obj("sock", peer=self.a.fileno()),
            self.pipe_r: Obj("pipe_r", peer=self.pipe_w),
            self.pipe_w: Obj("pipe_w"),
            ffd: Obj("file", 100),
            closed: Obj("closed"),
        }
        if self.efd >= 0:
            objs[self.efd] = Obj("eventfd", peer=self.efd)
        if internal >= 0:
            objs[internal] = Obj("internal")
        pipe_edges = status("WRITE EV_CLEAR on a pipe", self.backend)[0] == "yes"
        self.model = ModelQueue(objs, pipe_writer_edges=pipe_edges)
        self.unsure: set[tuple[int, int]] = set()

    def teardown(self) -> None:
        try:
            assert problems(self.kq) == []
        finally:
            self.kq.close()
            self.a.close()
            self.b.close()
            for fd in (self.pipe_r, self.pipe_w, self.efd, self.ffd):
                if fd >= 0:
                    os.close(fd)

    # -- comparison -------------------------------------------------------------------

    def _ident(self, slot: Any) -> int | None:
        if isinstance(slot, int):
            return slot
        fd = self.fds[slot]
        return fd if fd >= 0 else None

    def _events(self, got: list[KEvent]) -> None:
        """Check collected events against the model, then apply their deliveries."""
        ready = self.model.ready()
        assert len(got) == len({(ev.ident, ev.filter) for ev in got}), f"twice: {got}"
        assert len(got) <= len(ready), f"got {got}, the model has {ready}"
        for ev in got:
            key = (ev.ident, int(ev.filter))
            assert key in ready, f"not ready in the model: {ev}; model: {ready}"
            want = ready[key]
            assert ev.flags & (PERSISTENT | EOF_) == want.flags, (ev, want)
            assert ev.udata == want.udata or key in self.unsure, (ev, want)
            if ev.filter != Filter.WRITE:  # WRITE's free space is the OS's estimate
                assert (ev.fflags, ev.data) == (want.fflags, want.data), (ev, want)
        for ev in got:
            self.model.delivered((ev.ident, int(ev.filter)))

    def _control(self, changes: list[KEvent] | None, room: int) -> None:
        want_exc: OSError | None = None
        want: list[KEvent] | None = None
        if changes:
            try:
                want = self.model.control(changes, room)
            except OSError as exc:
                want_exc = exc
        try:
            got = self.kq.control(changes, room, 0)
        except OSError as exc:
            assert want_exc is not None, f"raised {exc!r}, the model returned {want}"
            assert exc.errno == want_exc.errno, (exc, want_exc, changes)
            if self.backend.startswith("kqueue"):
                # the kqueue backend keeps udata beside the kernel, which names only the
                # errno when it raises, not how far it got: the udata of these knotes is
                # unknown until a change sets it again (a known limitation)
                self.unsure |= {(ch.ident, int(ch.filter)) for ch in changes or ()}
            return
        assert want_exc is None, f"the model raised {want_exc!r}, got {got}"
        if want is not None:  # entries: compared in order, nothing collected (D7)
            norm = [(e.ident, int(e.filter), bool(e.flags & ERROR), e.data, e.udata) for e in got]
            expect = [(e.ident, int(e.filter), True, e.data, e.udata) for e in want]
            assert norm == expect, f"entries\n got  {norm}\n want {expect}\n for  {changes}"
        if changes:
            self._settle(changes)
        if want is not None:
            return
        if room == 0:
            assert got == [], got
            return
        ready = self.model.ready()
        self._events(got)
        if room >= 2 * len(ready) + 8:  # room for every event and every wake-up record
            assert len(got) == len(ready), f"got {got}, the model has {ready}"
        else:  # wake-up records of kevents' own may take some of a small room
            assert bool(got) == bool(ready), f"got {got}, the model has {ready}"

    def _settle(self, changes: list[KEvent]) -> None:
        """A change that took effect without EV_KEEPUDATA sets the udata again, which
        makes it known; a refused one (it changed nothing, D3) does not. The model
        says which was which: its entries were found equal to the queue's."""
        # the model stops at a refusal without room: later changes have no result
        for ch, err in zip(changes, self.model.results, strict=False):
            if not err and not int(ch.flags) & KEEPUDATA:
                self.unsure.discard((ch.ident, int(ch.filter)))

    # -- rules --------------------------------------------------------------------------

    @rule(
        raw=st.lists(st.one_of(fd_change, user_change), min_size=1, max_size=12),
        room=ROOMS,
    )
    def change(self, raw: list[tuple[Any, ...]], room: int) -> None:
        changes = []
        for slot, filt, flags, fflags, data, udata in raw:
            ident = self._ident(slot)
            if ident is None or (filt == Filter.WRITE and fflags and not self._lowat_write()):
                continue
            changes.append(KEvent(ident, filt, flags, fflags, data, udata))
        if changes:
            self._control(changes, room)

    @rule(room=ROOMS)
    def collect(self, room: int) -> None:
        self._control(None, room)

    @rule(to=st.sampled_from(("a", "b", "pipe_r", "eventfd")), n=st.integers(1, 60))
    def send(self, to: str, n: int) -> None:
        if to == "a":
            self.b.send(b"x" * n)
        elif to == "b":
            self.a.send(b"x" * n)
        elif to == "pipe_r":
            os.write(self.pipe_w, b"x" * n)
        elif self.efd >= 0:
            os.eventfd_write(self.efd, n)
        else:
            return
        self.model.arrived(self.fds[to], n)

    @rule(slot=st.sampled_from(("a", "b", "pipe_r", "eventfd")))
    def drain(self, slot: str) -> None:
        fd = self.fds[slot]
        if fd < 0:
            return
        waiting = self.model.objs[fd].waiting
        if not waiting:
            return
        if slot == "eventfd":
            os.eventfd_read(fd)
        else:
            assert len(os.read(fd, waiting)) == waiting
        self.model.drained(fd)

    def _lowat_write(self) -> bool:
        # WRITE NOTE_LOWAT is ENOTSUP where the OS has no SO_SNDLOWAT (D34); the model
        # knows that answer only, so elsewhere such changes are not generated
        return status("WRITE NOTE_LOWAT", self.backend)[0] == "unsupported"


def run_model(backend: str, examples: int, steps: int) -> None:
    if sys.platform == "win32":
        pytest.skip("pipes, eventfds and files are not pollable on Windows")
    KqueueMachine.backend = backend
    run_state_machine_as_test(
        KqueueMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        ),
    )


def test_model(backend: str) -> None:
    run_model(backend, examples=25, steps=30)


@pytest.mark.slow
def test_model_long(backend: str) -> None:
    run_model(backend, examples=200, steps=60)
