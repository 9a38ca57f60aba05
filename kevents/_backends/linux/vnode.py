"""EVFILT_VNODE on Linux, via inotify (spec §5.5, §6.8, D29, D30).

Some facts about inotify that shape this file (verified on 6.18):

* a watch on ``/proc/self/fd/N`` follows the open file's inode, also after rename or
  unlink, which is kqueue's model (the knote follows the inode through the fd);
* IN_DELETE_SELF never arrives while the knote exists: kevents' own fd keeps the inode
  alive. An unlink shows as IN_ATTRIB with a smaller ``st_nlink``, so NOTE_DELETE and
  NOTE_LINK are derived from a cached ``stat``; likewise NOTE_EXTEND (and kevents'
  NOTE_TRUNCATE) from the size, and NOTE_ATTRIB from mode/owner/times;
* a directory watch also reports what happens *to* its entries (opens, writes); BSD posts
  nothing on the directory for those, so only the namespace events (IN_CREATE,
  IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO) count: NOTE_WRITE, plus NOTE_LINK when the entry
  is a directory (the parent's link count changes);
* the kernel drops events when a queue overflows (IN_Q_OVERFLOW): every VNODE knote of
  the queue then gets ``NoteVnode.RESCAN`` (with fresh stat-derived notes), so loss is
  never silent (D30).

Differences from FreeBSD (also in the platform table): a growing ftruncate is
NOTE_WRITE|NOTE_EXTEND (inotify reports truncation as IN_MODIFY), BSD says
NOTE_ATTRIB|NOTE_EXTEND; NOTE_DELETE comes with every unlink of a name, like BSD
(D29), with NOTE_LINK too (as macOS); NOTE_OPEN/CLOSE/CLOSE_WRITE/READ map to IN_OPEN,
IN_CLOSE_NOWRITE, IN_CLOSE_WRITE and IN_ACCESS; a removed directory reports NOTE_DELETE
only when the queue watches its parent too (inotify says nothing to the directory
itself, D53). The events of one operation come in FreeBSD's order (_inotify.py:
freebsd_order, D53).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from ..._event import Filter, Flag, NoteVnode
from ..._knote import Knote
from . import _inotify as ino
from .read_write import FdSource

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

_DELETE, _WRITE, _EXTEND = int(NoteVnode.DELETE), int(NoteVnode.WRITE), int(NoteVnode.EXTEND)
_ATTRIB, _LINK, _RENAME = int(NoteVnode.ATTRIB), int(NoteVnode.LINK), int(NoteVnode.RENAME)
_REVOKE, _TRUNCATE = int(NoteVnode.REVOKE), int(NoteVnode.TRUNCATE)
_RESCAN, _NAMES = int(NoteVnode.RESCAN), int(NoteVnode.NAMES)
_OPEN, _CLOSE = int(NoteVnode.OPEN), int(NoteVnode.CLOSE)
_CLOSE_WRITE, _READ = int(NoteVnode.CLOSE_WRITE), int(NoteVnode.READ)
_EOF, _ONESHOT = int(Flag.EOF), int(Flag.ONESHOT)

_BASE_MASK = (
    ino.IN_MODIFY
    | ino.IN_ATTRIB
    | ino.IN_MOVE_SELF
    | ino.IN_DELETE_SELF
    | ino.IN_UNMOUNT
    | ino.IN_CREATE
    | ino.IN_DELETE
    | ino.IN_MOVED_FROM
    | ino.IN_MOVED_TO
)
_NAMESPACE = {
    ino.IN_CREATE: "created",
    ino.IN_DELETE: "deleted",
    ino.IN_MOVED_FROM: "moved_from",
    ino.IN_MOVED_TO: "moved_to",
}
_SELF_NOTES = (
    (ino.IN_MOVE_SELF, _RENAME),
    (ino.IN_DELETE_SELF, _DELETE),
    (ino.IN_OPEN, _OPEN),
    (ino.IN_CLOSE_NOWRITE, _CLOSE),
    (ino.IN_CLOSE_WRITE, _CLOSE_WRITE),
    (ino.IN_ACCESS, _READ),
)


class _Vnode:
    __slots__ = ("names", "st", "wd")

    def __init__(self, wd: int, st: os.stat_result) -> None:
        self.wd = wd
        self.st = st
        self.names: list[tuple[str, str]] = []


def _mask(fflags: int) -> int:
    mask = _BASE_MASK
    if fflags & _OPEN:
        mask |= ino.IN_OPEN
    if fflags & _CLOSE:
        mask |= ino.IN_CLOSE_NOWRITE
    if fflags & _CLOSE_WRITE:
        mask |= ino.IN_CLOSE_WRITE
    if fflags & _READ:
        mask |= ino.IN_ACCESS
    return mask


def stat_notes(old: os.stat_result, new: os.stat_result, attrib: bool) -> int:
    """The notes a change from ``old`` to ``new`` stands for. ``attrib``: the kernel said
    the attributes changed (IN_ATTRIB); a write changes the times too, and that is
    NOTE_WRITE, not NOTE_ATTRIB."""
    notes = 0
    if new.st_nlink != old.st_nlink:
        notes |= _LINK
        if new.st_nlink < old.st_nlink:
            notes |= _DELETE  # BSD posts DELETE on every unlink of a name (D29)
    elif attrib:
        notes |= _ATTRIB  # mode, owner, times or xattrs: only a link count is not ATTRIB
    if new.st_nlink == 0:
        notes |= _DELETE
    if stat.S_ISREG(new.st_mode):
        if new.st_size > old.st_size:
            notes |= _EXTEND
        elif new.st_size < old.st_size:
            notes |= _TRUNCATE
    return notes


class VnodeSource(FdSource):
    filter = Filter.VNODE
    userspace = True

    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine, backend)
        #: the knotes on directories, looked at when a watched directory loses a
        #: subdirectory (the removed one gets no inotify event of its own)
        self.dirs: set[Knote] = set()

    def attach(self, kn: Knote) -> None:
        mode = kn.identity[2]  # type: ignore[index]
        if mode in (stat.S_IFSOCK, stat.S_IFIFO):
            raise OSError(errno.EINVAL, "VNODE needs a file or directory, not a socket or pipe")
        st = self.backend.fstat(kn.ident)  # keeps the GIL with the C core (D46)
        kn.priv = _Vnode(-1, st)
        kn.priv.wd = self.backend.get_inotify().watch(
            kn, kn.ident, _mask(kn.sfflags), lambda mask, name: self._changed(kn, mask, name)
        )
        if stat.S_ISDIR(st.st_mode):
            self.dirs.add(kn)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if _mask(fflags) & ~_mask(kn.sfflags):  # more inotify events needed: widen the watch
            self.backend.get_inotify().watch(
                kn, kn.ident, _mask(fflags), lambda mask, name: self._changed(kn, mask, name)
            )
        kn.sfflags, kn.sdata = fflags, data

    def detach(self, kn: Knote) -> None:
        self.dirs.discard(kn)
        vn: _Vnode | None = kn.priv
        if vn is not None and self.backend.inotify is not None:
            self.backend.inotify.unwatch(kn, vn.wd)

    def close(self) -> None:
        self.dirs.clear()

    def _removed_dirs(self) -> None:
        """A watched directory lost a subdirectory (rmdir, or a rename over an empty
        one): a directory knote whose directory is now gone gets NOTE_DELETE, after the
        parent's NOTE_WRITE|NOTE_LINK, as FreeBSD's vop_rmdir_post posts them (D53)."""
        for kn in list(self.dirs):
            vn: _Vnode = kn.priv
            if vn.st.st_nlink == 0:
                continue
            try:
                st = os.fstat(kn.ident)
            except OSError:
                continue
            if st.st_nlink == 0:
                vn.st = st
                if kn.sfflags & _DELETE:
                    kn.fflags |= _DELETE
                    self.engine.enqueue(kn)

    def _changed(self, kn: Knote, mask: int, name: bytes) -> None:
        vn: _Vnode = kn.priv
        notes = 0
        if mask & ino.IN_Q_OVERFLOW:
            notes |= _RESCAN
        if name:  # an entry of a watched directory: only namespace changes count
            for bit, what in _NAMESPACE.items():
                if mask & bit:
                    notes |= _WRITE | (_LINK if mask & ino.IN_ISDIR else 0)
                    if kn.sfflags & _NAMES:
                        vn.names.append((os.fsdecode(name), what))
        else:
            if mask & ino.IN_MODIFY:
                notes |= _WRITE
            for bit, note in _SELF_NOTES:
                if mask & bit:
                    notes |= note
            if mask & ino.IN_UNMOUNT:
                notes |= _REVOKE
                kn.oflags |= _EOF
                kn.flags |= _ONESHOT
            if mask & (ino.IN_MODIFY | ino.IN_ATTRIB | ino.IN_Q_OVERFLOW):
                try:
                    st = os.fstat(kn.ident)
                except OSError:
                    st = vn.st
                notes |= stat_notes(vn.st, st, bool(mask & ino.IN_ATTRIB))
                vn.st = st
        notes &= kn.sfflags | _RESCAN
        if notes:
            kn.fflags |= notes
            if kn.sfflags & _NAMES:
                kn.ext = tuple(vn.names)
            self.engine.enqueue(kn)
        if name and mask & ino.IN_ISDIR and mask & (ino.IN_DELETE | ino.IN_MOVED_TO):
            self._removed_dirs()

    def event(self, kn: Knote) -> bool:
        return bool(kn.fflags)

    def clear(self, kn: Knote) -> None:
        kn.fflags = 0
        kn.ext = None
        kn.priv.names.clear()
