"""One inotify instance per queue, shared by every source that watches files.

Story (spec §6.8, verified on 6.18): watches are added on ``/proc/self/fd/N``, which
resolves to the open file's inode even after rename or unlink (a readlink()ed path
breaks then). Two watches on one inode in one instance get the same wd and the second
mask *replaces* the first, so masks are added with IN_MASK_ADD and each wd keeps a set
of subscribers. One instance per queue, not per knote: ``fs.inotify.max_user_instances``
is only 128 by default.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..._errors import oserror
from ..._ffi import check, lib

if TYPE_CHECKING:
    from . import LinuxBackend

IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_MASK_ADD = 0x20000000
_HEADER = struct.Struct("iIII")

#: callback(mask, name) - mask is IN_Q_OVERFLOW when the kernel dropped events
Callback = Callable[[int, bytes], None]


class Inotify:
    def __init__(self, backend: LinuxBackend) -> None:
        fd = backend.inotify_init()  # keeps the GIL with the C core (D46)
        if fd == -errno.EMFILE:
            raise OSError(
                errno.EMFILE,
                "inotify instance limit reached: raise the sysctl fs.inotify.max_user_instances",
            )
        self.fd = check(fd, "inotify_init1")
        self.backend = backend
        self.subs: dict[int, dict[object, Callback]] = {}
        backend.add_internal(self.fd, 0x001, self._readable)  # EPOLLIN

    def watch(self, key: object, fd: int, mask: int, callback: Callback) -> int:
        """Subscribe ``callback`` to events on the file ``fd`` refers to; returns the wd."""
        path = f"/proc/self/fd/{fd}".encode()
        wd = self.backend.inotify_add(self.fd, path, mask | IN_MASK_ADD)  # GIL kept (D46)
        if wd < 0:
            if -wd == errno.ENOSPC:
                raise OSError(
                    errno.ENOSPC,
                    "inotify watch limit reached: raise the sysctl fs.inotify.max_user_watches",
                )
            raise oserror(-wd, "inotify_add_watch")
        self.subs.setdefault(wd, {})[key] = callback
        return int(wd)

    def unwatch(self, key: object, wd: int) -> None:
        subs = self.subs.get(wd)
        if subs is None:
            return
        subs.pop(key, None)
        if not subs:
            del self.subs[wd]
            if not self.backend.closing:  # closing the inotify fd drops every watch
                self.backend.inotify_rm(self.fd, wd)  # GIL kept with the C core (D46)

    def _readable(self, events: int) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            batch = []
            pos = 0
            while pos < len(chunk):
                wd, mask, _cookie, length = _HEADER.unpack_from(chunk, pos)
                batch.append((wd, mask, chunk[pos + 16 : pos + 16 + length].rstrip(b"\0")))
                pos += 16 + length
            for wd, mask, name in freebsd_order(batch):
                if mask & IN_Q_OVERFLOW:
                    for subs in list(self.subs.values()):
                        for cb in list(subs.values()):
                            cb(IN_Q_OVERFLOW, b"")
                    continue
                if mask & IN_IGNORED:
                    continue  # may be stale after a remove/re-add of the same inode
                for cb in list(self.subs.get(wd, {}).values()):
                    cb(mask, name)

    def close(self) -> None:
        self.subs.clear()
        if self.fd >= 0:
            self.backend.remove_internal(self.fd)
            lib.kev_close(self.fd)
            self.fd = -1

    def forget(self) -> None:
        self.subs.clear()
        if self.fd >= 0:
            lib.kev_close(self.fd)
            self.fd = -1


def freebsd_order(batch: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Reorder one read's events as FreeBSD activates the knotes of the same operation.

    Story (D53): the queue is first-in first-out on both systems, so the order in which
    one operation touches its vnodes is the order of the events. FreeBSD's
    ``vop_remove_post`` posts the directory's NOTE_WRITE, then the file's NOTE_DELETE;
    ``vop_rename_post`` posts the directories, then NOTE_RENAME on the moved file, then
    NOTE_DELETE on a file it replaced. Linux (verified on 6.x) sends an unlink's
    IN_ATTRIB on the file (its link count) before the directory's IN_DELETE, and a
    rename over an existing name gives IN_MOVED_FROM, IN_MOVED_TO, the replaced file's
    IN_ATTRIB, then the moved file's IN_MOVE_SELF. The kernel writes the events of one
    operation next to each other, so two adjacent events on different watches of the
    shapes above are swapped; anything else keeps the kernel's order. (rmdir needs no
    swap: the removed directory gets no event at all while its descriptor is open, and
    vnode.py derives its NOTE_DELETE after the parent's event.)
    """
    out = list(batch)
    for i in range(1, len(out)):
        wd, mask, name = out[i]
        pwd, pmask, pname = out[i - 1]
        if pname or not pmask & IN_ATTRIB or pwd == wd:
            continue
        unlink = bool(name) and mask & IN_DELETE and not mask & IN_ISDIR
        replaced = not name and mask & IN_MOVE_SELF and i >= 2 and out[i - 2][1] & IN_MOVED_TO != 0
        if unlink or replaced:
            out[i - 1], out[i] = out[i], out[i - 1]
    return out
