"""The event record and the kqueue vocabulary: filters, flags and per-filter notes.

Numbers are FreeBSD's on every OS (spec §2, decision D1). The BSD/macOS backend
translates them to the host kernel's values, so a number never crosses platforms.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol


class Filter(enum.IntEnum):
    """What a registration watches (``EVFILT_*``)."""

    READ = -1
    WRITE = -2
    AIO = -3
    VNODE = -4
    PROC = -5
    SIGNAL = -6
    TIMER = -7
    PROCDESC = -8
    FS = -9
    LIO = -10
    USER = -11
    SENDFILE = -12
    EMPTY = -13


class Flag(enum.IntFlag):
    """Actions on input, state on output (``EV_*``)."""

    ADD = 0x0001
    DELETE = 0x0002
    ENABLE = 0x0004
    DISABLE = 0x0008
    ONESHOT = 0x0010
    CLEAR = 0x0020
    RECEIPT = 0x0040
    DISPATCH = 0x0080
    FORCEONESHOT = 0x0100
    KEEPUDATA = 0x0200
    SYSFLAGS = 0xF000
    FLAG1 = 0x2000
    ERROR = 0x4000
    EOF = 0x8000
    #: kevents extension, input only, outside BSD's 16 flag bits (D78): this READ/WRITE
    #: knote's events need no ``data``. Where counting costs system calls (Linux: FIONREAD,
    #: SIOCOUTQ) its events carry ``data`` 0 and a READ event is not re-checked for bytes,
    #: as on a ``Queue(counts=False)``; other knotes of the queue keep FreeBSD's ``data``.
    #: Kept by the knote from its creating change (as EV_CLEAR), never echoed on events;
    #: ignored by other filters and by backends that count for free.
    NODATA = 0x10000


class NoteRW(enum.IntFlag):
    """``fflags`` for READ and WRITE."""

    LOWAT = 0x0001


class NoteUser(enum.IntFlag):
    """``fflags`` for USER: a trigger bit, a control op and 24 bits of user flags."""

    FFNOP = 0x00000000
    FFAND = 0x40000000
    FFOR = 0x80000000
    FFCOPY = 0xC0000000
    FFCTRLMASK = 0xC0000000
    FFLAGSMASK = 0x00FFFFFF
    TRIGGER = 0x01000000


class NoteTimer(enum.IntFlag):
    """``fflags`` for TIMER: the unit of ``data`` (milliseconds when none) and ABSTIME."""

    SECONDS = 0x01
    MSECONDS = 0x02
    USECONDS = 0x04
    NSECONDS = 0x08
    ABSTIME = 0x10


class NoteProc(enum.IntFlag):
    """``fflags`` for PROC and PROCDESC."""

    EXIT = 0x80000000
    FORK = 0x40000000
    EXEC = 0x20000000
    PCTRLMASK = 0xF0000000
    PDATAMASK = 0x000FFFFF
    TRACK = 0x00000001
    TRACKERR = 0x00000002
    CHILD = 0x00000004
    #: On output with NOTE_EXIT: ``data`` holds a real wait status (macOS spelling).
    EXITSTATUS = 0x04000000


class NoteVnode(enum.IntFlag):
    """``fflags`` for VNODE."""

    DELETE = 0x0001
    WRITE = 0x0002
    EXTEND = 0x0004
    ATTRIB = 0x0008
    LINK = 0x0010
    RENAME = 0x0020
    REVOKE = 0x0040
    OPEN = 0x0080
    CLOSE = 0x0100
    CLOSE_WRITE = 0x0200
    READ = 0x0400
    #: kevents extension: the file got smaller (FreeBSD has no such note; OpenBSD and
    #: NetBSD's NOTE_TRUNCATE is 0x80, FreeBSD's NOTE_OPEN: numbers never cross OSes)
    TRUNCATE = 0x1000
    #: kevents extension, output only: events were lost (inotify queue overflow); the
    #: state is unknown, rescan. Always delivered, whatever notes were asked for.
    RESCAN = 0x2000
    #: kevents extension, input only: report the names that changed in a watched
    #: directory in ``ev.ext``, as a tuple of (name, what) pairs
    NAMES = 0x4000


# Story: enum's ``|`` and ``&`` make their result through ``EnumType.__call__``, 1-2 us
# on 3.11-3.13, more than the C work of a one-change ``control()`` call, and kqueue
# code writes ``Flag.ADD | Flag.CLEAR`` in its loops. enum keeps every member it has
# made, combinations too, in the class's ``_value2member_map_``: the result is looked
# up there, and only the first time made by enum's own operator (same class, same
# value). EnumType copies Flag's operators into each flag class, so these are set on
# each class, not inherited.
def _or(self: Any, other: Any, _int_or: Any = int.__or__) -> Any:
    member = self._value2member_map_.get(_int_or(self, other))  # (NotImplemented: none)
    return member if member is not None else enum.Flag.__or__(self, other)


def _and(self: Any, other: Any, _int_and: Any = int.__and__) -> Any:
    member = self._value2member_map_.get(_int_and(self, other))
    return member if member is not None else enum.Flag.__and__(self, other)


for _cls in (Flag, NoteRW, NoteUser, NoteTimer, NoteProc, NoteVnode):
    for _name, _fn in (("__or__", _or), ("__ror__", _or), ("__and__", _and), ("__rand__", _and)):
        setattr(_cls, _name, _fn)
del _cls, _name, _fn

#: The NoteVnode bits that mean "this file or directory changed" (what the adapters'
#: file helpers and ``python -m kevents watch`` ask for unless told otherwise).
VNODE_CHANGES = int(
    NoteVnode.DELETE
    | NoteVnode.WRITE
    | NoteVnode.EXTEND
    | NoteVnode.ATTRIB
    | NoteVnode.LINK
    | NoteVnode.RENAME
)


class HasFileno(Protocol):
    """Anything with ``fileno()`` (a socket, a file object...): accepted as an ident."""

    def fileno(self) -> int: ...


# Story (D58): a change may name its descriptor by any object with fileno(), resolved
# once when the change is applied; an event always carries the int. KEvent is generic in
# its ident's type so that a type checker knows both: KEvent(sock, Filter.READ) is a
# KEvent[socket], accepted where a change may be HasFileno (Queue.control), while a bare
# KEvent means KEvent[int] (the PEP 696 default), as control() returns. Covariant: a
# KEvent is an immutable tuple. The default needs typing_extensions before 3.13, for the
# type checker only: at run time nothing reads it.
if TYPE_CHECKING:
    from typing_extensions import TypeVar

    Ident = TypeVar("Ident", bound="int | HasFileno", covariant=True, default=int)
else:
    from typing import TypeVar

    Ident = TypeVar("Ident", covariant=True)


class KEvent(NamedTuple, Generic[Ident]):
    """One change (input) or one event (output): ``struct kevent``.

    Immutable and ordered like :class:`select.kevent` (as the tuple ident, filter,
    flags, fflags, data, udata). ``udata`` may be any object and is returned verbatim;
    ``ext`` carries kevents' optional per-filter extras (e.g. Linux ``siginfo``).
    """

    ident: Ident
    filter: int = Filter.READ
    flags: int = Flag.ADD
    fflags: int = 0
    data: int = 0
    udata: Any = None
    ext: Any = None
