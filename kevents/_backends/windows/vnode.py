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

A watched *directory* (a descriptor from :func:`open_directory`: os.open cannot open
one on Windows) is also the target of its own watcher: every entry added, removed or
renamed is NOTE_WRITE, plus NOTE_LINK when the entry is a subdirectory (mkdir, rmdir:
its parent's link count changes on BSD), and with NoteVnode.NAMES the (name, what)
pairs in ``ev.ext``, as on Linux. Changes *inside* an entry (a file written, a
subdirectory's own entries) post nothing on the directory, as on BSD. The directory's
own rename and deletion come from its parent's watcher, like a file's. One packet can
hold several actions; for each, the directory's knotes are reported before the entry's
own knote, which is FreeBSD's order (vop_remove_post: the directory's NOTE_WRITE, then
the file's NOTE_DELETE; vop_rmdir_post, vop_rename_post alike).

ReadDirectoryChangesExW with extended information (Windows 10 1709+) would save the
re-stat but is missing in Wine 8; not used. Files opened by Python lack
FILE_SHARE_DELETE, so they cannot be renamed or deleted while watched (table rows);
:func:`open_directory` shares everything, so a watched directory can be. On real
Windows, size/mtime notifications may lag until the cache flushes.
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
    FILE_READ_ATTRIBUTES,
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
_TRUNCATE, _NAMES = int(NoteVnode.TRUNCATE), int(NoteVnode.NAMES)
_SUPPORTED = _DELETE | _WRITE | _EXTEND | _ATTRIB | _LINK | _RENAME | _REVOKE
_SUPPORTED |= _TRUNCATE | _NAMES | _RESCAN
#: what a directory's entry actions are called in NoteVnode.NAMES (Linux's words)
_WHAT = {
    FILE_ACTION_ADDED: "created",
    FILE_ACTION_REMOVED: "deleted",
    FILE_ACTION_RENAMED_OLD_NAME: "moved_from",
    FILE_ACTION_RENAMED_NEW_NAME: "moved_to",
}
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


def open_shared(path: str | os.PathLike[str]) -> int:
    """A CRT descriptor of the file or directory ``path`` that shares reading, writing
    and deletion (kevents.open_for_vnode on Windows): ``os.open`` grants no
    FILE_SHARE_DELETE and cannot open a directory (FILE_FLAG_BACKUP_SEMANTICS does)."""
    import msvcrt

    name = ffi.new("uint16_t[]", [ord(c) for c in os.fspath(path)] + [0])
    h = kernel32.CreateFileW(
        name,
        FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES,  # FILE_LIST_DIRECTORY is FILE_READ_DATA
        FILE_SHARE_ALL,
        ffi.NULL,
        OPEN_EXISTING,
        FILE_FLAG_BACKUP_SEMANTICS,
        ffi.NULL,
    )
    if h == INVALID_HANDLE_VALUE:
        raise winerror(os.fspath(path))  # FileNotFoundError etc., naming the path
    mode = os.O_RDONLY | os.O_NOINHERIT  # type: ignore[attr-defined,unused-ignore]
    try:
        fd: int = msvcrt.open_osfhandle(  # type: ignore[attr-defined,unused-ignore]
            int(ffi.cast("uintptr_t", h)), mode
        )
    except OSError:
        kernel32.CloseHandle(h)
        raise
    return fd


def open_directory(path: str | os.PathLike[str]) -> int:
    """A descriptor for directory ``path`` that VNODE can watch (D71): open_shared's,
    refused (ENOTDIR) for anything but a directory. Close it with ``os.close``."""
    fd = open_shared(path)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(path))
    return fd


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
        elif new.st_size < old.st_size:
            notes |= _TRUNCATE
    elif (new.st_mode, new.st_ctime_ns) != (old.st_mode, old.st_ctime_ns) or (
        getattr(new, "st_file_attributes", 0) != getattr(old, "st_file_attributes", 0)
    ):
        notes |= _ATTRIB
    return notes


class _Vnode:
    __slots__ = ("dir", "name", "names", "path", "st", "subdirs")

    def __init__(self, directory: str, name: str, st: os.stat_result) -> None:
        self.dir = directory  # the parent directory ("" for a root)
        self.name = name
        self.st = st
        #: a watched directory: its own path, the (name, what) pairs not yet delivered,
        #: and (when NOTE_LINK is asked for) the names of its subdirectories
        self.path = ""
        self.names: list[tuple[str, str]] = []
        self.subdirs: set[str] | None = None


class _Watcher:
    """One overlapped ReadDirectoryChangesW on one directory, for every knote in it."""

    def __init__(self, source: VnodeSource, path: str) -> None:
        self.source = source
        self.path = path
        self.knotes: set[Knote] = set()  # knotes of entries, matched by name
        self.dirs: set[Knote] = set()  # knotes of this directory itself
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
        if status >= 0:
            try:
                self.arm()  # re-arm first: narrow the window of missed changes
            except OSError:
                status = -1
        if status < 0:
            self.gone()
            return
        if overflow:
            for kn in list(self.dirs):
                self.source.report(kn, _RESCAN)
            for kn in list(self.knotes):
                self.source.restat(kn, _RESCAN)
            return
        self.parse(op.keep, nbytes)

    def gone(self) -> None:
        """The watch failed: the directory was deleted (or its volume went away)."""
        for kn in list(self.dirs):
            if not kn.priv.name:  # no parent watch to report it: say it here
                self.source.report(kn, _DELETE)
        for kn in list(self.knotes):
            self.source.report(kn, _REVOKE, final=True)

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
        for i, (action, name) in enumerate(actions):
            if self.dirs and action in _WHAT:  # the directory first: FreeBSD's order
                self.entry_changed(action, name)
            for kn in by_name.get(name.lower(), ()):
                is_dir = bool(kn.priv.path)
                if action == FILE_ACTION_RENAMED_OLD_NAME:
                    # a rename within the directory is an OLD/NEW pair: the new name is
                    # right there (Wine 8's GetFinalPathNameByHandleW keeps the old one)
                    nxt = actions[i + 1] if i + 1 < len(actions) else (0, "")
                    new_name = nxt[1] if nxt[0] == FILE_ACTION_RENAMED_NEW_NAME else None
                    self.source.renamed(kn, new_name)
                elif action == FILE_ACTION_REMOVED:
                    # a move to another directory is a removal here: the handle's path
                    # tells it from an unlink
                    if self.source.moved_away(kn):
                        self.source.renamed(kn)
                    elif is_dir:
                        self.source.report(kn, _DELETE)  # rmdir: the handle stays valid
                    else:
                        self.source.restat(kn, _DELETE)
                elif action in (
                    FILE_ACTION_MODIFIED,
                    FILE_ACTION_ADDED,
                    FILE_ACTION_RENAMED_NEW_NAME,
                ):
                    # a directory's own size and mtime change with its entries, which
                    # its own watcher reports: from here only its attributes count
                    self.source.restat(kn, 0, _ATTRIB if is_dir else -1)

    def entry_changed(self, action: int, name: str) -> None:
        """An entry of this (watched) directory was added, removed or renamed."""
        added = action in (FILE_ACTION_ADDED, FILE_ACTION_RENAMED_NEW_NAME)
        key = name.lower()
        subdir: bool | None = None
        for kn in list(self.dirs):
            vn: _Vnode = kn.priv
            notes = _WRITE
            if vn.subdirs is not None:
                if added:
                    if subdir is None:
                        subdir = os.path.isdir(ntpath.join(self.path, name))
                    if subdir:
                        vn.subdirs.add(key)
                else:
                    subdir = key in vn.subdirs
                    vn.subdirs.discard(key)
                # mkdir and rmdir change the link count (a rename within it does not)
                if subdir and action in (FILE_ACTION_ADDED, FILE_ACTION_REMOVED):
                    notes |= _LINK
            if kn.sfflags & _NAMES:
                vn.names.append((name, _WHAT[action]))
            self.source.report(kn, notes)


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
        # Story: the handle and the file index, not st_dev: Wine 8 loses a directory's
        # volume serial (st_dev 0) once it is renamed, which would look like a new file
        import msvcrt

        st = os.fstat(ident)
        handle = msvcrt.get_osfhandle(ident)  # type: ignore[attr-defined,unused-ignore]
        return (handle, st.st_ino, stat.S_IFMT(st.st_mode))

    def attach(self, kn: Knote) -> None:
        mode = kn.identity[2]  # type: ignore[index]
        if mode not in (stat.S_IFREG, stat.S_IFDIR):
            raise OSError(errno.EINVAL, "VNODE needs a file or directory")
        if kn.sfflags & ~_SUPPORTED:
            raise OSError(errno.ENOTSUP, "VNODE note not available on Windows")
        path = _final_path(kn.ident)
        directory, name = ntpath.split(path)
        vn = _Vnode(directory if name else "", name, os.fstat(kn.ident))
        kn.priv = vn
        try:
            if mode == stat.S_IFDIR:
                vn.path = path
                if kn.sfflags & _LINK:
                    with os.scandir(path) as it:
                        vn.subdirs = {e.name.lower() for e in it if e.is_dir()}
                self._watcher(path).dirs.add(kn)
            if name:
                self._watcher(directory).knotes.add(kn)
        except OSError:
            self._unwatch(kn)
            raise

    def _watcher(self, directory: str) -> _Watcher:
        key = directory.lower()
        w = self.watchers.get(key)
        if w is None:
            w = self.watchers[key] = _Watcher(self, directory)
        return w

    def _unwatch(self, kn: Knote, own: bool = True) -> None:
        """Take ``kn`` out of its parent's watcher (and, with ``own``, its own)."""
        vn: _Vnode = kn.priv
        for path, own_watch in ((vn.dir, False), (vn.path, True)):
            if not path or (own_watch and not own):
                continue
            key = path.lower()
            w = self.watchers.get(key)
            if w is not None:
                (w.dirs if own_watch else w.knotes).discard(kn)
                if not w.knotes and not w.dirs:
                    del self.watchers[key]
                    w.close()

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if fflags & ~_SUPPORTED:
            raise OSError(errno.ENOTSUP, "VNODE note not available on Windows")
        vn: _Vnode = kn.priv
        if vn.path and fflags & _LINK and vn.subdirs is None:
            with os.scandir(vn.path) as it:
                vn.subdirs = {e.name.lower() for e in it if e.is_dir()}
        kn.sfflags, kn.sdata = fflags, data

    def detach(self, kn: Knote) -> None:
        if kn.priv is not None:
            self._unwatch(kn)

    def restat(self, kn: Knote, notes: int, mask: int = -1) -> None:
        """Report ``notes`` plus what a fresh stat shows changed (limited to ``mask``)."""
        vn: _Vnode = kn.priv
        try:
            st = os.fstat(kn.ident)
        except OSError:
            self.report(kn, notes | _REVOKE, final=True)
            return
        notes |= _notes(vn.st, st) & mask
        vn.st = st
        self.report(kn, notes)

    def moved_away(self, kn: Knote) -> bool:
        """Whether the file behind ``kn`` now lives under another path."""
        vn: _Vnode = kn.priv
        try:
            path = _final_path(kn.ident)
        except OSError:
            return False
        return path.lower() != ntpath.join(vn.dir, vn.name).lower()

    def renamed(self, kn: Knote, new_name: str | None = None) -> None:
        vn: _Vnode = kn.priv
        if new_name is not None:
            directory, name = vn.dir, new_name
        else:
            try:
                directory, name = ntpath.split(_final_path(kn.ident))
            except OSError:
                self.report(kn, _RENAME)
                return
        if directory.lower() != vn.dir.lower():
            try:
                self._unwatch(kn, own=False)
                vn.dir = directory
                self._watcher(directory).knotes.add(kn)
            except OSError:
                pass
        vn.name = name
        if vn.path:  # a directory: its own watcher follows it; re-key it by the new path
            new_path = ntpath.join(directory, name)
            w = self.watchers.pop(vn.path.lower(), None)
            if w is not None:
                w.path = new_path
                self.watchers.setdefault(new_path.lower(), w)
            vn.path = new_path
        self.report(kn, _RENAME)

    def report(self, kn: Knote, notes: int, final: bool = False) -> None:
        notes &= kn.sfflags | _RESCAN
        if final:
            kn.oflags |= _EOF
            kn.flags |= _ONESHOT
        if notes or final:
            kn.fflags |= notes
            if kn.sfflags & _NAMES:
                kn.ext = tuple(kn.priv.names)
            self.engine.enqueue(kn)

    def event(self, kn: Knote) -> bool:
        return bool(kn.fflags) or bool(kn.oflags & _EOF)

    def clear(self, kn: Knote) -> None:
        kn.fflags = 0
        kn.ext = None
        kn.priv.names.clear()

    def close(self) -> None:
        self.closed = True
        for w in list(self.watchers.values()):
            w.close()
        self.watchers.clear()
