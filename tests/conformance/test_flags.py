"""Flag semantics: ENABLE/DISABLE, ONESHOT, CLEAR, DISPATCH, RECEIPT, udata (C-27..C-38)."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterator

import pytest

from kevents import Filter, Flag, KEvent, NoteUser, Queue
from kevents.testing import expect_no_events

TRIGGER = NoteUser.TRIGGER


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def test_disable_then_enable(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-27
    kq.control([KEvent(b, Filter.READ), KEvent(b, Filter.READ, Flag.DISABLE)], 0)
    a.send(b"abc")
    expect_no_events(kq)
    (ev,) = kq.control([KEvent(b, Filter.READ, Flag.ENABLE)], 1, 1)
    assert ev.data == 3


def test_add_does_not_reenable(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-28
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.DISABLE)], 0)
    a.send(b"x")
    kq.control([KEvent(b, Filter.READ, Flag.ADD)], 0)
    expect_no_events(kq)
    assert len(kq.control([KEvent(b, Filter.READ, Flag.ENABLE)], 1, 1)) == 1


def test_oneshot(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-29
    a.send(b"x")
    (ev,) = kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.ONESHOT)], 1, 1)
    assert ev.flags & Flag.ONESHOT
    expect_no_events(kq)
    with pytest.raises(FileNotFoundError):
        kq.control([KEvent(b, Filter.READ, Flag.DELETE)], 0)


def test_clear_is_edge(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-30
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.CLEAR)], 0)
    a.send(b"ab")
    (ev,) = kq.control(None, 1, 1)
    assert ev.data == 2 and ev.flags & Flag.CLEAR
    b.recv(1)
    expect_no_events(kq)
    a.send(b"c")
    assert len(kq.control(None, 1, 1)) == 1


def test_dispatch(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-31
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.DISPATCH)], 0)
    a.send(b"x")
    (ev,) = kq.control(None, 1, 1)
    assert ev.flags & Flag.DISPATCH
    expect_no_events(kq)
    assert len(kq.control([KEvent(b, Filter.READ, Flag.ENABLE)], 1, 1)) == 1
    kq.control([KEvent(b, Filter.READ, Flag.DELETE)], 0)


def test_persistent_flags_fixed_at_creation(kq: Queue) -> None:  # C-32, D2
    kq.control([KEvent(1, Filter.TIMER, Flag.ADD, data=20)], 0)
    kq.control([KEvent(1, Filter.TIMER, Flag.ADD | Flag.ONESHOT, data=20)], 0)
    assert len(kq.control(None, 1, 1)) == 1
    (ev,) = kq.control(None, 1, 1)  # still periodic
    assert not ev.flags & Flag.ONESHOT
    kq.control([KEvent(1, Filter.TIMER, Flag.DELETE)], 0)


def test_udata_replaced_by_every_change(kq: Queue) -> None:  # C-33, D3
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR, udata="A")], 0)
    kq.control([KEvent(1, Filter.USER, 0, TRIGGER, udata="B")], 0)
    (ev,) = kq.control(None, 1, 0)
    assert ev.udata == "B"
    kq.control([KEvent(1, Filter.USER, 0, TRIGGER)], 0)
    (ev,) = kq.control(None, 1, 0)
    assert ev.udata is None
    kq.control([KEvent(1, Filter.USER, Flag.KEEPUDATA, TRIGGER, udata="ignored")], 0)
    (ev,) = kq.control(None, 1, 0)
    assert ev.udata is None


def test_keepudata_on_a_socket(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    """EV_KEEPUDATA (0x200) keeps a READ knote's udata through EV_ENABLE and EV_DISABLE;
    a bit no flag has (0x400) is no EV_KEEPUDATA (C-33, D3)."""
    a, b = pair
    kq.control([KEvent(b, Filter.READ, Flag.ADD, udata="A")], 0)
    kq.control([KEvent(b, Filter.READ, Flag.DISABLE | Flag.KEEPUDATA, udata="x")], 0)
    kq.control([KEvent(b, Filter.READ, Flag.ENABLE | Flag.KEEPUDATA, udata="y")], 0)
    a.send(b"1")
    (ev,) = kq.control(None, 1, 1)
    assert ev.udata == "A"
    kq.control([KEvent(b, Filter.READ, Flag.ENABLE | 0x400, udata="B")], 0)
    (ev,) = kq.control(None, 1, 0)
    assert ev.udata == "B"


def test_receipt_flag_persists(kq: Queue) -> None:  # C-34
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.RECEIPT | Flag.CLEAR)], 1)
    (ev,) = kq.control([KEvent(1, Filter.USER, 0, TRIGGER)], 1, 0)
    assert not ev.flags & Flag.ERROR  # an event, not a receipt: this change had none
    assert ev.flags & Flag.RECEIPT


@pytest.mark.parametrize("action", [Flag.DISABLE, Flag.DELETE])
def test_disable_or_delete_drains(
    kq: Queue, pair: tuple[socket.socket, socket.socket], action: Flag
) -> None:  # C-35, C-36
    a, b = pair
    kq.control([KEvent(b, Filter.READ)], 0)
    a.send(b"x")
    time.sleep(0.01)
    kq.control([KEvent(b, Filter.READ, action)], 0)
    assert kq.control(None, 1, 0.1) == []
    for q_flags in (Flag.ADD | Flag.CLEAR,):
        kq.control([KEvent(2, Filter.USER, q_flags, TRIGGER)], 0)
        kq.control([KEvent(2, Filter.USER, action)], 0)
        assert kq.control(None, 1, 0.05) == []


def test_same_key_in_two_queues(
    kq: Queue, backend: str, pair: tuple[socket.socket, socket.socket]
) -> None:  # C-37
    a, b = pair
    with Queue(backend=backend) as kq2:
        for q in (kq, kq2):
            q.control([KEvent(b, Filter.READ, Flag.ADD | Flag.CLEAR)], 0)
        a.send(b"x")
        assert len(kq.control(None, 1, 1)) == 1
        assert len(kq2.control(None, 1, 1)) == 1


def test_oneshot_dispatch_is_oneshot(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:  # C-38, D8
    a, b = pair
    a.send(b"x")
    got = kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.ONESHOT | Flag.DISPATCH)], 1, 1)
    assert len(got) == 1
    with pytest.raises(OSError) as info:
        kq.control([KEvent(b, Filter.READ, Flag.ENABLE)], 0)
    assert info.value.errno == errno.ENOENT


def test_forceoneshot(kq: Queue) -> None:
    kq.control([KEvent(3, Filter.USER, Flag.ADD, 0, 7)], 0)
    (ev,) = kq.control([KEvent(3, Filter.USER, Flag.FORCEONESHOT, 0, 7)], 1, 0)
    assert ev.ident == 3 and ev.flags & Flag.ONESHOT
    with pytest.raises(FileNotFoundError):
        kq.control([KEvent(3, Filter.USER, Flag.DELETE)], 0)
