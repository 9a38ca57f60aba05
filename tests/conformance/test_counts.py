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


def test_non_counting_queue_regular_file_keeps_data(
    backend: str, quiet_kq: kevents.Queue, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    kind, note = status("READ/WRITE non-socket", backend)
    if kind == "unsupported":
        pytest.skip(note)
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    fd = os.open(path, os.O_RDONLY)
    try:
        quiet_kq.control([KEvent(fd, Filter.READ, Flag.ADD | Flag.ONESHOT)], 0)
        (ev,) = quiet_kq.control(None, 4, 5)
        assert ev.data == 6  # user-space data costs no system call per hop: kept
    finally:
        os.close(fd)
