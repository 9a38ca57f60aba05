"""The kevent() call contract: change lists, per-change errors, receipts (spec §4, C-1..C-16)."""

from __future__ import annotations

import errno
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from kevents import Filter, Flag, KEvent, Queue, UnsupportedError
from kevents.testing import keys, scaled


@pytest.mark.skipif(
    sys.platform == "win32", reason="Queue.fileno() is unsupported on Windows (table: queue fileno)"
)
def test_new_queue_is_empty_and_cloexec(kq: Queue) -> None:  # C-1
    assert kq.fileno() >= 0
    assert not os.get_inheritable(kq.fileno())
    assert kq.control(None, 1, 0) == []


def test_negative_max_events_is_valueerror(kq: Queue) -> None:  # C-3, D38
    with pytest.raises(ValueError):
        kq.control(None, -1, 0)


def test_bad_timeouts(kq: Queue) -> None:  # C-4 (Python surface)
    with pytest.raises(ValueError):
        kq.control(None, 1, -1)
    with pytest.raises(ValueError):
        kq.control(None, 1, float("nan"))
    with pytest.raises(TypeError):
        kq.control(None, 1, "1")  # type: ignore[arg-type]


@pytest.mark.parametrize("filt", [Filter.READ, Filter.WRITE, Filter.TIMER, Filter.USER])
def test_delete_missing_raises_enoent(kq: Queue, filt: Filter) -> None:  # C-5
    a, b = socket.socketpair()
    with a, b:
        ident = a.fileno() if filt in (Filter.READ, Filter.WRITE) else 999
        with pytest.raises(FileNotFoundError):
            kq.control([KEvent(ident, filt, Flag.DELETE)], 0, 0)
        (entry,) = kq.control([KEvent(ident, filt, Flag.DELETE, udata="u")], 1, 0)  # C-6
        assert entry.flags & Flag.ERROR
        assert entry.data == errno.ENOENT
        assert (entry.ident, entry.filter, entry.udata) == (ident, filt, "u")


@pytest.fixture
def readable_pipe() -> Iterator[int]:
    """A socket with one byte waiting (a socket, so that every OS can watch it)."""
    a, b = socket.socketpair()
    with a, b:
        a.send(b"x")
        yield b.fileno()


def mixed_changes(r: int) -> list[KEvent]:
    """ADD READ on a readable pipe, DELETE of a missing key, ADD USER 5 (spec §9 C-7)."""
    return [
        KEvent(r, Filter.READ),
        KEvent(12345, Filter.USER, Flag.DELETE),
        KEvent(5, Filter.USER, Flag.ADD),
    ]


def test_error_entry_suppresses_collection(kq: Queue, readable_pipe: int) -> None:  # C-7
    got = kq.control(mixed_changes(readable_pipe), 4, 0)
    assert len(got) == 1 and got[0].data == errno.ENOENT and got[0].flags & Flag.ERROR
    assert keys(kq.control(None, 4, 0)) == {(readable_pipe, Filter.READ)}
    kq.control([KEvent(5, Filter.USER, Flag.DELETE)], 0)  # USER 5 exists


def test_error_without_room_stops_processing(kq: Queue, readable_pipe: int) -> None:  # C-8
    with pytest.raises(FileNotFoundError):
        kq.control(mixed_changes(readable_pipe), 0, None)
    assert keys(kq.control(None, 4, 0)) == {(readable_pipe, Filter.READ)}
    with pytest.raises(FileNotFoundError):
        kq.control([KEvent(5, Filter.USER, Flag.DELETE)], 0)


def test_receipts(kq: Queue) -> None:  # C-9
    changes = [KEvent(i, Filter.USER, Flag.ADD | Flag.RECEIPT) for i in range(3)]
    got = kq.control(changes, 3, 0)
    assert [(e.ident, bool(e.flags & Flag.ERROR), e.data) for e in got] == [
        (0, True, 0),
        (1, True, 0),
        (2, True, 0),
    ]


def test_receipt_without_room_stops(kq: Queue) -> None:  # C-10, D6
    changes = [KEvent(i, Filter.USER, Flag.ADD | Flag.RECEIPT) for i in range(2)]
    assert kq.control(changes, 0, 0) == []
    kq.control([KEvent(0, Filter.USER, Flag.DELETE)], 0)
    with pytest.raises(FileNotFoundError):
        kq.control([KEvent(1, Filter.USER, Flag.DELETE)], 0)


@pytest.mark.parametrize(
    "flags",
    [Flag.ADD | Flag.ENABLE | Flag.DISABLE, Flag.ADD | Flag.DELETE, Flag.ADD | Flag.KEEPUDATA],
)
def test_contradictory_flags_are_einval(kq: Queue, flags: Flag) -> None:  # C-11, D8
    (entry,) = kq.control([KEvent(1, Filter.USER, flags)], 1, 0)
    assert entry.data == errno.EINVAL


def test_closed_fd_and_huge_ident_are_ebadf(kq: Queue) -> None:  # C-12
    a, b = socket.socketpair()
    r = a.fileno()
    a.close()
    b.close()
    if sys.platform == "win32":
        # Windows hands a closed handle's value out again at once (Wine gave it to the
        # next socket); this multiple of 4 is never a handle of this small process
        r = 0x3FFFFFFC
    got = kq.control([KEvent(r, Filter.READ), KEvent(2**40, Filter.READ)], 2, 0)
    assert [e.data for e in got] == [errno.EBADF, errno.EBADF]


@pytest.mark.parametrize("filt", [-100, 1])
def test_unknown_filter_is_einval(kq: Queue, filt: int) -> None:  # C-13
    (entry,) = kq.control([KEvent(1, filt)], 1, 0)
    assert entry.data == errno.EINVAL


def test_unprovided_filter_is_unsupported(kq: Queue) -> None:
    (entry,) = kq.control([KEvent(1, Filter.FS)], 1, 0)
    assert entry.data == errno.ENOTSUP
    with pytest.raises(UnsupportedError):
        kq.control([KEvent(1, Filter.FS)], 0, 0)


def test_max_events_zero_returns_at_once(kq: Queue) -> None:  # C-14
    t0 = time.monotonic()
    assert kq.control([KEvent(1, Filter.USER, Flag.ADD)], 0, None) == []
    assert time.monotonic() - t0 < 1


def test_timeout_is_honoured_not_early(kq: Queue) -> None:  # C-15
    t0 = time.monotonic()
    assert kq.control(None, 1, 0.05) == []
    dt = time.monotonic() - t0
    assert 0.05 <= dt < scaled(1)


def test_changes_apply_before_collect(kq: Queue) -> None:  # C-16
    a, b = socket.socketpair()
    with a, b:
        a.send(b"x")
        assert keys(kq.control([KEvent(b, Filter.READ)], 1, 0)) == {(b.fileno(), Filter.READ)}


def test_level_events_round_robin(kq: Queue) -> None:  # C-17
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for a, _ in pairs:
            a.send(b"x")
        kq.control([KEvent(b, Filter.READ) for _, b in pairs], 0)
        seen = [kq.control(None, 1, 0)[0].ident for _ in range(3)]
        assert sorted(seen) == sorted(b.fileno() for _, b in pairs)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_read_and_write_with_one_slot_lose_nothing(kq: Queue) -> None:  # C-18
    a, b = socket.socketpair()
    with a, b:
        a.send(b"x")
        kq.control([KEvent(b, Filter.READ), KEvent(b, Filter.WRITE)], 0)
        first = kq.control(None, 1, 0)
        second = kq.control(None, 1, 0)
        assert keys(first + second) == {(b.fileno(), Filter.READ), (b.fileno(), Filter.WRITE)}


@pytest.mark.skipif(sys.platform == "win32", reason="Queue.fileno() is unsupported on Windows")
def test_queue_fd_polls_readable_while_pending(kq: Queue) -> None:  # C-19
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    assert select.select([kq.fileno()], [], [], 0)[0] == []
    kq.control([KEvent(1, Filter.USER, 0, 0x01000000)], 0)
    assert select.select([kq.fileno()], [], [], 0)[0] == [kq.fileno()]
    assert len(kq.control(None, 1, 0)) == 1
    assert select.select([kq.fileno()], [], [], 0)[0] == []


@pytest.mark.skipif(
    sys.platform == "win32", reason="Queue.fileno() is unsupported on Windows (no nesting)"
)
def test_nested_queue(kq: Queue, backend: str) -> None:  # C-20
    with Queue(backend=backend) as inner:
        kq.control([KEvent(inner.fileno(), Filter.READ)], 0)
        assert kq.control(None, 1, 0) == []
        inner.control([KEvent(9, Filter.USER, Flag.ADD | Flag.CLEAR, 0x01000000)], 0)
        (ev,) = kq.control(None, 1, 1)
        assert (ev.ident, ev.filter) == (inner.fileno(), Filter.READ) and ev.data >= 1
        kq.control([KEvent(inner.fileno(), Filter.READ, Flag.DELETE)], 0)
    (entry,) = kq.control([KEvent(kq.fileno(), Filter.READ)], 1, 0)
    assert entry.data == errno.EINVAL


def test_read_write_at_eof_in_one_changelist(kq: Queue, backend: str) -> None:  # C-26
    from kevents._platforms import status

    a, b = socket.socketpair()
    with b:
        a.close()
        got = kq.control([KEvent(b, Filter.READ), KEvent(b, Filter.WRITE)], 4, 1)
        assert keys(got) == {(b.fileno(), Filter.READ), (b.fileno(), Filter.WRITE)}
        eof = {e.filter for e in got if e.flags & Flag.EOF}
        if status("WRITE EOF after peer close", backend)[0] == "yes":
            assert eof == {Filter.READ, Filter.WRITE}
        else:
            assert eof == {Filter.READ}
        kq.control([KEvent(b, Filter.READ, Flag.DELETE), KEvent(b, Filter.WRITE, Flag.DELETE)], 0)


def test_changelist_type_and_range_errors(kq: Queue) -> None:
    with pytest.raises(TypeError):
        kq.control([(1, Filter.USER)], 0)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        kq.control([KEvent(object(), Filter.USER)], 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        kq.control([KEvent(1, Filter.USER, 0x20000)], 0)  # 0x10000 is Flag.NODATA (D78)
    with pytest.raises(ValueError):
        kq.control([KEvent(1, Filter.USER, Flag.ADD, 2**32)], 0)


def test_fileno_objects_and_iterables(kq: Queue) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.send(b"x")
        got = kq.control(iter([KEvent(b, Filter.READ)]), 2, 0)  # type: ignore[arg-type]
        assert keys(got) == {(b.fileno(), Filter.READ)}
        assert isinstance(got[0].ident, int)


@pytest.mark.parametrize("huge", [10**30, 1e300, float("inf")])
def test_huge_timeouts_are_clamped(kq: Queue, huge: float) -> None:
    kq.control([KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
    timer = threading.Timer(0.05, kq.control, ([KEvent(1, Filter.USER, 0, 0x01000000)], 0))
    timer.start()
    try:
        assert len(kq.control(None, 1, huge)) == 1
    finally:
        timer.join()


def test_returned_flags_strip_actions(kq: Queue) -> None:  # D4
    got = kq.control(
        [KEvent(1, Filter.USER, Flag.ADD | Flag.ENABLE | Flag.CLEAR, 0x01000000)], 1, 0
    )
    (ev,) = got
    assert ev.flags & Flag.CLEAR
    assert not ev.flags & (Flag.ADD | Flag.ENABLE | Flag.DELETE | Flag.DISABLE)


def test_empty_filter_refused_where_unsupported(kq: Queue, backend: str) -> None:  # D31
    from kevents._platforms import status

    a, b = socket.socketpair()
    with a, b:
        (ev,) = kq.control([KEvent(a, Filter.EMPTY)], 1, 0) or [None]
        if status("EVFILT_EMPTY", backend)[0] == "unsupported":
            assert ev is not None and ev.flags & Flag.ERROR and ev.data == errno.ENOTSUP


def test_registration_from_another_thread_reaches_a_blocked_waiter(kq: Queue) -> None:
    # D41: on IOCP the waiter issues the kernel request, so it must be woken to do so
    a, b = socket.socketpair()
    with a, b:
        got: list[KEvent] = []
        t = threading.Thread(target=lambda: got.extend(kq.control(None, 4, scaled(5))))
        t.start()
        time.sleep(0.2)  # the waiter is blocked now
        kq.control([KEvent(b, Filter.READ)], 0)
        a.send(b"x")
        t.join()
        assert [(e.ident, e.filter, e.data) for e in got] == [(b.fileno(), Filter.READ, 1)]
