"""EVFILT_VNODE on Windows: overlapped ReadDirectoryChangesW on the file's directory.

Story (design note §1.5): Windows has no per-file change notification, only directory
notifications. Like libuv's fs-event.c, a watched file is found through its directory:
the knote's fd gives the path (GetFinalPathNameByHandleW), the parent directory is
opened (FILE_LIST_DIRECTORY, share read/write/delete, BACKUP_SEMANTICS | OVERLAPPED),
associated with the queue's port, and watched with an overlapped ReadDirectoryChangesW.
One watcher per (queue, directory), shared by every knote in it. The watch is re-armed
as soon as its packet is dequeued (a fresh buffer each time, so parsing never races the
kernel). Entries naming a watched file trigger a re-stat through the knote's own fd,
and the notes come from the difference, as on Linux:

* FILE_ACTION_MODIFIED -> NOTE_WRITE when size or mtime changed (NOTE_EXTEND when the
  size grew, kevents' NOTE_TRUNCATE is refused: see the table), else NOTE_ATTRIB;
* FILE_ACTION_REMOVED, or a link count that dropped -> NOTE_DELETE (+ NOTE_LINK);
* FILE_ACTION_RENAMED_OLD_NAME -> NOTE_RENAME; the knote follows the new name (the
  path is re-resolved from the handle, and the knote moves if the file left the
  directory);
* a completion with 0 bytes (or ERROR_NOTIFY_ENUM_DIR) means the kernel's buffer
  overflowed: every knote of that watcher gets NoteVnode.RESCAN with re-stat notes.

ReadDirectoryChangesExW with extended information (Windows 10 1709+) would save the
re-stat but is missing in Wine 8; not used. Python's os.open cannot open a directory on
Windows, so directory idents are not possible; files opened by Python lack
FILE_SHARE_DELETE, so they cannot be renamed or deleted while watched (table rows).
On real Windows, size/mtime notifications may lag until the cache flushes.
"""

from __future__ import annotations

import errno
import ntpath
import os
import stat
import sys
from typing import TYPE_CHECKING, Any

from ..._event import Filter, Flag, NoteVnode
from ..._knote import Knote
from .._contract import Source
from . import Op
from ._ffi import (
    ERROR_IO_PENDING,
    FILE_ACTION_ADDED,
    FILE_ACTION_MODIFIED,
    FILE_ACTION_REMOVED,
    FILE_ACTION_RENAMED_NEW_NAME,
    FILE_ACTION_RENAMED_OLD_NAME,
    FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAG_OVERLAPPED,
    FILE_LIST_DIRECTORY,
    FILE_NOTIFY_ALL,
    FILE_SHARE_ALL,
    INVALID_HANDLE_VALUE,
    OPEN_EXISTING,
    STATUS_CANCELLED,
    ffi,
    kernel32,
    winerror,
)

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

_DELETE, _WRITE, _EXTEND = int(NoteVnode.DELETE), int(NoteVnode.WRITE), int(NoteVnode.EXTEND)
_ATTRIB, _LINK, _RENAME = int(NoteVnode.ATTRIB), int(NoteVnode.LINK), int(NoteVnode.RENAME)
_REVOKE, _RESCAN = int(NoteVnode.REVOKE), int(NoteVnode.RESCAN)
_SUPPORTED = _DELETE | _WRITE | _EXTEND | _ATTRIB | _LINK | _RENAME | _REVOKE
_EOF, _ONESHOT = int(Flag.EOF), int(Flag.ONESHOT)
_BUF = 64 * 1024  # the limit for network shares


def _final_path(fd: int) -> str:
    import msvcrt

    h = ffi.cast("void *", msvcrt.get_osfhandle(fd))  # type: ignore[attr-defined,unused-ignore]
    buf = ffi.new("uint16_t[]", 32768)
    n = kernel32.GetFinalPathNameByHandleW(h, buf, 32768, 0)
    if n == 0 or n >= 32768:
        raise winerror("GetFinalPathNameByHandleW")
    return "".join(map(chr, ffi.unpack(buf, n)))


def _notes(old: os.stat_result, new: os.stat_result) -> int:
    notes = 0
    if new.st_nlink != old.st_nlink:
        notes |= _LINK
        if new.st_nlink < old.st_nlink:
            notes |= _DELETE
    if new.st_nlink == 0:
        notes |= _DELETE
    if new.st_size != old.st_size or new.st_mtime_ns != old.st_mtime_ns:
        notes |= _WRITE
        if new.st_size > old.st_size:
            notes |= _EXTEND
    elif (new.st_mode, new.st_ctime_ns) != (old.st_mode, old.st_ctime_ns) or (
        getattr(new, "st_file_attributes", 0) != getattr(old, "st_file_attributes", 0)
    ):
        notes |= _ATTRIB
    return notes


class _Vnode:
    __slots__ = ("dir", "name", "st")

    def __init__(self, directory: str, name: str, st: os.stat_result) -> None:
        self.dir = directory
        self.name = name
        self.st = st


class _Watcher:
    """One overlapped ReadDirectoryChangesW on one directory, for every knote in it."""

    def __init__(self, source: VnodeSource, path: str) -> None:
        self.source = source
        self.path = path
        self.knotes: set[Knote] = set()
        self.op: Op | None = None
        name = ffi.new("uint16_t[]", [ord(c) for c in path] + [0])
        h = kernel32.CreateFileW(
            name,
            FILE_LIST_DIRECTORY,
            FILE_SHARE_ALL,
            ffi.NULL,
            OPEN_EXISTING,
            FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED,
            ffi.NULL,
        )
        if h == INVALID_HANDLE_VALUE:
            raise winerror("CreateFileW(directory)")
        self.handle = h
        try:
            source.backend.associate(h, "CreateIoCompletionPort(directory)")
            self.arm()
        except OSError:
            kernel32.CloseHandle(h)
            raise

    def arm(self) -> None:
        ov = ffi.new("OVERLAPPED *")
        buf = ffi.new("char[]", _BUF)
        op = Op(ov, ov, self.handle, self._done)
        op.keep = buf
        backend = self.source.backend
        backend.start(op)
        ok = kernel32.ReadDirectoryChangesW(
            self.handle, buf, _BUF, 0, FILE_NOTIFY_ALL, ffi.NULL, ov, ffi.NULL
        )
        if not ok and ffi.getwinerror()[0] != ERROR_IO_PENDING:
            backend.unstart(op)
            raise winerror("ReadDirectoryChangesW")
        self.op = op

    def close(self) -> None:
        if self.handle is not None:
            if self.op is not None:
                self.source.backend.cancel(self.op)
            kernel32.CloseHandle(self.handle)  # the cancelled packet drains at close
            self.handle = None

    def _done(self, op: Op, status: int, nbytes: int) -> None:
        self.op = None
        if self.handle is None or self.source.closed:
            return
        if status == STATUS_CANCELLED:
            return
        overflow = status >= 0 and nbytes == 0
        if status < 0 and not overflow:
            for kn in list(self.knotes):  # the directory went away: revoke
                self.source.report(kn, _REVOKE, final=True)
            return
        try:
            self.arm()  # re-arm first: narrow the window of missed changes
        except OSError:
            for kn in list(self.knotes):
                self.source.report(kn, _REVOKE, final=True)
            return
        if overflow:
            for kn in list(self.knotes):
                self.source.restat(kn, _RESCAN)
            return
        self.parse(op.keep, nbytes)

    def parse(self, buf: Any, nbytes: int) -> None:
        offset = 0
        actions: list[tuple[int, str]] = []
        while offset < nbytes:
            info = ffi.cast("FILE_NOTIFY_INFORMATION *", buf + offset)
            n = int(info.FileNameLength) // 2
            name = "".join(map(chr, ffi.unpack(info.FileName, n)))
            actions.append((int(info.Action), name))
            if not info.NextEntryOffset:
                break
            offset += int(info.NextEntryOffset)
        by_name: dict[str, list[Knote]] = {}
        for kn in self.knotes:
            by_name.setdefault(kn.priv.name.lower(), []).append(kn)
        for action, name in actions:
            for kn in by_name.get(name.lower(), ()):
                if action == FILE_ACTION_RENAMED_OLD_NAME:
                    self.source.renamed(kn)
                elif action == FILE_ACTION_REMOVED:
                    self.source.restat(kn, _DELETE)
                elif action in (
                    FILE_ACTION_MODIFIED,
                    FILE_ACTION_ADDED,
                    FILE_ACTION_RENAMED_NEW_NAME,
                ):
                    self.source.restat(kn, 0)


class VnodeSource(Source):
    filter = Filter.VNODE
    fd_based = True
    userspace = True

    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.watchers: dict[str, _Watcher] = {}
        self.closed = False

    def identify(self, ident: int) -> object:
        st = os.fstat(ident)
        return (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode))

    def attach(self, kn: Knote) -> None:
        mode = kn.identity[2]  # type: ignore[index]
        if mode != stat.S_IFREG:
            raise OSError(errno.EINVAL, "VNODE on Windows watches regular files only")
        if kn.sfflags & ~(_SUPPORTED | _RESCAN):
            raise OSError(errno.ENOTSUP, "VNODE note not available on Windows")
        path = _final_path(kn.ident)
        directory, name = ntpath.split(path)
        kn.priv = _Vnode(directory, name, os.fstat(kn.ident))
        self._watcher(directory).knotes.add(kn)

    def _watcher(self, directory: str) -> _Watcher:
        key = directory.lower()
        w = self.watchers.get(key)
        if w is None:
            w = self.watchers[key] = _Watcher(self, directory)
        return w

    def _unwatch(self, kn: Knote) -> None:
        vn: _Vnode = kn.priv
        key = vn.dir.lower()
        w = self.watchers.get(key)
        if w is not None:
            w.knotes.discard(kn)
            if not w.knotes:
                del self.watchers[key]
                w.close()

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if fflags & ~(_SUPPORTED | _RESCAN):
            raise OSError(errno.ENOTSUP, "VNODE note not available on Windows")
        kn.sfflags, kn.sdata = fflags, data

    def detach(self, kn: Knote) -> None:
        if kn.priv is not None:
            self._unwatch(kn)

    def restat(self, kn: Knote, notes: int) -> None:
        vn: _Vnode = kn.priv
        try:
            st = os.fstat(kn.ident)
        except OSError:
            self.report(kn, notes | _REVOKE, final=True)
            return
        notes |= _notes(vn.st, st)
        vn.st = st
        self.report(kn, notes)

    def renamed(self, kn: Knote) -> None:
        vn: _Vnode = kn.priv
        try:
            directory, name = ntpath.split(_final_path(kn.ident))
        except OSError:
            self.report(kn, _RENAME)
            return
        if directory.lower() != vn.dir.lower():
            try:
                self._unwatch(kn)
                vn.dir = directory
                self._watcher(directory).knotes.add(kn)
            except OSError:
                pass
        vn.name = name
        self.report(kn, _RENAME)

    def report(self, kn: Knote, notes: int, final: bool = False) -> None:
        notes &= kn.sfflags | _RESCAN
        if final:
            kn.oflags |= _EOF
            kn.flags |= _ONESHOT
        if notes or final:
            kn.fflags |= notes
            self.engine.enqueue(kn)

    def event(self, kn: Knote) -> bool:
        return bool(kn.fflags) or bool(kn.oflags & _EOF)

    def clear(self, kn: Knote) -> None:
        kn.fflags = 0

    def close(self) -> None:
        self.closed = True
        for w in list(self.watchers.values()):
            w.close()
        self.watchers.clear()
