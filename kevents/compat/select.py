"""A drop-in for the kqueue part of the standard :mod:`select` module, on every OS.

``kqueue``, ``kevent``, every ``KQ_*`` constant and ``error`` behave as CPython's own on
BSD (Modules/selectmodule.c): the same constructor defaults and conversions, comparisons,
exceptions and messages; ``kqueue.fromfd`` aliases the same queue; the fd is
non-inheritable; a queue is closed in a forked child (the CPython >= 3.12 rule). Numbers
are FreeBSD's. Two deliberate differences: an interrupted wait resumes without applying
the change list a second time (CPython re-applies it, h2o/h2o#1109), and constants for
filters and notes CPython does not export (USER, timer units, ...) are added under the
same naming scheme.

``install()`` puts these names into the real :mod:`select` module, so unchanged code
such as :class:`selectors.KqueueSelector` runs on Linux and Windows; it is explicit:
importing this module changes nothing.
"""

from __future__ import annotations

import errno as _errno
import importlib as _importlib
import os as _os
import select as _stdlib_select
import sys as _sys
import weakref as _weakref
from collections.abc import Iterable as _Iterable
from typing import Any as _Any

from .. import _event
from .._core import route_compat as _route_compat
from .._errors import UnsupportedError as _UnsupportedError
from .._event import KEvent as _KEvent
from .._queue import Queue as _Queue

error = OSError

# -- constants: FreeBSD values (spec §2, decision D1) -------------------------------------

KQ_FILTER_READ = int(_event.Filter.READ)
KQ_FILTER_WRITE = int(_event.Filter.WRITE)
KQ_FILTER_AIO = int(_event.Filter.AIO)
KQ_FILTER_VNODE = int(_event.Filter.VNODE)
KQ_FILTER_PROC = int(_event.Filter.PROC)
KQ_FILTER_SIGNAL = int(_event.Filter.SIGNAL)
KQ_FILTER_TIMER = int(_event.Filter.TIMER)
# not exported by CPython, same scheme:
KQ_FILTER_PROCDESC = int(_event.Filter.PROCDESC)
KQ_FILTER_USER = int(_event.Filter.USER)
KQ_FILTER_EMPTY = int(_event.Filter.EMPTY)

KQ_EV_ADD = int(_event.Flag.ADD)
KQ_EV_DELETE = int(_event.Flag.DELETE)
KQ_EV_ENABLE = int(_event.Flag.ENABLE)
KQ_EV_DISABLE = int(_event.Flag.DISABLE)
KQ_EV_ONESHOT = int(_event.Flag.ONESHOT)
KQ_EV_CLEAR = int(_event.Flag.CLEAR)
KQ_EV_SYSFLAGS = int(_event.Flag.SYSFLAGS)
KQ_EV_FLAG1 = int(_event.Flag.FLAG1)
KQ_EV_EOF = int(_event.Flag.EOF)
KQ_EV_ERROR = int(_event.Flag.ERROR)
# not exported by CPython:
KQ_EV_RECEIPT = int(_event.Flag.RECEIPT)
KQ_EV_DISPATCH = int(_event.Flag.DISPATCH)
KQ_EV_FORCEONESHOT = int(_event.Flag.FORCEONESHOT)
KQ_EV_KEEPUDATA = int(_event.Flag.KEEPUDATA)

KQ_NOTE_LOWAT = int(_event.NoteRW.LOWAT)
KQ_NOTE_DELETE = int(_event.NoteVnode.DELETE)
KQ_NOTE_WRITE = int(_event.NoteVnode.WRITE)
KQ_NOTE_EXTEND = int(_event.NoteVnode.EXTEND)
KQ_NOTE_ATTRIB = int(_event.NoteVnode.ATTRIB)
KQ_NOTE_LINK = int(_event.NoteVnode.LINK)
KQ_NOTE_RENAME = int(_event.NoteVnode.RENAME)
KQ_NOTE_REVOKE = int(_event.NoteVnode.REVOKE)
KQ_NOTE_EXIT = int(_event.NoteProc.EXIT)
KQ_NOTE_FORK = int(_event.NoteProc.FORK)
KQ_NOTE_EXEC = int(_event.NoteProc.EXEC)
KQ_NOTE_PCTRLMASK = int(_event.NoteProc.PCTRLMASK)
KQ_NOTE_PDATAMASK = int(_event.NoteProc.PDATAMASK)
KQ_NOTE_TRACK = int(_event.NoteProc.TRACK)
KQ_NOTE_CHILD = int(_event.NoteProc.CHILD)
KQ_NOTE_TRACKERR = int(_event.NoteProc.TRACKERR)
# not exported by CPython:
KQ_NOTE_TRIGGER = int(_event.NoteUser.TRIGGER)
KQ_NOTE_FFNOP = int(_event.NoteUser.FFNOP)
KQ_NOTE_FFAND = int(_event.NoteUser.FFAND)
KQ_NOTE_FFOR = int(_event.NoteUser.FFOR)
KQ_NOTE_FFCOPY = int(_event.NoteUser.FFCOPY)
KQ_NOTE_FFCTRLMASK = int(_event.NoteUser.FFCTRLMASK)
KQ_NOTE_FFLAGSMASK = int(_event.NoteUser.FFLAGSMASK)
KQ_NOTE_SECONDS = int(_event.NoteTimer.SECONDS)
KQ_NOTE_MSECONDS = int(_event.NoteTimer.MSECONDS)
KQ_NOTE_USECONDS = int(_event.NoteTimer.USECONDS)
KQ_NOTE_NSECONDS = int(_event.NoteTimer.NSECONDS)
KQ_NOTE_ABSTIME = int(_event.NoteTimer.ABSTIME)


def _as_fd(obj: _Any) -> int:
    """CPython's PyObject_AsFileDescriptor."""
    if isinstance(obj, int):
        fd = int(obj)
    else:
        fileno = getattr(obj, "fileno", None)
        if fileno is None:
            raise TypeError("argument must be an int, or have a fileno() method.")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


class kevent:
    """``select.kevent(ident, filter=KQ_FILTER_READ, flags=KQ_EV_ADD, fflags=0, data=0,
    udata=0)``: flags, fflags and udata wrap like C's unsigned types (bpo-11973),
    filter and data are range-checked."""

    __slots__ = ("data", "fflags", "filter", "flags", "ident", "udata")
    __hash__ = None  # type: ignore[assignment]  # mutable, as CPython's

    def __init__(
        self,
        ident: _Any,
        filter: int = KQ_FILTER_READ,
        flags: int = KQ_EV_ADD,
        fflags: int = 0,
        data: int = 0,
        udata: int = 0,
    ) -> None:
        self.ident = _as_fd(ident)
        if not -0x8000 <= filter <= 0x7FFF:
            raise OverflowError("signed short integer is out of range")
        if not -(2**63) <= data < 2**63:
            raise OverflowError("Python int too large to convert to C long")
        self.filter = int(filter)
        self.flags = int(flags) & 0xFFFF
        self.fflags = int(fflags) & 0xFFFFFFFF
        self.data = int(data)
        self.udata = int(udata) & 0xFFFFFFFFFFFFFFFF

    def _key(self) -> tuple[int, int, int, int, int, int]:
        return (self.ident, self.filter, self.flags, self.fflags, self.data, self.udata)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, kevent) else NotImplemented

    def __ne__(self, other: object) -> bool:
        return self._key() != other._key() if isinstance(other, kevent) else NotImplemented

    def __lt__(self, other: object) -> bool:
        return self._key() < other._key() if isinstance(other, kevent) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self._key() <= other._key() if isinstance(other, kevent) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self._key() > other._key() if isinstance(other, kevent) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self._key() >= other._key() if isinstance(other, kevent) else NotImplemented

    def __repr__(self) -> str:
        return (
            f"<select.kevent ident={self.ident} filter={self.filter} flags={self.flags:#x} "
            f"fflags={self.fflags:#x} data={self.data:#x} udata={self.udata:#x}>"
        )


#: fd -> queue, so that kqueue.fromfd(fd) aliases the same queue
_queues: _weakref.WeakValueDictionary[int, _Queue] = _weakref.WeakValueDictionary()
#: queue -> the closer of its token descriptor (backends without a descriptor, D40)
_tokens: _weakref.WeakKeyDictionary[_Queue, _weakref.finalize[..., _Queue]] = (
    _weakref.WeakKeyDictionary()
)


class kqueue:
    """``select.kqueue()``: a kevents queue behind the stdlib's interface."""

    __slots__ = ("__weakref__", "_fd", "_queue")

    def __init__(self, *, _backend: str | None = None) -> None:
        self._queue: _Queue | None = _Queue(_backend)
        try:
            self._fd = self._queue.fileno()
        except _UnsupportedError:
            # Windows: a completion port is no descriptor, but select.kqueue promises
            # one (fileno(), fromfd()). The queue gets a token instead: a descriptor of
            # the null device that names it for fromfd() and is closed with it. It
            # cannot be polled (D40).
            self._fd = _os.open(_os.devnull, _os.O_RDONLY)
            _tokens[self._queue] = _weakref.finalize(self._queue, _os.close, self._fd)
        _queues[self._fd] = self._queue

    @classmethod
    def fromfd(cls, fd: int) -> kqueue:
        """A kqueue object for ``fd``: the same queue when ``fd`` is a kevents queue of
        this process; otherwise an object whose control() fails with EBADF, as the
        kernel answers for an fd that is not a kqueue."""
        self = cls.__new__(cls)
        self._fd = _as_fd(fd)
        queue = _queues.get(self._fd)
        self._queue = queue if queue is not None and not queue.closed else None
        return self

    @property
    def closed(self) -> bool:
        return self._fd < 0 or (self._queue is not None and self._queue.closed)

    def fileno(self) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed kqueue object")
        return self._fd

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            token = _tokens.pop(self._queue, None)
            if token is not None:
                token()  # closes the token descriptor, once
        elif self._fd >= 0:
            _os.close(self._fd)  # CPython closes whatever fd fromfd() was given
        self._fd = -1

    def __enter__(self) -> kqueue:
        if self.closed:
            raise ValueError("I/O operation on closed kqueue object")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def control(
        self, changelist: _Iterable[kevent] | None, maxevents: int, timeout: float | None = None
    ) -> list[kevent]:
        if self.closed:
            raise ValueError("I/O operation on closed kqueue object")
        if not isinstance(maxevents, int):
            raise TypeError(
                f"'{type(maxevents).__name__}' object cannot be interpreted as an integer"
            )
        if maxevents < 0:
            raise ValueError(f"Length of eventlist must be 0 or positive, got {maxevents}")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float):
                raise TypeError(
                    f"timeout argument must be a number or None, got {type(timeout).__name__}"
                )
            if timeout < 0:
                raise ValueError("timeout must be positive or None")
        changes: list[_KEvent] = []
        if changelist is not None:
            try:
                items = list(changelist)
            except TypeError:
                raise TypeError("changelist is not iterable") from None
            for ch in items:
                if not isinstance(ch, kevent):
                    raise TypeError("changelist must be an iterable of select.kevent objects")
                changes.append(_KEvent(ch.ident, ch.filter, ch.flags, ch.fflags, ch.data, ch.udata))
        if self._queue is None:
            raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
        got = self._queue.control(changes, maxevents, timeout)
        out = []
        for ev in got:
            k = kevent.__new__(kevent)
            k.ident, k.filter, k.flags = ev.ident, int(ev.filter), int(ev.flags)
            k.fflags, k.data = int(ev.fflags), int(ev.data)
            k.udata = ev.udata if isinstance(ev.udata, int) else 0
            out.append(k)
        return out

    def __repr__(self) -> str:
        return f"<kevents.compat.select.kqueue fd={self._fd}>"


# the C core runs control()'s steady state (same results; D42): the one hook here
_route_compat(kqueue, kevent)

_EXPORTS = [name for name in dir() if name.startswith("KQ_")] + ["kqueue", "kevent"]


def install(module: _Any = None) -> None:
    """Put ``kqueue``, ``kevent`` and the ``KQ_*`` constants into :mod:`select` (or
    ``module``) so code written for BSD runs unchanged: :mod:`selectors` then has
    ``KqueueSelector`` (reloaded if it was imported already, keeping its
    ``DefaultSelector``). Explicit, never done at import."""
    target = _stdlib_select if module is None else module
    this = _sys.modules[__name__]
    for name in _EXPORTS:
        setattr(target, name, getattr(this, name))
    selectors: _Any = _sys.modules.get("selectors")
    if (
        target is _stdlib_select
        and selectors is not None
        and not hasattr(selectors, "KqueueSelector")
    ):
        # selectors decided its classes when it was imported: let it define
        # KqueueSelector now, but keep the DefaultSelector it had chosen
        default = selectors.DefaultSelector
        _importlib.reload(selectors)
        selectors.DefaultSelector = default


__all__ = ["error", "install", *_EXPORTS]
