"""Per-OS kqueue numbers, and the translation from kevents' (FreeBSD's) numbers.

Spec §2: filters, flags and NOTE_* values differ between FreeBSD, macOS, OpenBSD and
NetBSD, and several collide (macOS USER is -10, FreeBSD's LIO; macOS NOTE_USECONDS is
0x2, FreeBSD's milliseconds). kevents' public numbers are FreeBSD's everywhere; this
table says, per OS, what the kernel calls each one, and what it lacks (None: refused
with ENOTSUP before reaching the kernel).
"""

from __future__ import annotations

import dataclasses
import sys

from ..._event import Filter, Flag, NoteProc, NoteTimer, NoteVnode


@dataclasses.dataclass(frozen=True)
class OsTable:
    name: str
    #: kevents filter -> native filter (missing: not available)
    filters: dict[int, int]
    #: kevents flag bits the kernel does not know (refused with ENOTSUP)
    missing_flags: int
    #: kevents TIMER unit bit -> native bits (None: unit not available)
    timer_units: dict[int, int]
    timer_abstime: int | None
    #: kevents VNODE note bits the kernel does not know
    missing_vnode: int
    #: add NOTE_EXITSTATUS (macOS) to NOTE_EXIT registrations to get the status
    proc_exitstatus: int = 0
    #: kevents PROC note bits the kernel refuses
    missing_proc: int = 0


_COMMON: dict[int, int] = {
    Filter.READ: -1,
    Filter.WRITE: -2,
    Filter.VNODE: -4,
    Filter.PROC: -5,
    Filter.SIGNAL: -6,
    Filter.TIMER: -7,
}
_FREEBSD_UNITS = {
    0: 0,
    NoteTimer.SECONDS: 0x1,
    NoteTimer.MSECONDS: 0x2,
    NoteTimer.USECONDS: 0x4,
    NoteTimer.NSECONDS: 0x8,
}
_EXTENSIONS = int(NoteVnode.TRUNCATE | NoteVnode.NAMES)
_FBSD_ONLY_VNODE = int(NoteVnode.OPEN | NoteVnode.CLOSE | NoteVnode.CLOSE_WRITE | NoteVnode.READ)

FREEBSD = OsTable(
    "freebsd",
    {**_COMMON, Filter.PROCDESC: -8, Filter.USER: -11, Filter.EMPTY: -13},
    0,
    _FREEBSD_UNITS,
    int(NoteTimer.ABSTIME),
    _EXTENSIONS,
)
MACOS = OsTable(
    "macos",
    {**_COMMON, Filter.USER: -10},
    int(Flag.FORCEONESHOT | Flag.KEEPUDATA),  # 0x100/0x200 mean other things there
    {
        0: 0,
        NoteTimer.SECONDS: 0x1,
        NoteTimer.MSECONDS: 0,
        NoteTimer.USECONDS: 0x2,
        NoteTimer.NSECONDS: 0x4,
    },
    0x8,  # NOTE_ABSOLUTE
    _EXTENSIONS | _FBSD_ONLY_VNODE,
    proc_exitstatus=0x04000000,
    missing_proc=int(NoteProc.TRACK | NoteProc.TRACKERR | NoteProc.CHILD),  # ENOTSUP since 10.5
)
OPENBSD = OsTable(
    "openbsd",
    dict(_COMMON),  # no EVFILT_USER on the releases this table knows: refused
    int(Flag.FORCEONESHOT | Flag.KEEPUDATA),
    {
        0: 0,
        NoteTimer.SECONDS: 0x1,
        NoteTimer.MSECONDS: 0x2,
        NoteTimer.USECONDS: 0x4,
        NoteTimer.NSECONDS: 0x8,
    },
    None,
    _EXTENSIONS | _FBSD_ONLY_VNODE,
)
# NetBSD numbers its filters from 0 (EVFILT_READ 0 ... EVFILT_TIMER 6, EVFILT_USER 8)
NETBSD = dataclasses.replace(
    OPENBSD,
    name="netbsd",
    filters={
        Filter.READ: 0,
        Filter.WRITE: 1,
        Filter.VNODE: 3,
        Filter.PROC: 4,
        Filter.SIGNAL: 5,
        Filter.TIMER: 6,
        Filter.USER: 8,
    },
)


def host_table() -> OsTable:
    if sys.platform == "darwin":
        return MACOS
    if sys.platform.startswith("openbsd"):
        return OPENBSD
    if sys.platform.startswith("netbsd"):
        return NETBSD
    return FREEBSD
