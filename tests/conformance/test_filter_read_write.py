"""EVFILT_READ and EVFILT_WRITE (spec §5.1, §5.2, C-39..C-58)."""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from conftest import queue_args

from kevents import Filter, Flag, KEvent, NoteRW, Queue
from kevents._platforms import status
from kevents.testing import expect_no_events, keys


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def test_oneshot_reports_data_at_copy_out(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:  # D41: a ONESHOT knote is re-checked too
    a, b = pair
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.ONESHOT)], 0)
    a.send(b"xy")
    time.sleep(0.05)
    (ev,) = kq.control(None, 1, 1)
    assert ev.data == 2


def test_socket_read(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:  # C-39
    a, b = pair
    kq.control([KEvent(b, Filter.READ)], 0)
    a.send(b"x")
    (ev,) = kq.control(None, 2, 1)
    assert (ev.ident, ev.filter, ev.data, ev.flags & Flag.EOF) == (b.fileno(), Filter.READ, 1, 0)
    b.recv(1)
    expect_no_events(kq)
    kq.control([KEvent(b, Filter.READ, Flag.DELETE)], 0)


def test_pipe_data_exact(kq: Queue) -> None:  # C-40
    r, w = os.pipe()
    try:
        kq.control([KEvent(r, Filter.READ)], 0)
        os.write(w, b"x" * 11)
        os.write(w, b"y" * 11)
        (ev,) = kq.control(None, 2, 1)
        assert ev.data == 22
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(
    sys.platform == "win32", reason="Windows cannot count the backlog (table: READ listener data)"
)
def test_listener_count(kq: Queue, backend: str) -> None:  # C-41, D33
    srv = socket.create_server(("127.0.0.1", 0), backlog=8)
    c1 = socket.create_connection(srv.getsockname())
    c2 = socket.create_connection(srv.getsockname())
    with srv, c1, c2:
        (ev,) = kq.control([KEvent(srv, Filter.READ, Flag.ADD | Flag.ONESHOT)], 1, 1)
        assert ev.data >= 2
        kq.control([KEvent(srv, Filter.WRITE)], 0)  # C-47: never fires on a listener
        expect_no_events(kq)


def test_eof_with_buffered_data(
    kq: Queue, backend: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair  # C-42
    a.send(b"12345678")
    a.shutdown(socket.SHUT_WR)
    if status("READ EOF with buffered data", backend)[0] != "yes":
        pytest.skip(status("READ EOF with buffered data", backend)[1])
    kq.control([KEvent(b, Filter.READ)], 0)
    for _ in range(2):
        (ev,) = kq.control(None, 1, 1)
        assert ev.flags & Flag.EOF and ev.data == 8


def test_eof_with_clear_once(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair  # C-43
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.CLEAR)], 0)
    a.close()
    (ev,) = kq.control(None, 1, 1)
    assert ev.flags & Flag.EOF
    expect_no_events(kq)


def test_rst_error_stays_readable(kq: Queue, backend: str) -> None:  # C-44, D39
    srv = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    in_fflags = status("socket error in fflags", backend)[0] != "unsupported"
    with srv, c:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        (ev,) = kq.control([KEvent(c, Filter.READ)], 1, 1)
        assert ev.flags & Flag.EOF
        if in_fflags:
            assert ev.fflags in (errno.ECONNRESET, errno.EPIPE)
        else:
            assert ev.fflags == 0
        # never taken from the program: it reads SO_ERROR after the event
        if status("SO_ERROR after reset", backend)[0] == "yes":
            errs = (errno.ECONNRESET, errno.EPIPE)
            assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in errs
        kq.control([KEvent(c, Filter.READ, Flag.DELETE)], 0)


def test_failed_connect_error_stays_readable(kq: Queue) -> None:  # D39: the connect idiom
    free = socket.create_server(("127.0.0.1", 0))
    addr = free.getsockname()
    free.close()  # nothing listens there now
    c = socket.socket()
    with c:
        c.setblocking(False)
        # Windows answers a non-blocking connect with WSAEWOULDBLOCK, not EINPROGRESS
        assert c.connect_ex(addr) in (errno.EINPROGRESS, errno.ECONNREFUSED, errno.EWOULDBLOCK)
        (ev,) = kq.control([KEvent(c, Filter.WRITE)], 1, 1)
        assert ev.flags & Flag.EOF
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED


def test_pipe_eof_both_directions(kq: Queue) -> None:  # C-45
    r, w = os.pipe()
    os.close(w)
    try:
        kq.control([KEvent(r, Filter.READ)], 0)
        for _ in range(2):
            (ev,) = kq.control(None, 1, 1)
            assert ev.flags & Flag.EOF
        kq.control([KEvent(r, Filter.READ, Flag.DELETE)], 0)
    finally:
        os.close(r)
    r, w = os.pipe()
    os.close(r)
    try:
        (ev,) = kq.control([KEvent(w, Filter.WRITE)], 1, 1)
        assert ev.flags & Flag.EOF and ev.filter == Filter.WRITE
        kq.control([KEvent(w, Filter.WRITE, Flag.DELETE)], 0)
    finally:
        os.close(w)


@pytest.mark.skipif(
    sys.platform == "win32", reason="WRITE data is SO_SNDBUF; os.pipe (table: WRITE data)"
)
def test_write_data_is_free_space(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _b = pair  # C-46
    (ev,) = kq.control([KEvent(a, Filter.WRITE)], 1, 1)
    sndbuf = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert 0 < ev.data <= sndbuf
    a.send(b"x" * 1000)
    (ev2,) = kq.control(None, 1, 1)
    assert ev2.data <= ev.data
    r, w = os.pipe()
    try:
        (ev,) = kq.control([KEvent(w, Filter.WRITE)], 1, 1)
        assert ev.data >= 4096
        kq.control([KEvent(w, Filter.WRITE, Flag.DELETE)], 0)
    finally:
        os.close(r)
        os.close(w)


def test_write_on_unconnected_udp(kq: Queue) -> None:  # C-48
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        assert len(kq.control([KEvent(u, Filter.WRITE)], 1, 1)) == 1
        kq.control([KEvent(u, Filter.WRITE, Flag.DELETE)], 0)


def test_write_clear_once(kq: Queue, pair: tuple[socket.socket, socket.socket]) -> None:  # C-49
    a, _ = pair
    assert len(kq.control([KEvent(a, Filter.WRITE, Flag.ADD | Flag.CLEAR)], 1, 1)) == 1
    expect_no_events(kq)


@pytest.mark.skipif(
    sys.platform == "win32", reason="Wine's pipes never fill (table: WRITE EV_CLEAR on a pipe)"
)
def test_write_clear_on_a_pipe(kq: Queue, backend: str) -> None:  # table: WRITE EV_CLEAR on a pipe
    r, w = os.pipe()
    try:
        os.set_blocking(w, False)
        assert len(kq.control([KEvent(w, Filter.WRITE, Flag.ADD | Flag.CLEAR)], 1, 1)) == 1
        expect_no_events(kq)
        os.write(w, b"x" * 58)
        os.read(r, 58)
        if status("WRITE EV_CLEAR on a pipe", backend)[0] == "yes":
            assert keys(kq.control(None, 2, 1)) == {(w, Filter.WRITE)}
        expect_no_events(kq)
        with pytest.raises(BlockingIOError):
            while True:
                os.write(w, b"x" * 4096)
        expect_no_events(kq)  # full: not writable, on every platform
        os.read(r, 8192)  # a reader frees space in a full pipe: an edge everywhere
        assert keys(kq.control(None, 2, 1)) == {(w, Filter.WRITE)}
        expect_no_events(kq)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(
    sys.platform == "win32", reason="no SO_RCVLOWAT in Winsock (table: READ NOTE_LOWAT)"
)
def test_read_lowat(kq: Queue, backend: str) -> None:  # C-50
    srv = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    with srv, c, s:
        kq.control([KEvent(s, Filter.READ, Flag.ADD | Flag.CLEAR, NoteRW.LOWAT, 16)], 0)
        c.send(b"x" * 8)
        expect_no_events(kq)
        c.send(b"y" * 16)
        (ev,) = kq.control(None, 1, 1)
        assert ev.data >= 16
        kq.control([KEvent(s, Filter.READ, Flag.DELETE)], 0)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1  # restored


@pytest.mark.skipif(
    sys.platform == "win32", reason="no SO_RCVLOWAT in Winsock (table: READ NOTE_LOWAT)"
)
def test_close_puts_back_the_read_lowat_among_plain_knotes(backend: str) -> None:
    # close() drops plain knotes as bookkeeping only (D44); the one in the middle that
    # set a socket's receive low-water mark must still put it back
    srv = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    pairs = [socket.socketpair() for _ in range(20)]
    with srv, c, s:
        kq = Queue(**queue_args(backend))  # type: ignore[arg-type]
        plain = [KEvent(a, Filter.READ) for a, _ in pairs[:10]]
        plain += [KEvent(b, Filter.WRITE, Flag.ADD | Flag.CLEAR) for _, b in pairs[10:]]
        lowat = KEvent(s, Filter.READ, Flag.ADD, NoteRW.LOWAT, 64)
        kq.control([*plain[:10], lowat, *plain[10:]], 0)
        kq.close()
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
        c.send(b"x")  # the socket still works as a plain socket: one byte is readable
        assert s.recv(8) == b"x"
    for a, b in pairs:
        a.close()
        b.close()


def test_write_lowat_per_platform_table(kq: Queue, backend: str) -> None:
    a, b = socket.socketpair()
    with a, b:
        got = kq.control([KEvent(a, Filter.WRITE, Flag.ADD, NoteRW.LOWAT, 100)], 1, 0)
        if status("WRITE NOTE_LOWAT", backend)[0] == "unsupported":
            assert got[0].flags & Flag.ERROR and got[0].data == errno.ENOTSUP
        else:
            assert len(got) == 1 and not got[0].flags & Flag.ERROR


@pytest.mark.skipif(sys.platform == "win32", reason="uses the resource module (POSIX)")
def test_level_lowat_under_the_mark_waits_without_spinning(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:
    # AF_UNIX poll ignores SO_RCVLOWAT on Linux: a level knote under its mark used to
    # come back from every epoll_wait, be dropped, and spin the CPU for the whole wait
    import resource

    a, b = pair
    kq.control([KEvent(a, Filter.READ, Flag.ADD, NoteRW.LOWAT, 10)], 0)
    b.send(b"xy")
    before = resource.getrusage(resource.RUSAGE_SELF)
    assert kq.control(None, 4, 0.5) == []
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    assert cpu < 0.1, f"{cpu:.3f} s of CPU in a 0.5 s wait under the mark"
    b.send(b"x" * 3)
    expect_no_events(kq)  # 5 bytes: still under it
    b.send(b"x" * 5)
    assert [ev.data for ev in kq.control(None, 4, 1)] == [10]
    assert [ev.data for ev in kq.control(None, 4, 0)] == [10]  # level: again
    a.recv(10)
    expect_no_events(kq)
    b.send(b"x" * 12)
    assert [ev.data for ev in kq.control(None, 4, 1)] == [12]


def test_regular_file(kq: Queue) -> None:  # C-51, D14
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        with open(path, "wb") as f:
            f.write(b"0123456789")
        fd = os.open(path, os.O_RDONLY)
        writer = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            (ev,) = kq.control([KEvent(fd, Filter.READ)], 1, 0)
            assert ev.data == 10
            os.lseek(fd, 9, os.SEEK_SET)
            (ev,) = kq.control(None, 1, 0)
            assert ev.data == 1
            os.lseek(fd, 10, os.SEEK_SET)
            assert kq.control(None, 1, 0) == []
            for _ in range(3):
                os.write(writer, b"abcd")
                (ev,) = kq.control(None, 1, 1)
                assert ev.data == 4
                os.lseek(fd, 0, os.SEEK_END)
                assert kq.control(None, 1, 0) == []
            # C-52: rename and unlink do not stop it (on Windows, files opened by Python
            # cannot be renamed or unlinked while open: table "VNODE rename and delete")
            if sys.platform != "win32":
                os.rename(path, path + ".2")
                os.write(writer, b"ef")
                assert kq.control(None, 1, 1)[0].data == 2
                os.lseek(fd, 0, os.SEEK_END)
                os.unlink(path + ".2")
                os.write(writer, b"g")
                assert kq.control(None, 1, 1)[0].data == 1
            os.lseek(fd, 100, os.SEEK_SET)  # D15: past EOF reports a negative count
            os.write(writer, b"h")
            ev = kq.control(None, 1, 1)[0]
            assert ev.data < 0
            kq.control([KEvent(fd, Filter.READ, Flag.DELETE)], 0)
        finally:
            os.close(fd)
            os.close(writer)


def test_regular_file_write_always_ready(kq: Queue) -> None:  # C-53
    with tempfile.TemporaryFile() as f:
        (ev,) = kq.control([KEvent(f, Filter.WRITE)], 1, 0)
        assert ev.data == 0
        f.write(b"x")
        f.flush()
        assert len(kq.control(None, 1, 0)) == 1
        kq.control([KEvent(f, Filter.WRITE, Flag.DELETE)], 0)


def test_dev_null_ready(kq: Queue) -> None:  # C-54
    with open(os.devnull, "r+b") as f:
        got = kq.control([KEvent(f, Filter.READ), KEvent(f, Filter.WRITE)], 2, 0)
        assert keys(got) == {(f.fileno(), Filter.READ), (f.fileno(), Filter.WRITE)}
        kq.control([KEvent(f, Filter.READ, Flag.DELETE), KEvent(f, Filter.WRITE, Flag.DELETE)], 0)


def test_fd_reuse_no_stale_events(kq: Queue) -> None:  # C-55
    x, y = socket.socketpair()
    x.send(b"x")  # y is readable when it goes
    kq.control([KEvent(y, Filter.READ)], 0)
    r = y.fileno()
    y.close()
    x.close()
    a, b = socket.socketpair()
    with a, b:
        b.send(b"x")
        got = kq.control(None, 4, 0.1)
        assert all(ev.ident != r or ev.flags & Flag.ERROR for ev in got)
        # the old knote is gone: adding READ on the reused number is a fresh knote
        if a.fileno() == r:
            assert kq.control([KEvent(a, Filter.READ, Flag.DELETE)], 1, 0)[0].data in (
                errno.ENOENT,
            )


def test_close_with_live_dup_reports_nothing(kq: Queue) -> None:  # C-56, D13
    r, w = os.pipe()
    kq.control([KEvent(r, Filter.READ)], 0)
    r2 = os.dup(r)
    os.close(r)
    try:
        os.write(w, b"x")
        got = kq.control(None, 4, 0.1)
        assert [ev for ev in got if ev.ident == r] == []
        expect_no_events(kq)  # and the dead registration does not spin
        with pytest.raises(OSError) as info:
            kq.control([KEvent(r, Filter.READ, Flag.DELETE)], 0)
        assert info.value.errno in (errno.EBADF, errno.ENOENT)
    finally:
        os.close(r2)
        os.close(w)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_opened_again_under_its_number_is_a_new_knote(kq: Queue, tmp_path) -> None:  # type: ignore[no-untyped-def]  # D13, D80
    # closing the descriptor dropped the knote on BSD, though the FIFO is the same file
    path = tmp_path / "fifo"
    os.mkfifo(path)
    w = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # a writer stays: no EOF
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        kq.control([KEvent(r, Filter.READ, Flag.ADD | Flag.ONESHOT, udata="old")], 0)
        again = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.dup2(again, r)  # r names a new open file of the same FIFO
        os.close(again)
        kq.control([KEvent(r, Filter.READ, udata="new")], 0)  # a new, level knote
        os.write(w, b"xy")
        for _ in range(2):
            got = kq.control(None, 4, 1)
            assert [(ev.ident, ev.udata, ev.data) for ev in got] == [(r, "new", 2)]
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(sys.platform == "win32", reason="no dup2 of a socket onto a number")
@pytest.mark.parametrize("how", ["disable", "dispatch"])
def test_a_knote_waiting_for_enable_goes_with_its_descriptor(
    kq: Queue, how: str
) -> None:  # D13, D80
    # EV_DISABLE, or an EV_DISPATCH delivery, then close: BSD dropped the knote, and
    # EV_ENABLE on the number, reused by another socket, finds none
    x, y = socket.socketpair()
    n = y.fileno()
    a, b = socket.socketpair()
    try:
        if how == "disable":
            kq.control([KEvent(y, Filter.READ, Flag.ADD | Flag.DISABLE)], 0)
            kq.control([KEvent(y, Filter.READ, Flag.DISABLE)], 0)
        else:
            x.send(b"x")
            kq.control([KEvent(y, Filter.READ, Flag.ADD | Flag.DISPATCH)], 0)
            assert keys(kq.control(None, 4, 1)) == {(n, Filter.READ)}
        os.dup2(a.fileno(), n)  # y's number now names socket a
        b.send(b"x")
        got = kq.control([KEvent(n, Filter.READ, Flag.ENABLE)], 4, 0)
        assert [(ev.ident, ev.flags & Flag.ERROR, ev.data) for ev in got] == [
            (n, Flag.ERROR, errno.ENOENT)
        ]
        expect_no_events(kq)
    finally:
        for s in (x, y, a, b):
            s.close()


def test_clear_read_level_write_on_one_socket(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:  # C-57
    a, b = pair
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.CLEAR), KEvent(b, Filter.WRITE)], 0)
    a.send(b"x")
    assert keys(kq.control(None, 4, 1)) == {(b.fileno(), Filter.READ), (b.fileno(), Filter.WRITE)}
    for _ in range(2):
        assert keys(kq.control(None, 4, 1)) == {(b.fileno(), Filter.WRITE)}
    a.send(b"y")
    assert (b.fileno(), Filter.READ) in keys(kq.control(None, 4, 1))


def test_delete_one_direction_keeps_other(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:  # C-58
    a, b = pair
    a.send(b"x")
    kq.control([KEvent(b, Filter.READ), KEvent(b, Filter.WRITE)], 0)
    kq.control([KEvent(b, Filter.READ, Flag.DELETE)], 0)
    assert keys(kq.control(None, 4, 1)) == {(b.fileno(), Filter.WRITE)}
    kq.control([KEvent(b, Filter.WRITE, Flag.DELETE)], 0)
    expect_no_events(kq)


def test_close_fd_helper(kq: Queue) -> None:
    a, b = socket.socketpair()
    with a:
        a.send(b"x")
        kq.control([KEvent(b, Filter.READ), KEvent(b, Filter.WRITE)], 0)
        kq.close_fd(b.detach())  # drops its knotes and closes it, as close(2) on BSD
        expect_no_events(kq)


def test_stale_readiness_is_dropped(
    kq: Queue, pair: tuple[socket.socket, socket.socket]
) -> None:  # D12: another consumer drained it between wait and copy-out
    a, b = pair
    kq.control([KEvent(b, Filter.READ, Flag.ADD | Flag.DISPATCH)], 0)
    a.send(b"x")
    b.recv(1)
    expect_no_events(kq)
    a.send(b"y")  # the one-shot registration was re-armed after the drop
    assert len(kq.control(None, 1, 1)) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="uses the resource module (POSIX)")
@pytest.mark.slow
def test_million_events_ping_pong_stable(kq: Queue) -> None:  # C-120 (scaled to 100k)
    import resource

    a, b = socket.socketpair()
    with a, b:
        kq.control([KEvent(a, Filter.READ), KEvent(b, Filter.READ)], 0)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        a.send(b"x")
        n = 0
        for _ in range(100_000):
            (ev,) = kq.control(None, 1, 1)
            s = b if ev.ident == b.fileno() else a
            s.recv(1)
            (a if s is b else b).send(b"x")
            n += 1
        assert n == 100_000
        growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        assert growth_kib < 1024
