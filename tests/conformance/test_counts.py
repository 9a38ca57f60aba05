"""``Queue(counts=False)``: READ/WRITE ``data`` that costs nothing when nobody reads it
(issue 13 deliver 3, D43). A counting queue always reports FreeBSD's value; a
non-counting one reports the same readiness (and EOF) with ``data`` 0 where the platform
table says so, and never a stale count."""

from __future__ import annotations

import os
import socket

import pytest
from conftest import queue_args

import kevents
from kevents import Filter, Flag, KEvent
from kevents._platforms import status


@pytest.fixture
def quiet_kq(backend: str):  # type: ignore[no-untyped-def]
    q = kevents.Queue(**queue_args(backend), counts=False)  # type: ignore[arg-type]
    try:
        yield q
    finally:
        q.close()


def _zero(backend: str) -> bool:
    return status("READ/WRITE data with counts=False", backend)[0] != "yes"


def test_counting_queue_reports_bytes(kq: kevents.Queue) -> None:
    a, b = socket.socketpair()
    with a, b:
        kq.control([KEvent(a.fileno(), Filter.READ)], 0)
        b.send(b"12345")
        (ev,) = kq.control(None, 4, 5)
        assert ev.data == 5  # FreeBSD's value, never stale
        b.send(b"678")
        (ev,) = kq.control(None, 4, 5)
        assert ev.data == 8


def test_non_counting_queue_same_readiness(backend: str, quiet_kq: kevents.Queue) -> None:
    a, b = socket.socketpair()
    with a, b:
        quiet_kq.control(
            [KEvent(a.fileno(), Filter.READ, udata="r"), KEvent(a.fileno(), Filter.WRITE)], 0
        )
        got = {ev.filter: ev for ev in quiet_kq.control(None, 4, 5)}
        assert set(got) == {Filter.WRITE}  # nothing to read yet: no READ event
        if _zero(backend):
            assert got[Filter.WRITE].data == 0
        else:
            assert got[Filter.WRITE].data > 0
        b.send(b"12345")
        got = {ev.filter: ev for ev in quiet_kq.control(None, 4, 5)}
        assert got[Filter.READ].udata == "r"
        assert got[Filter.READ].data == (0 if _zero(backend) else 5)
        a.recv(5)
        b.shutdown(socket.SHUT_WR)
        got = {ev.filter: ev for ev in quiet_kq.control(None, 4, 5)}
        assert got[Filter.READ].flags & Flag.EOF  # EOF still comes from the kernel


@pytest.mark.parametrize("opt_out", ["queue", "knote"])
def test_opt_outs_keep_a_regular_files_data(backend: str, opt_out: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Neither counts=False (D43) nor Flag.NODATA (D78) takes a regular file's data:
    it is computed in user space and costs no system call per hop."""
    kind, note = status("READ/WRITE non-socket", backend)
    if kind == "unsupported":
        pytest.skip(note)
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    fd = os.open(path, os.O_RDONLY)
    flags = Flag.ADD | Flag.ONESHOT | (Flag.NODATA if opt_out == "knote" else 0)
    try:
        with kevents.Queue(**queue_args(backend), counts=opt_out != "queue") as q:  # type: ignore[arg-type]
            q.control([KEvent(fd, Filter.READ, flags)], 0)
            (ev,) = q.control(None, 4, 5)
        assert ev.data == 6
    finally:
        os.close(fd)


# -- Flag.NODATA: the same opt-out for one knote (D78) -------------------------------------


def _nodata_zero(backend: str) -> bool:
    return status("READ/WRITE data with Flag.NODATA", backend)[0] != "yes"


def _quiet_and_plain(
    kq: kevents.Queue, filt: int, quiet: socket.socket, plain: socket.socket, *, swap: bool = False
) -> None:
    """Register ``quiet`` with Flag.NODATA and ``plain`` without (``swap``: the other
    way round, on knotes that exist already), udata naming which is which."""
    flags = (Flag.ADD, Flag.ADD | Flag.NODATA) if swap else (Flag.ADD | Flag.NODATA, Flag.ADD)
    kq.control(
        [
            KEvent(quiet.fileno(), filt, flags[0], udata="quiet"),
            KEvent(plain.fileno(), filt, flags[1], udata="plain"),
        ],
        0,
    )


def test_nodata_knote_beside_a_counting_one(backend: str, kq: kevents.Queue) -> None:
    """An adapter's knote opts out; a user's knote on the same queue still gets
    FreeBSD's data, updated at every event (never stale)."""
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        _quiet_and_plain(kq, Filter.READ, a, c)
        b.send(b"12345")
        d.send(b"123")
        got = {ev.udata: ev for ev in kq.control(None, 4, 5)}
        assert set(got) == {"quiet", "plain"}
        assert got["plain"].data == 3
        assert got["quiet"].data == (0 if _nodata_zero(backend) else 5)
        # the bit is input only: events carry the knote's BSD flags
        assert not got["quiet"].flags & Flag.NODATA
        d.send(b"4567")
        c.recv(1)
        got = {ev.udata: ev for ev in kq.control(None, 4, 5)}
        assert got["plain"].data == 6
        a.recv(5)
        c.recv(6)
        b.shutdown(socket.SHUT_WR)
        got = {ev.udata: ev for ev in kq.control(None, 4, 5)}
        assert set(got) == {"quiet"}
        assert got["quiet"].flags & Flag.EOF  # EOF still comes from the kernel


def test_nodata_write_knote(backend: str, kq: kevents.Queue) -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        _quiet_and_plain(kq, Filter.WRITE, a, c)
        got = {ev.udata: ev for ev in kq.control(None, 4, 5)}
        assert got["plain"].data > 0  # free space
        if _nodata_zero(backend):
            assert got["quiet"].data == 0
        else:
            assert got["quiet"].data > 0


def test_nodata_is_kept_from_the_creating_change(backend: str, kq: kevents.Queue) -> None:
    """Like EV_CLEAR, the opt-out belongs to the knote: a later EV_ADD neither takes
    it away nor gives it to a counting knote."""
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        _quiet_and_plain(kq, Filter.READ, a, c)
        _quiet_and_plain(kq, Filter.READ, a, c, swap=True)
        b.send(b"12")
        d.send(b"123")
        got = {ev.udata: ev for ev in kq.control(None, 4, 5)}
        assert got["plain"].data == 3
        assert got["quiet"].data == (0 if _nodata_zero(backend) else 2)


def test_nodata_long_change_list(backend: str, kq: kevents.Queue) -> None:
    """A run long enough for the io_uring batch (linux-io_uring) keeps each knote's
    choice."""
    pairs = [socket.socketpair() for _ in range(12)]
    try:
        changes = [
            KEvent(a.fileno(), Filter.READ, Flag.ADD | (Flag.NODATA if i % 2 else 0), udata=i)
            for i, (a, _) in enumerate(pairs)
        ]
        kq.control(changes, 0)
        for _, b in pairs:
            b.send(b"abcd")
        got = {ev.udata: ev.data for ev in kq.control(None, 32, 5)}
        assert set(got) == set(range(12))
        for i, data in got.items():
            assert data == (0 if i % 2 and _nodata_zero(backend) else 4)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_only_nodata_lies_outside_16_bits(kq: kevents.Queue) -> None:
    with pytest.raises(ValueError):
        kq.control([KEvent(1, Filter.USER, Flag.ADD | 0x20000)], 0)
    with pytest.raises(ValueError):
        kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.NODATA | 0x40000)], 0)
    # accepted, and ignored, by filters that have no count to skip
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.NODATA)], 0)
    kq.control([KEvent(1, Filter.USER, 0, kevents.NoteUser.TRIGGER)], 0)
    (ev,) = kq.control(None, 4, 0)
    assert ev.ident == 1 and ev.filter == Filter.USER and not ev.flags & Flag.NODATA
