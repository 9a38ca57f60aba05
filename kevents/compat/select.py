"""A drop-in for the kqueue part of the standard :mod:`select` module, on every OS.

``kqueue``, ``kevent``, every ``KQ_*`` constant and ``error`` behave as CPython's own on
BSD (Modules/selectmodule.c) for the running Python version, 3.11 to 3.15 (D49): the
same accepted types, defaults and conversions, comparisons, exceptions, errno values and
messages (``_capi`` re-states the C helpers they come from); kevent attributes behave as
the C struct members they are (D50); ``kqueue.fromfd`` aliases the same queue; the fd is
non-inheritable; a queue object is closed in a forked child from 3.12 on (3.11 leaves
it open on a dead queue: EBADF); an unclosed queue closes silently when collected (D51).
Numbers are FreeBSD's. Deliberate differences: an interrupted wait resumes without
applying the change list a second time (CPython re-applies it, h2o/h2o#1109); constants
for filters and notes CPython does not export (USER, timer units, ...) are added under
the same naming scheme; and where the interpreter itself writes a type's name into a
message (an unsupported comparison, ``hash()``) it says ``kevent``/``kqueue``, not
``select.kevent``.

``install()`` puts these names into the real :mod:`select` module, so unchanged code
such as :class:`selectors.KqueueSelector` runs on Linux and Windows; it is explicit:
importing this module changes nothing.
"""

from __future__ import annotations

import contextlib as _contextlib
import contextvars as _contextvars
import errno as _errno
import functools as _functools
import importlib as _importlib
import os as _os
import select as _stdlib_select
import sys as _sys
import weakref as _weakref
from collections.abc import Iterable as _Iterable
from typing import Any as _Any

from .. import _event
from .._core import KeventBase as _KeventBase
from .._core import _speedups
from .._core import route_compat as _route_compat
from .._errors import UnsupportedError as _UnsupportedError
from .._event import KEvent as _KEvent
from .._queue import Queue as _Queue
from . import _capi

error = OSError
_MISSING: _Any = object()

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


_FIELDS = ("ident", "filter", "flags", "fflags", "data", "udata")
_U64 = 0xFFFFFFFFFFFFFFFF
_FNAME = "kevent"
#: PyArg_ParseTupleAndKeywords "O|hHILK:kevent": one converter per optional argument
_UNITS = (_capi.unit_h, _capi.unit_H, _capi.unit_I, _capi.unit_L, _capi.unit_K)


#: under speedups the fields are C's struct kevent (compat_select.c: KeventBase), with
#: CPython's member types; else __slots__ and the __getattr__ below give the same reads
_C_LAYOUT = _speedups is not None


class kevent(_KeventBase):
    """``select.kevent(ident, filter=KQ_FILTER_READ, flags=KQ_EV_ADD, fflags=0, data=0,
    udata=0)``: CPython's conversions for the running version (D49). The attributes are
    C struct members: ident and udata unsigned 64-bit, filter a short, flags an unsigned
    short, fflags an unsigned int, data a 64-bit int; assigning follows CPython's
    member rules (truncation warnings, TypeError for a non-number, no ``del``)."""

    __slots__ = () if _C_LAYOUT else _FIELDS
    __hash__ = None  # type: ignore[assignment]  # mutable, as CPython's

    ident: int
    filter: int
    flags: int
    fflags: int
    data: int
    udata: int

    def __init_subclass__(cls, **kwargs: _Any) -> None:
        raise TypeError("type 'select.kevent' is not an acceptable base type")

    def __init__(self, *args: _Any, **kwargs: _Any) -> None:
        # fast path: ints that every converter takes as they are (no wrap, no warning)
        if not kwargs and 0 < len(args) <= 6:
            ident, filt, flags, fflags, data, udata = args + _DEFAULTS[len(args) :]
            if (
                ident.__class__ is int
                and filt.__class__ is int
                and flags.__class__ is int
                and fflags.__class__ is int
                and data.__class__ is int
                and udata.__class__ is int
                and 0 <= ident <= _U64
                and -0x8000 <= filt <= 0x7FFF
                and 0 <= flags <= 0xFFFF
                and 0 <= fflags <= 0xFFFFFFFF
                and -(1 << 63) <= data < (1 << 63)
                and 0 <= udata <= _U64
            ):
                _SET_IDENT(self, ident)
                _SET_FILTER(self, filt)
                _SET_FLAGS(self, flags)
                _SET_FFLAGS(self, fflags)
                _SET_DATA(self, data)
                _SET_UDATA(self, udata)
                return
        _kevent_init(self, args, kwargs)

    def __setattr__(self, name: str, value: _Any) -> None:
        bounds = _BOUNDS.get(name)
        if bounds is not None and value.__class__ is int and bounds[0] <= value <= bounds[1]:
            _STORE[name](self, value)  # in the member's range: every version stores it
            return
        setter = _SETTERS.get(name)
        if setter is None:
            extra = " and no __dict__ for setting new attributes" if _VERSION >= (3, 13) else ""
            raise AttributeError(
                f"'select.kevent' object has no attribute '{name}'{extra}", name=name, obj=self
            )
        setter(value, _functools.partial(_STORE[name], self))

    def __delattr__(self, name: str) -> None:
        if name in _SETTERS:
            raise TypeError("can't delete numeric/char attribute")
        raise AttributeError(
            f"'select.kevent' object has no attribute '{name}'", name=name, obj=self
        )

    if not _C_LAYOUT:  # (KeventBase's getattro says the same, in C)

        def __getattr__(self, name: str) -> _Any:
            # only reached when the slot is empty: a kevent made by __new__ alone reads
            # as PyType_GenericNew's zeroed struct kevent; any other name does not exist
            if name in _BOUNDS:
                return 0
            raise AttributeError(
                f"'select.kevent' object has no attribute '{name}'", name=name, obj=self
            )

    def __reduce_ex__(self, protocol: _Any) -> _Any:
        # a C object with no state protocol: pickle and copy refuse it
        raise TypeError("cannot pickle 'select.kevent' object")

    def _key(self) -> tuple[int, int, int, int, int, int]:
        u = self.udata
        # kqueue_event_richcompare compares udata as a signed intptr_t
        return (self.ident, self.filter, self.flags, self.fflags, self.data, u - (u >> 63 << 64))

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
        # "%zu %d 0x%x 0x%x 0x%llx %p": data prints as its two's complement, udata as
        # a pointer
        return (
            f"<select.kevent ident={self.ident} filter={self.filter} flags={self.flags:#x} "
            f"fflags={self.fflags:#x} data={self.data & _U64:#x} udata={self.udata:#x}>"
        )


#: the member descriptors behind the attributes: writes that skip __setattr__
_STORE = {name: getattr(kevent, name).__set__ for name in _FIELDS}
_SET_IDENT, _SET_FILTER, _SET_FLAGS, _SET_FFLAGS, _SET_DATA, _SET_UDATA = (
    _STORE[name] for name in _FIELDS
)
_SETTERS = {
    "ident": _capi.set_ulong_long,
    "filter": _capi.set_short,
    "flags": _capi.set_ushort,
    "fflags": _capi.set_uint,
    "data": _capi.set_long_long,
    "udata": _capi.set_ulong_long,
}
#: what each member holds without conversion loss (the fast path of __setattr__)
_BOUNDS = {
    "ident": (0, _U64),
    "filter": (-0x8000, 0x7FFF),
    "flags": (0, 0xFFFF),
    "fflags": (0, 0xFFFFFFFF),
    "data": (-(1 << 63), (1 << 63) - 1),
    "udata": (0, _U64),
}
#: EV_SET(&e, 0, EVFILT_READ, EV_ADD, 0, 0, 0) after the given positional arguments
_DEFAULTS = (0, KQ_FILTER_READ, KQ_EV_ADD, 0, 0, 0)
_VERSION = _capi.VERSION
_new_kevent = kevent.__new__


def _zero(k: kevent) -> None:
    _SET_IDENT(k, 0)
    _SET_FILTER(k, 0)
    _SET_FLAGS(k, 0)
    _SET_FFLAGS(k, 0)
    _SET_DATA(k, 0)
    _SET_UDATA(k, 0)


def _kevent_init(self: kevent, args: tuple[_Any, ...], kwargs: dict[str, _Any]) -> None:
    """kqueue_event_init: EV_SET defaults, then vgetargskeywords over "O|hHILK", writing
    each member as it is converted (a failed re-init leaves what was written), then the
    ident."""
    nargs = len(args)
    total = nargs + len(kwargs)
    if total > 6:
        kind = "keyword " if nargs == 0 else ""
        raise TypeError(f"kevent() takes at most 6 {kind}arguments ({total} given)")
    _zero(self)
    _SET_FILTER(self, KQ_FILTER_READ)
    _SET_FLAGS(self, KQ_EV_ADD)
    left = len(kwargs)
    pfd: _Any = None
    stores = (_SET_FILTER, _SET_FLAGS, _SET_FFLAGS, _SET_DATA, _SET_UDATA)
    for i, name in enumerate(_FIELDS):
        if i < nargs:
            arg = args[i]
        elif left and name in kwargs:
            arg = kwargs[name]
            left -= 1
        elif i == 0:
            raise TypeError("kevent() missing required argument 'ident' (pos 1)")
        elif not left:
            break
        else:
            continue
        if i == 0:
            pfd = arg
            continue
        try:
            stores[i - 1](self, _UNITS[i - 1](arg))
        except _capi.ConvertError as exc:
            raise TypeError(f"kevent() argument {i + 1} {exc}") from None
    if left:
        for i in range(nargs):
            if _FIELDS[i] in kwargs:
                raise TypeError(
                    f"argument for kevent() given by name ('{_FIELDS[i]}') and position ({i + 1})"
                )
        for key in kwargs:
            if key not in _FIELDS:
                raise _capi.unexpected_keyword(_FNAME, key)
    _SET_IDENT(self, _ident(pfd))


def _ident(pfd: _Any) -> int:
    """The ident conversion of kqueue_event_init (the member holds (uintptr_t)-1 when
    it fails, but the object is then unusable anyway)."""
    if _VERSION >= (3, 14):
        # gh-132987: any __index__ object, through PyLong_AsNativeBytes
        if hasattr(type(pfd), "__index__"):
            i = _capi.index(pfd)
            if i < 0:
                raise ValueError("Cannot convert negative int")
            if i > _U64:
                raise OverflowError("Python int too large for C kqueue event identifier")
            return i
        return _capi.as_file_descriptor(pfd)
    if isinstance(pfd, int):
        return _capi.as_size_t(pfd)
    return _capi.as_file_descriptor(pfd)


#: fd -> queue, so that kqueue.fromfd(fd) aliases the same queue
_queues: _weakref.WeakValueDictionary[int, _Queue] = _weakref.WeakValueDictionary()
#: queue -> the closer of its token descriptor (backends without a descriptor, D40)
_tokens: _weakref.WeakKeyDictionary[_Queue, _weakref.finalize[..., _Queue]] = (
    _weakref.WeakKeyDictionary()
)
#: every open kqueue object, closed in a forked child (3.12+, gh-110395)
_open: _weakref.WeakSet[kqueue] = _weakref.WeakSet()
_fork_hook = False


class _SilentQueue(_Queue):
    """The queue behind a compat kqueue: collected unclosed, it closes without the
    ResourceWarning of kevents.Queue, as CPython's kqueue does (D51)."""

    __slots__ = ()

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            engine.close()


def _after_fork_in_child() -> None:
    for kq in list(_open):
        kq._fd = -1
    _open.clear()


def _track(kq: kqueue) -> None:
    global _fork_hook
    if _VERSION < (3, 12):
        return  # 3.11 leaves the object open; its kqueue is dead in the child (EBADF)
    if not _fork_hook and hasattr(_os, "register_at_fork"):
        _os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook = True
    _open.add(kq)


_CLOSED = "I/O operation on closed kqueue object"


class kqueue:
    """``select.kqueue()``: a kevents queue behind the stdlib's interface."""

    __slots__ = ("__weakref__", "_fd", "_queue")

    def __init__(self, *args: _Any, _backend: str | None = None, **kwargs: _Any) -> None:
        if args:
            raise TypeError("kqueue() takes no positional arguments")
        if kwargs:
            raise TypeError("kqueue() takes no keyword arguments")
        self._fd = -1
        queue = _SilentQueue(_backend, counts=_COUNTING.get())
        self._queue: _Queue | None = queue
        try:
            fd = queue.fileno()
        except _UnsupportedError:
            # Windows: a completion port is no descriptor, but select.kqueue promises
            # one (fileno(), fromfd()). The queue gets a token instead: a descriptor of
            # the null device that names it for fromfd() and is closed with it. It
            # cannot be polled (D40).
            fd = _os.open(_os.devnull, _os.O_RDONLY)
            _tokens[queue] = _weakref.finalize(queue, _os.close, fd)
        self._fd = fd
        _queues[fd] = queue
        _track(self)

    def __init_subclass__(cls, **kwargs: _Any) -> None:
        raise TypeError("type 'select.kqueue' is not an acceptable base type")

    @classmethod
    def fromfd(cls, *args: _Any, **kwargs: _Any) -> kqueue:
        """A kqueue object for ``fd``: the same queue when ``fd`` is a kevents queue of
        this process; otherwise an object whose control() fails with EBADF, as the
        kernel answers for an fd that is not a kqueue. fromfd(-1) is a new queue, as
        in CPython (newKqueue_Object reads -1 as "create one")."""
        if kwargs:
            raise TypeError("kqueue.fromfd() takes no keyword arguments")
        if len(args) != 1:
            raise TypeError(f"kqueue.fromfd() takes exactly one argument ({len(args)} given)")
        (fd,) = args
        num = _capi.as_int(fd)
        if num == -1:
            return cls()
        self = cls.__new__(cls)
        self._fd = -1
        if num < 0:
            raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
        self._fd = num
        queue = _queues.get(num)
        self._queue = queue if queue is not None and not queue.closed else None
        _track(self)
        return self

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError(_CLOSED)
        return self._fd

    def close(self) -> None:
        fd = self._fd
        if fd < 0:
            return
        self._fd = -1
        _open.discard(self)
        queue = self._queue
        self._queue = None
        err = 0
        if _VERSION >= (3, 15):
            # gh-146205: 3.15 reports the close(2) error, EBADF when the descriptor was
            # closed behind the object's back (before, the error was lost)
            try:
                _os.fstat(fd)
            except OSError as exc:
                err = exc.errno or _errno.EBADF
        if queue is not None:
            # closing the descriptor ends the kqueue for every object that names it
            queue.close()
            token = _tokens.pop(queue, None)
            if token is not None:
                with _contextlib.suppress(OSError):
                    token()  # closes the token descriptor, once
        else:
            # CPython closes whatever fd fromfd() was given
            with _contextlib.suppress(OSError):
                _os.close(fd)
        if err:
            raise OSError(err, _os.strerror(err))

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            with _contextlib.suppress(OSError):
                self.close()  # tp_finalize: closed silently, as CPython's (D51)

    def control(
        self,
        changelist: _Iterable[kevent] | None = _MISSING,
        maxevents: int = _MISSING,
        timeout: float | None = _MISSING,
        /,
        *extra: _Any,
        **kwargs: _Any,
    ) -> list[kevent]:
        # Argument Clinic: control(changelist, maxevents, timeout=None, /)
        if kwargs:
            raise TypeError("kqueue.control() takes no keyword arguments")
        if maxevents is _MISSING or extra:
            given = sum(a is not _MISSING for a in (changelist, maxevents, timeout))
            given += len(extra)
            least = "least 2" if given < 2 else "most 3"
            raise TypeError(f"control expected at {least} arguments, got {given}")
        if timeout is _MISSING:
            timeout = None
        nevents = maxevents if maxevents.__class__ is int else _capi.as_int(maxevents)
        if not -(1 << 31) <= nevents < (1 << 31):
            raise OverflowError("Python int too large to convert to C int")
        if self._fd < 0:
            raise ValueError(_CLOSED)
        if nevents < 0:
            raise ValueError(f"Length of eventlist must be 0 or positive, got {nevents}")
        wait: float | None = None
        if timeout is not None:
            try:
                ns = _capi.seconds_to_ns(timeout)
            except (OverflowError, ValueError):
                if _VERSION >= (3, 15):
                    raise  # gh-154836: out of range is OverflowError, NaN ValueError
                ns = None
            except Exception:
                ns = None
            if ns is None:  # the failure becomes this TypeError, without a context
                raise TypeError(
                    f"timeout argument must be a number or None, got {_capi.type_name(timeout)}"
                )
            if ns < 0:
                raise ValueError("timeout must be positive or None")
            wait = ns / 1e9
        changes: list[_KEvent] = []
        if changelist is not None:
            if changelist.__class__ is list or changelist.__class__ is tuple:
                items = changelist
            else:
                try:
                    it = iter(changelist)
                except TypeError:
                    it = None
                if it is None:
                    raise TypeError("changelist is not iterable")
                items = list(it)
            if len(items) > 0x7FFFFFFF:
                raise OverflowError("changelist is too long")
            for ch in items:
                if not isinstance(ch, kevent):
                    raise TypeError("changelist must be an iterable of select.kevent objects")
                changes.append(_KEvent(ch.ident, ch.filter, ch.flags, ch.fflags, ch.data, ch.udata))
        queue = self._queue
        err = _errno.EBADF
        if queue is not None and not queue.closed:
            try:
                got = queue.control(changes, nevents, wait)
            except OSError as exc:  # kevent(2) failed: errno only, no filename
                err = exc.errno or _errno.EINVAL
            except ValueError:
                if not queue.closed:
                    raise
            else:
                return _to_compat(got)
        raise OSError(err, _os.strerror(err))

    def __reduce_ex__(self, protocol: _Any) -> _Any:
        raise TypeError("cannot pickle 'select.kqueue' object")

    def __repr__(self) -> str:
        return f"<kevents.compat.select.kqueue fd={self._fd}>"


def _to_compat(got: list[_KEvent]) -> list[kevent]:
    out = []
    for ev in got:
        k = _new_kevent(kevent)
        _SET_IDENT(k, ev.ident)
        _SET_FILTER(k, int(ev.filter))
        _SET_FLAGS(k, int(ev.flags))
        _SET_FFLAGS(k, int(ev.fflags))
        _SET_DATA(k, int(ev.data))
        udata = ev.udata
        _SET_UDATA(k, udata if udata.__class__ is int else 0)
        out.append(k)
    return out


# the C core runs control()'s steady state (same results; D42): the one hook here
_route_compat(kqueue, kevent)

_EXPORTS = [name for name in dir() if name.startswith("KQ_")] + ["kqueue", "kevent"]


#: False while a KqueueSelector makes its queue: the kqueue() made then does not count
#: READ/WRITE data (D84)
_COUNTING: _contextvars.ContextVar[bool] = _contextvars.ContextVar("_COUNTING", default=True)


def _selector_without_counts(selectors: _Any) -> None:
    """Story (issue 13, deliver 3): FreeBSD's READ ``data`` costs Linux a FIONREAD per
    event, and selectors.KqueueSelector reads only each event's ident and filter: on
    compat.select its ping-pong hop was 4 system calls where EpollSelector's is 3. Its
    queue is made without counting (``Queue(counts=False)``, D43), which no caller of a
    selector can see: select() hands out keys and masks, never a kevent. Every other
    kqueue() counts, so a caller who reads ``ev.data`` gets FreeBSD's value."""
    base = selectors.KqueueSelector
    if getattr(base, "_kevents_quiet", False):
        return

    class KqueueSelector(base):  # type: ignore[misc,valid-type]
        __doc__ = base.__doc__
        _kevents_quiet = True

        def __init__(self) -> None:
            token = _COUNTING.set(False)
            try:
                super().__init__()
            finally:
                _COUNTING.reset(token)

    KqueueSelector.__qualname__ = "KqueueSelector"
    if selectors.DefaultSelector is base:
        selectors.DefaultSelector = KqueueSelector
    selectors.KqueueSelector = KqueueSelector


def install(module: _Any = None) -> None:
    """Put ``kqueue``, ``kevent`` and the ``KQ_*`` constants into :mod:`select` (or
    ``module``) so code written for BSD runs unchanged: :mod:`selectors` then has
    ``KqueueSelector`` (reloaded if it was imported already, keeping its
    ``DefaultSelector``), whose queue does not count READ/WRITE ``data`` (D84).
    Explicit, never done at import."""
    target = _stdlib_select if module is None else module
    this = _sys.modules[__name__]
    for name in _EXPORTS:
        setattr(target, name, getattr(this, name))
    if target is not _stdlib_select:
        return
    selectors: _Any = _sys.modules.get("selectors")
    if selectors is None:
        # (imported now rather than by the caller later: the same classes and the same
        # DefaultSelector, chosen with select.kqueue present)
        selectors = _importlib.import_module("selectors")
    elif not hasattr(selectors, "KqueueSelector"):
        # selectors decided its classes when it was imported: let it define
        # KqueueSelector now, but keep the DefaultSelector it had chosen
        default = selectors.DefaultSelector
        _importlib.reload(selectors)
        selectors.DefaultSelector = default
    if hasattr(selectors, "KqueueSelector"):
        _selector_without_counts(selectors)


__all__ = ["error", "install", *_EXPORTS]
