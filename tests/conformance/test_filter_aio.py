"""EVFILT_AIO: disk I/O completions through the queue (issue 6, spec §5.4, §6.10)."""

from __future__ import annotations

import errno
import mmap
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kevents import Filter, Flag, KEvent, Queue

CONTENT = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def datafile() -> Iterator[int]:
    fd, path = tempfile.mkstemp()
    os.write(fd, CONTENT)
    if sys.platform != "win32":  # Windows cannot unlink an open file (no FILE_SHARE_DELETE)
        os.unlink(path)
    try:
        yield fd
    finally:
        os.close(fd)
        if sys.platform == "win32":
            os.unlink(path)


def completions(kq: Queue, n: int, timeout: float = 5) -> dict[int, KEvent]:
    got: dict[int, KEvent] = {}
    while len(got) < n:
        evs = kq.control(None, 64, timeout)
        assert evs, f"only {len(got)} of {n} completions"
        for ev in evs:
            assert ev.filter == Filter.AIO and ev.ident not in got
            got[ev.ident] = ev
    return got


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "mmap"])
def test_read_into_buffers(kq: Queue, datafile: int, kind: str) -> None:
    raw: bytearray | mmap.mmap = bytearray(100) if kind != "mmap" else mmap.mmap(-1, 100)
    buf = memoryview(raw) if kind == "memoryview" else raw
    rid = kq.aio_read(datafile, buf, 300, udata="u")
    ev = completions(kq, 1)[rid]
    assert ev.data == 100 and ev.fflags == 0 and ev.udata == "u"
    assert ev.flags & Flag.EOF and ev.flags & Flag.ONESHOT
    assert bytes(raw[:100]) == CONTENT[300:400]
    if isinstance(buf, memoryview):
        buf.release()
    if isinstance(raw, mmap.mmap):
        raw.close()


def test_short_read_at_eof(kq: Queue, datafile: int) -> None:
    a, b = bytearray(100), bytearray(100)
    ra = kq.aio_read(datafile, a, len(CONTENT) - 10)
    rb = kq.aio_read(datafile, b, len(CONTENT) + 10)
    got = completions(kq, 2)
    assert got[ra].data == 10 and bytes(a[:10]) == CONTENT[-10:]
    assert got[rb].data == 0


def test_write_fsync_read_back(kq: Queue, datafile: int) -> None:
    w = kq.aio_write(datafile, b"kevents!", 1000)
    f = kq.aio_fsync(datafile)
    got = completions(kq, 2)
    assert got[w].data == 8 and got[f].data == 0 and got[f].fflags == 0
    os.lseek(datafile, 1000, os.SEEK_SET)  # os.pread is POSIX-only
    assert os.read(datafile, 8) == b"kevents!"


def test_errors(kq: Queue, datafile: int) -> None:
    bad_fd = kq.aio_read(999_999, bytearray(4), 0)  # above any open descriptor
    bad_off = kq.aio_read(datafile, bytearray(4), -5)
    got = completions(kq, 2)
    assert (got[bad_fd].data, got[bad_fd].fflags) == (-1, errno.EBADF)
    assert (got[bad_off].data, got[bad_off].fflags) == (-1, errno.EINVAL)


def test_write_needs_a_writable_descriptor(kq: Queue, tmp_path: Path) -> None:
    # the descriptor's access holds: no private handle may write where it cannot
    path = tmp_path / "ro"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        rid = kq.aio_write(fd, b"x", 0)
        ev = completions(kq, 1)[rid]
        assert ev.data == -1 and ev.fflags in (errno.EBADF, errno.EACCES)
    finally:
        os.close(fd)
    assert path.read_bytes() == b""


def test_bad_buffers(kq: Queue, datafile: int) -> None:
    with pytest.raises(TypeError):
        kq.aio_read(datafile, b"read-only", 0)
    with pytest.raises(ValueError):
        kq.aio_read(datafile, memoryview(bytearray(8))[::2], 0)


def test_add_is_refused(kq: Queue) -> None:
    (ev,) = kq.control([KEvent(1, Filter.AIO, Flag.ADD)], 1, 0)
    assert ev.flags & Flag.ERROR and ev.data == errno.EPERM


def test_buffer_pinned_until_completion(kq: Queue, datafile: int) -> None:
    buf = bytearray(4096)
    rid = kq.aio_read(datafile, buf, 0)
    with pytest.raises(BufferError):
        buf.extend(b"x")  # exported to the kernel: cannot be resized or freed
    completions(kq, 1)[rid]
    buf.extend(b"x")  # released after the completion was reported


def test_dropped_references_and_delete(kq: Queue, datafile: int) -> None:
    rid = kq.aio_read(datafile, bytearray(4096), 0)  # nobody else holds the buffer
    keep = kq.aio_read(datafile, bytearray(16), 16)
    got = completions(kq, 2)
    assert got[rid].data == 4096 and got[keep].data == 16
    # a deleted request reports nothing, whether or not it had completed already
    gone = kq.aio_read(datafile, bytearray(4096), 0)
    kq.control([KEvent(gone, Filter.AIO, Flag.DELETE)], 0)
    assert kq.control(None, 4, 0.2) == []


def test_close_with_requests_in_flight(backend: str, datafile: int) -> None:
    kq = Queue(backend=backend)
    bufs = [bytearray(65536) for _ in range(64)]
    for i, buf in enumerate(bufs):
        kq.aio_read(datafile, buf, i)
    kq.close()  # cancels and waits until the kernel released every buffer
    for buf in bufs:
        buf.extend(b"x")  # no export left


def test_many_requests_no_leak(kq: Queue, datafile: int) -> None:
    total = 0
    for _ in range(20):
        ids = [kq.aio_read(datafile, bytearray(64), (i * 64) % len(CONTENT)) for i in range(256)]
        got = completions(kq, len(ids))
        total += sum(ev.data for ev in got.values())
    assert total == 20 * 256 * 64


@pytest.mark.skipif(sys.platform == "win32", reason="uses the resource module (POSIX)")
@pytest.mark.slow
def test_100k_requests_no_leak(kq: Queue, datafile: int) -> None:  # issue 6: no leaks
    import resource

    buf = bytearray(64)
    rss0 = 0
    for round_ in range(400):
        ids = [kq.aio_read(datafile, buf, (i * 64) % len(CONTENT)) for i in range(250)]
        assert len(completions(kq, len(ids))) == 250
        if round_ == 20:  # after warm-up: pools, rings and caches exist
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    assert growth_kib < 4096, f"RSS grew by {growth_kib} KiB over 95,000 requests"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
# forking while the AIO worker threads exist is the very case under test
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_never_touches_parent_ring(kq: Queue, datafile: int) -> None:
    buf = bytearray(8)
    rid = kq.aio_read(datafile, buf, 0)
    pid = os.fork()
    if pid == 0:
        try:
            kq.aio_read(datafile, bytearray(8), 0)
            os._exit(1)
        except ValueError:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert completions(kq, 1)[rid].data == 8


def test_batch_of_requests(kq: Queue, datafile: int) -> None:
    bufs = [bytearray(16) for _ in range(32)]
    with kq.aio_batch():
        ids = [kq.aio_read(datafile, b, 16 * i) for i, b in enumerate(bufs)]
    got = completions(kq, len(ids))
    assert all(got[i].data == 16 for i in ids)
    assert b"".join(bufs) == CONTENT[: 16 * 32]


def test_request_wakes_a_thread_already_waiting(kq: Queue, datafile: int) -> None:
    import threading

    result: list[list[KEvent]] = []
    t = threading.Thread(target=lambda: result.append(kq.control(None, 4, 5)))
    t.start()
    time.sleep(0.1)  # the other thread is blocked in the kernel wait
    rid = kq.aio_read(datafile, bytearray(8), 0)
    t.join(10)
    assert not t.is_alive() and [ev.ident for ev in result[0]] == [rid]


@pytest.mark.parametrize("depth", [600, 1100])
def test_every_completion_once_past_the_ring(kq: Queue, datafile: int, depth: int) -> None:
    # issue 15: io_uring's CQ holds 512 completions; more in flight used to lose the rest
    # and wedge the ring (later requests never completed)
    bufs = [bytearray(16) for _ in range(depth)]
    ids = [kq.aio_read(datafile, b, 16 * (i % 1024)) for i, b in enumerate(bufs)]
    got = completions(kq, depth)
    assert set(got) == set(ids) and all(ev.data == 16 for ev in got.values())
    assert all(bytes(b) == CONTENT[16 * (i % 1024) :][:16] for i, b in enumerate(bufs))
    assert kq.control(None, 8, 0) == []  # exactly once: nothing more comes
    after = [kq.aio_read(datafile, bytearray(16), 0) for _ in range(10)]
    assert set(completions(kq, 10)) == set(after)


def test_delete_and_close_with_requests_waiting_for_room(backend: str, datafile: int) -> None:
    # requests beyond what the kernel is given at once wait in user space: deleting one
    # there releases its buffer at once; closing releases all of them
    kq = Queue(backend=backend)
    more = [bytearray(16) for _ in range(1000)]
    try:
        bufs = [bytearray(16) for _ in range(1000)]
        ids = [kq.aio_read(datafile, b, 0) for b in bufs]
        gone = ids[-300:]
        receipts = kq.control(
            [KEvent(i, Filter.AIO, Flag.DELETE | Flag.RECEIPT) for i in gone], len(gone)
        )
        assert len(receipts) == 300
        assert {ev.data for ev in receipts} == {0}
        got = completions(kq, 700)
        assert set(got) == set(ids[:700])
        assert kq.control(None, 8, 0.1) == []
        for buf in bufs:
            buf.extend(b"x")  # no export left, completed or deleted
        for b in more:
            kq.aio_read(datafile, b, 0)
    finally:
        kq.close()
    for buf in more:
        buf.extend(b"x")
