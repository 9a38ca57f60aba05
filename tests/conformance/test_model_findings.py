"""What the model-based test (test_model.py) found, pinned as plain regression tests on
every backend."""

from __future__ import annotations

import errno
import os
import socket
import tempfile

import pytest

from kevents import Filter, Flag, KEvent, NoteRW, NoteUser, Queue

TRIGGER = NoteUser.TRIGGER


def test_a_poll_sees_an_event_behind_a_wakeup(kq: Queue) -> None:
    # a stale entry of the ready list (a USER trigger reset by a later change) left the
    # queue's wake-up signal set; its record took the only room of a poll, which then
    # returned nothing while a WRITE event was ready
    a, b = socket.socketpair()
    with a, b:
        kq.control([KEvent(a, Filter.WRITE, Flag.ADD)], 0)
        kq.control([KEvent(3, Filter.USER, Flag.ADD, TRIGGER)], 0)
        kq.control([KEvent(3, Filter.USER, Flag.CLEAR)], 0)  # the trigger is reset
        for _ in range(3):
            (ev,) = kq.control(None, 1, 0)
            assert (ev.ident, ev.filter) == (a.fileno(), Filter.WRITE)


def test_lowat_on_a_regular_file_is_refused_on_every_change(kq: Queue) -> None:
    fd, path = tempfile.mkstemp()
    try:
        os.write(fd, b"abc")
        os.lseek(fd, 0, os.SEEK_SET)
        (ev,) = kq.control([KEvent(fd, Filter.READ, Flag.ADD | Flag.RECEIPT)], 1, 0)
        assert ev.data == 0
        (ev,) = kq.control([KEvent(fd, Filter.READ, Flag.ADD, NoteRW.LOWAT, 2)], 1, 0)
        assert ev.flags & Flag.ERROR and ev.data == errno.EINVAL  # as at EV_ADD
    finally:
        os.close(fd)
        os.unlink(path)


def test_each_entry_has_its_own_changes_udata(kq: Queue) -> None:
    changes = [
        KEvent(5, Filter.USER, Flag.DELETE, udata="first"),  # ENOENT
        KEvent(5, Filter.USER, Flag.ADD | Flag.RECEIPT, udata="second"),
    ]
    got = kq.control(changes, 2, 0)
    assert [(e.data, e.udata) for e in got] == [(errno.ENOENT, "first"), (0, "second")]


def test_failed_and_unapplied_changes_leave_udata_alone(kq: Queue) -> None:
    kq.control([KEvent(1, Filter.USER, Flag.ADD, TRIGGER, udata="kept")], 0)
    kq.control([KEvent(1, Filter.USER, Flag.ENABLE | Flag.DISABLE, udata="bad")], 1, 0)
    changes = [
        KEvent(2, Filter.USER, Flag.ADD | Flag.RECEIPT),  # no room: the list stops here
        KEvent(1, Filter.USER, 0, udata="never applied"),
    ]
    assert kq.control(changes, 0, 0) == []
    events = {ev.ident: ev for ev in kq.control(None, 8, 0)}
    assert events[1].udata == "kept"


def test_events_carry_only_the_flags_asked_for(kq: Queue) -> None:
    # a change list with a change the host refuses is applied one change at a time by
    # the kqueue backend; the EV_RECEIPT it used for that stayed on the knotes
    changes = [
        KEvent(7, Filter.USER, Flag.ADD, TRIGGER),
        KEvent(1, Filter.FS, Flag.ADD),  # unsupported everywhere but FreeBSD
    ]
    kq.control(changes, 4, 0)
    (ev,) = [ev for ev in kq.control(None, 8, 0) if ev.filter == Filter.USER]
    assert not ev.flags & Flag.RECEIPT


def test_a_refused_change_leaves_udata_alone(kq: Queue) -> None:
    # a change refused with an error entry changes nothing, udata neither (D3): the
    # engine had replaced it (and the C fast path had not), while the kqueue backend,
    # like a BSD kernel, kept the old one
    a, b = socket.socketpair()
    with a, b:
        kq.control([KEvent(a, Filter.WRITE, Flag.ADD, udata="old")], 0)
        (err,) = kq.control([KEvent(a, Filter.WRITE, 0, NoteRW.LOWAT, 1, udata="new")], 1, 0)
        if not err.flags & Flag.ERROR:
            pytest.skip("WRITE NOTE_LOWAT is supported here: nothing is refused")
        (ev,) = kq.control(None, 4, 0)
        assert ev.udata == "old"


def test_a_refused_forceoneshot_changes_nothing(kq: Queue) -> None:
    # EV_FORCEONESHOT used to make the knote one-shot before the rest of the change was
    # refused (NOTE_LOWAT on a pipe: EINVAL), against D3; the C core's view then kept
    # the old flags and the two engines disagreed (the differential test, seed 142)
    r, w = os.pipe()
    try:
        kq.control([KEvent(r, Filter.READ, Flag.ADD)], 0)
        os.write(w, b"abc")
        force = KEvent(r, Filter.READ, Flag.FORCEONESHOT, NoteRW.LOWAT, 2)
        (entry,) = kq.control([force], 1, 0)
        assert entry.flags & Flag.ERROR and entry.data == errno.EINVAL
        for _ in range(2):  # still level, not one-shot (iocp: a pipe's readiness comes
            (ev,) = kq.control(None, 4, 2)  # from a zero-byte read: wait for it)
            assert (ev.ident, ev.flags & Flag.ONESHOT, ev.data) == (r, 0, 3)
    finally:
        os.close(r)
        os.close(w)
