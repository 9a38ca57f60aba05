"""The order of the events one file operation posts (issue 20 item 4, D53).

FreeBSD's queue is first-in first-out, and each ``vop_*_post`` activates its vnodes in
a fixed order (spec §5.5): unlink: the directory's NOTE_WRITE, then the file's
NOTE_DELETE; rename: the source directory, the target directory, the moved file's
NOTE_RENAME, then NOTE_DELETE on a file it replaced; rmdir: the parent's
NOTE_WRITE|NOTE_LINK, then the removed directory's NOTE_DELETE. One ``control()``
after the operation returns them in that order.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from kevents import Filter, Flag, KEvent, NoteVnode, Queue, open_for_vnode
from kevents._platforms import status
from kevents.testing import expect_no_events

V = NoteVnode
ALL = int(V.DELETE | V.WRITE | V.EXTEND | V.ATTRIB | V.LINK | V.RENAME)


@pytest.fixture
def opened() -> Iterator[list[int]]:
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


@pytest.fixture(autouse=True)
def directories_watchable(backend: str) -> None:
    if status("VNODE directories", backend)[0] == "unsupported":
        pytest.skip("a directory has no descriptor to watch (table: VNODE directories)")


def watch(kq: Queue, opened: list[int], path: pathlib.Path) -> int:
    fd = open_for_vnode(path)  # Windows: a watched file stays renamable and deletable
    opened.append(fd)
    assert kq.control([KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, ALL)], 1, 0) == []
    return fd


def order(kq: Queue) -> list[tuple[int, int]]:
    """(ident, fflags) of every pending event, in the order the queue gives them."""
    return [(ev.ident, ev.fflags) for ev in kq.control(None, 8, 1)]


def test_unlink(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    directory = watch(kq, opened, tmp_path)
    file = watch(kq, opened, path)
    os.unlink(path)
    got = order(kq)
    assert [ident for ident, _ in got] == [directory, file], got
    assert got[0][1] & V.WRITE and got[1][1] & V.DELETE


def test_unlink_of_one_of_two_names(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    os.link(path, tmp_path / "g")
    directory = watch(kq, opened, tmp_path)
    file = watch(kq, opened, path)
    os.unlink(tmp_path / "g")
    got = order(kq)
    assert [ident for ident, _ in got] == [directory, file], got
    assert got[1][1] & V.DELETE  # D29: every unlink of a name


def test_rename_over_an_existing_name(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    directory = watch(kq, opened, tmp_path)
    moved = watch(kq, opened, tmp_path / "a")
    replaced = watch(kq, opened, tmp_path / "b")
    os.rename(tmp_path / "a", tmp_path / "b")
    got = order(kq)
    assert [ident for ident, _ in got] == [directory, moved, replaced], got
    assert got[1][1] & V.RENAME and got[2][1] & V.DELETE


def test_rename_across_directories(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "src" / "a").write_bytes(b"a")
    source = watch(kq, opened, tmp_path / "src")
    target = watch(kq, opened, tmp_path / "dst")
    moved = watch(kq, opened, tmp_path / "src" / "a")
    os.rename(tmp_path / "src" / "a", tmp_path / "dst" / "a")
    got = order(kq)
    assert [ident for ident, _ in got] == [source, target, moved], got
    assert got[2][1] & V.RENAME


def test_rmdir(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    (tmp_path / "sub").mkdir()
    parent = watch(kq, opened, tmp_path)
    sub = watch(kq, opened, tmp_path / "sub")
    os.rmdir(tmp_path / "sub")
    got = order(kq)
    assert [ident for ident, _ in got] == [parent, sub], got
    assert got[0][1] & V.WRITE and got[0][1] & V.LINK
    assert got[1][1] == V.DELETE  # the removed directory: NOTE_DELETE alone, as FreeBSD


def test_link(kq: Queue, tmp_path: pathlib.Path, opened: list[int]) -> None:
    """vop_link_post goes the other way: the file's NOTE_LINK, then the directory's."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    directory = watch(kq, opened, tmp_path)
    file = watch(kq, opened, path)
    os.link(path, tmp_path / "g")
    got = order(kq)
    assert [ident for ident, _ in got] == [file, directory], got
    assert got[0][1] & V.LINK and got[1][1] & V.WRITE


def test_rmdir_of_a_directory_watched_alone(
    kq: Queue, backend: str, tmp_path: pathlib.Path, opened: list[int]
) -> None:
    """Without its parent in the queue, the platform table says what comes."""
    (tmp_path / "sub").mkdir()
    sub = watch(kq, opened, tmp_path / "sub")
    os.rmdir(tmp_path / "sub")
    if status("VNODE removed directory", backend)[0] == "differs":
        expect_no_events(kq)  # inotify says nothing; nothing to derive it from
    else:
        assert order(kq) == [(sub, V.DELETE)]
