"""EVFILT_VNODE (spec §5.5, §6.8, C-103..C-117, D29, D30)."""

from __future__ import annotations

import errno
import os
import pathlib
import socket
import sys
from collections.abc import Iterator

import pytest

from kevents import Filter, Flag, KEvent, NoteVnode, Queue
from kevents._platforms import status
from kevents.testing import expect_no_events

V = NoteVnode
ALL = V.DELETE | V.WRITE | V.EXTEND | V.ATTRIB | V.LINK | V.RENAME


def extensions(kq: Queue, backend: str, fd: int, notes: int) -> bool:
    """Register kevents' VNODE extensions where the platform has them; where it does
    not, check that they are refused (ENOTSUP), never ignored. True when registered."""
    if status("VNODE extensions", backend)[0] != "unsupported":
        watch(kq, fd, notes)
        return True
    (ev,) = kq.control([KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, notes)], 1, 0)
    assert ev.flags & Flag.ERROR and ev.data == errno.ENOTSUP
    return False


@pytest.fixture
def target(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, int]]:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    yield path, fd
    os.close(fd)


def watch(kq: Queue, fd: int, notes: int = ALL, flags: int = Flag.ADD | Flag.CLEAR) -> None:
    assert kq.control([KEvent(fd, Filter.VNODE, flags, notes)], 1, 0) == []


def notes(kq: Queue, timeout: float = 2) -> int:
    got = kq.control(None, 4, timeout)
    assert len(got) == 1, got
    return got[0].fflags


def test_append(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-103
    path, fd = target
    watch(kq, fd)
    with open(path, "ab") as f:
        f.write(b"more")
    assert notes(kq) == V.WRITE | V.EXTEND


def test_overwrite_in_place(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-104
    path, fd = target
    watch(kq, fd)
    with open(path, "r+b") as f:
        f.write(b"AB")
    assert notes(kq) == V.WRITE


@pytest.mark.skipif(
    sys.platform == "win32", reason="chown/utime semantics differ; os.chown is POSIX"
)
@pytest.mark.parametrize("op", ["chmod", "chown", "utime"])
def test_attrib(kq: Queue, target: tuple[pathlib.Path, int], op: str) -> None:  # C-105
    path, fd = target
    watch(kq, fd)
    if op == "chmod":
        os.chmod(path, 0o600)
    elif op == "chown":
        os.chown(path, os.getuid(), os.getgid())
    else:
        os.utime(path, (1, 1))
    assert notes(kq) == V.ATTRIB


@pytest.mark.skipif(
    sys.platform == "win32", reason="needs rename of an open file (table: VNODE rename and delete)"
)
def test_accumulation(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-106
    path, fd = target
    watch(kq, fd, V.ATTRIB | V.EXTEND)
    os.utime(path, (2, 2))
    os.truncate(path, 100)
    assert notes(kq) == V.ATTRIB | V.EXTEND


@pytest.mark.skipif(
    sys.platform == "win32", reason="unlink of an open file: sharing violation on Windows"
)
def test_link_and_unlink(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-107, D29
    path, fd = target
    watch(kq, fd)
    os.link(path, str(path) + ".2")
    assert notes(kq) == V.LINK
    os.unlink(str(path) + ".2")
    assert notes(kq) == V.LINK | V.DELETE


@pytest.mark.skipif(
    sys.platform == "win32", reason="rename of an open file: sharing violation on Windows"
)
def test_rename_twice(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-108
    path, fd = target
    watch(kq, fd)
    os.rename(path, str(path) + ".new")
    assert notes(kq) == V.RENAME
    os.rename(str(path) + ".new", path)
    assert notes(kq) == V.RENAME
    expect_no_events(kq)


@pytest.mark.skipif(
    sys.platform == "win32", reason="unlink of an open file: sharing violation on Windows"
)
def test_delete_last_name(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-109
    path, fd = target
    watch(kq, fd)
    os.unlink(path)
    assert notes(kq) & V.DELETE


@pytest.mark.skipif(
    sys.platform == "win32", reason="rename over an open file: sharing violation on Windows"
)
def test_replaced_by_rename(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-110
    path, fd = target
    other = path.with_name("other")
    other.write_bytes(b"x")
    watch(kq, fd)
    os.rename(other, path)
    assert notes(kq) & V.DELETE


def open_dir(path: pathlib.Path) -> int:
    """A descriptor of a directory (os.open cannot open one on Windows)."""
    if sys.platform == "win32":
        from kevents._backends.windows.vnode import open_directory

        return open_directory(path)
    return os.open(path, os.O_RDONLY)


def test_directory(kq: Queue, tmp_path: pathlib.Path) -> None:  # C-111
    fd = open_dir(tmp_path)
    try:
        watch(kq, fd, V.WRITE | V.LINK)
        (tmp_path / "file").write_bytes(b"x")
        assert notes(kq) == V.WRITE
        os.mkdir(tmp_path / "sub")
        assert notes(kq) == V.WRITE | V.LINK
        with open(tmp_path / "file", "ab") as f:  # writes to an entry: nothing for the dir
            f.write(b"y")
        expect_no_events(kq)
    finally:
        os.close(fd)


def test_directory_names(kq: Queue, backend: str, tmp_path: pathlib.Path) -> None:
    fd = open_dir(tmp_path)
    try:
        if not extensions(kq, backend, fd, V.WRITE | V.NAMES):
            return
        (tmp_path / "file").write_bytes(b"x")
        (ev,) = kq.control(None, 4, 2)
        assert ev.fflags == V.WRITE and ("file", "created") in ev.ext
        os.rename(tmp_path / "file", tmp_path / "renamed")
        (ev,) = kq.control(None, 4, 2)
        assert set(ev.ext) == {("file", "moved_from"), ("renamed", "moved_to")}
    finally:
        os.close(fd)


def test_clear_and_level(kq: Queue, target: tuple[pathlib.Path, int]) -> None:  # C-112/113
    path, fd = target
    watch(kq, fd)
    os.chmod(path, 0o640)
    assert notes(kq) == V.ATTRIB
    expect_no_events(kq)  # EV_CLEAR: nothing until the next change
    kq.control([KEvent(fd, Filter.VNODE, Flag.DELETE)], 0)
    watch(kq, fd, ALL, Flag.ADD)  # without EV_CLEAR the notes repeat forever
    os.chmod(path, 0o644)
    assert notes(kq) == V.ATTRIB
    assert notes(kq) == V.ATTRIB


@pytest.mark.skipif(
    sys.platform == "win32", reason="AF_UNIX socketpair and pipe fds differ on Windows"
)
def test_socket_and_pipe_rejected(kq: Queue) -> None:  # C-114
    a, b = socket.socketpair()
    r, w = os.pipe()
    try:
        got = kq.control(
            [
                KEvent(a, Filter.VNODE, Flag.ADD, V.WRITE),
                KEvent(r, Filter.VNODE, Flag.ADD, V.WRITE),
            ],
            2,
            0,
        )
        assert [e.data for e in got] == [errno.EINVAL, errno.EINVAL]
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_many_files_one_instance(kq: Queue, tmp_path: pathlib.Path) -> None:  # C-115
    fds = []
    try:
        for i in range(200):
            p = tmp_path / f"f{i}"
            p.write_bytes(b"")
            fds.append(os.open(p, os.O_RDONLY))
        assert (
            kq.control(
                [KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, V.WRITE) for fd in fds], 200, 0
            )
            == []
        )
        (tmp_path / "f199").write_bytes(b"x")
        (ev,) = kq.control(None, 4, 2)
        assert ev.ident == fds[199]
    finally:
        for fd in fds:
            os.close(fd)


def test_two_fds_same_file_different_notes(kq: Queue, target: tuple[pathlib.Path, int]) -> None:
    path, fd = target  # C-117
    fd2 = os.open(path, os.O_RDONLY)
    try:
        watch(kq, fd, V.ATTRIB)
        watch(kq, fd2, V.WRITE)
        os.chmod(path, 0o600)
        (ev,) = kq.control(None, 4, 2)
        assert (ev.ident, ev.fflags) == (fd, V.ATTRIB)
        with open(path, "r+b") as f:
            f.write(b"z")
        (ev,) = kq.control(None, 4, 2)
        assert (ev.ident, ev.fflags) == (fd2, V.WRITE)
    finally:
        os.close(fd2)


def test_truncate(kq: Queue, backend: str, target: tuple[pathlib.Path, int]) -> None:
    path, fd = target
    if extensions(kq, backend, fd, ALL | V.TRUNCATE):
        os.truncate(path, 3)
        assert notes(kq) == V.WRITE | V.TRUNCATE


@pytest.mark.skipif(
    sys.platform == "win32", reason="unsupported on Windows (table: VNODE OPEN/CLOSE/READ notes)"
)
def test_open_close_read_notes(kq: Queue, target: tuple[pathlib.Path, int]) -> None:
    path, fd = target
    watch(kq, fd, V.OPEN | V.CLOSE | V.READ)
    with open(path, "rb") as f:
        f.read()
    assert notes(kq) == V.OPEN | V.CLOSE | V.READ


@pytest.mark.skipif(
    sys.platform == "win32", reason="inotify limits; Windows overflow is tested in tests/backends"
)
def test_overflow_gives_rescan(kq: Queue, backend: str, tmp_path: pathlib.Path) -> None:
    # C-116, D30 (a BSD kernel never drops VNODE events: nothing to test there)
    if status("VNODE extensions", backend)[0] == "unsupported":
        pytest.skip("no event loss to report on this platform (kernel kqueue)")
    limit = int(pathlib.Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    dfd = os.open(tmp_path, os.O_RDONLY)
    ffd = os.open(tmp_path, os.O_RDONLY)
    try:
        watch(kq, dfd, V.WRITE)
        watch(kq, ffd, V.ATTRIB)  # a second knote: it must learn of the loss too
        for i in range(limit + 100):  # more events than the kernel queues
            (tmp_path / f"n{i % 50}").touch()
            os.unlink(tmp_path / f"n{i % 50}")
        got = {ev.ident: ev.fflags for ev in kq.control(None, 8, 2)}
        assert got[dfd] & V.RESCAN and got[ffd] & V.RESCAN, got
    finally:
        os.close(dfd)
        os.close(ffd)
