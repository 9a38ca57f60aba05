"""Long change lists: the same results and errors whether the backend applies them one
by one or in batches (io_uring on "linux-io_uring"; issue 6 item 3)."""

from __future__ import annotations

import errno
import socket
import sys
import tempfile
from collections.abc import Iterator

import pytest

from kevents import Filter, Flag, KEvent, Queue
from kevents.testing import keys

N = 40


@pytest.fixture
def socks() -> Iterator[list[socket.socket]]:
    pairs = [socket.socketpair() for _ in range(N // 2)]
    flat = [s for pair in pairs for s in pair]
    yield flat
    for s in flat:
        s.close()


def closed_fd() -> int:
    """A descriptor number that is not open (a freshly closed one could be reused by
    the queue itself when it creates its ring)."""
    return 999_999


def test_many_adds_then_events(kq: Queue, socks: list[socket.socket]) -> None:
    changes = [KEvent(s, Filter.READ, udata=i) for i, s in enumerate(socks)]
    changes += [KEvent(s, Filter.WRITE, Flag.ADD | Flag.CLEAR) for s in socks]
    assert kq.control(changes, 0) == []
    got = kq.control(None, 4 * N, 1)
    assert keys(got) == {(s.fileno(), Filter.WRITE) for s in socks}
    socks[3].send(b"abc")
    (ev,) = [e for e in kq.control(None, 4 * N, 1) if e.filter == Filter.READ]
    assert (ev.ident, ev.data, ev.udata) == (socks[2].fileno(), 3, 2)


def test_error_in_the_middle_with_room(kq: Queue, socks: list[socket.socket]) -> None:
    bad = closed_fd()
    changes = [KEvent(s, Filter.READ) for s in socks[:20]]
    changes += [KEvent(bad, Filter.READ)] + [KEvent(s, Filter.READ) for s in socks[20:]]
    (entry,) = kq.control(changes, 4, 0)
    assert entry.ident == bad and entry.flags & Flag.ERROR and entry.data == errno.EBADF
    socks[-1].send(b"x")  # a change after the failed one took effect
    assert (socks[-2].fileno(), Filter.READ) in keys(kq.control(None, 64, 1))


def test_error_without_room_stops_the_list(kq: Queue, socks: list[socket.socket]) -> None:
    bad = closed_fd()
    changes = [KEvent(s, Filter.READ) for s in socks[:20]]
    changes += [KEvent(bad, Filter.READ)] + [KEvent(s, Filter.READ) for s in socks[20:]]
    with pytest.raises(OSError) as info:
        kq.control(changes, 0)
    assert info.value.errno == errno.EBADF
    for s in socks[20:]:  # not applied: deleting them says ENOENT
        (e,) = kq.control([KEvent(s, Filter.READ, Flag.DELETE)], 1, 0)
        assert e.data == errno.ENOENT
    for s in socks[:20]:  # applied
        assert kq.control([KEvent(s, Filter.READ, Flag.DELETE)], 1, 0) == []
    for s in socks[21:]:  # and the kernel has no registration left behind for them
        s.send(b"x")
    assert kq.control(None, 64, 0.05) == []


def test_receipts_in_a_long_list(kq: Queue, socks: list[socket.socket]) -> None:
    changes = [KEvent(s, Filter.READ, Flag.ADD | Flag.RECEIPT) for s in socks]
    got = kq.control(changes, N, 0)
    assert [(e.ident, e.data) for e in got] == [(s.fileno(), 0) for s in socks]
    assert all(e.flags & Flag.ERROR for e in got)
    # receipts without room stop after the first; the rest is not applied
    changes = [KEvent(s, Filter.WRITE, Flag.ADD | Flag.RECEIPT) for s in socks]
    assert kq.control(changes, 0, 0) == []
    (e,) = kq.control([KEvent(socks[1], Filter.WRITE, Flag.DELETE)], 1, 0)
    assert e.data == errno.ENOENT


def test_files_and_repeated_keys_in_a_long_list(kq: Queue, socks: list[socket.socket]) -> None:
    with tempfile.TemporaryFile() as f:
        f.write(b"12345")
        f.seek(0)
        changes = [KEvent(s, Filter.READ, Flag.ADD | Flag.DISPATCH) for s in socks[:10]]
        changes += [KEvent(f, Filter.READ)]  # epoll refuses regular files: user space
        changes += [KEvent(s, Filter.READ, Flag.ADD | Flag.DISPATCH) for s in socks[10:]]
        changes += [KEvent(socks[0], Filter.READ, Flag.DELETE)]  # repeated key
        assert kq.control(changes, 0) == []
        got = kq.control(None, 64, 1)
        assert keys(got) == {(f.fileno(), Filter.READ)} and got[0].data == 5
        socks[0].send(b"x")
        socks[1].send(b"y")  # socks[0] was deleted by the last change: no event for it
        got = keys(kq.control(None, 64, 1))
        assert (socks[1].fileno(), Filter.READ) in got
        assert (socks[0].fileno(), Filter.READ) not in got
        kq.control([KEvent(f, Filter.READ, Flag.DELETE)], 0)


@pytest.mark.skipif(sys.platform == "win32", reason="AF_UNIX datagram socketpair: not on Windows")
def test_dgram_sockets_in_a_long_list(kq: Queue) -> None:
    us = [socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(N)]
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        kq.control([KEvent(s, Filter.READ) for s in us] + [KEvent(b, Filter.READ)], 0)
        a.send(b"")  # a zero-length datagram is readable, with data 0: never stale
        (ev,) = kq.control(None, 4, 1)
        assert ev.ident == b.fileno() and ev.data == 0
        b.recv(1)
        assert kq.control(None, 4, 0.05) == []
    finally:
        for s in (*us, a, b):
            s.close()
