"""EVFILT_READ and EVFILT_WRITE on Linux, via epoll (spec §5.1, §5.2, §6.3).

Each knote is its own epoll registration (READ in the queue's epoll, WRITE in the
nested one; see ``__init__``), so the BSD flags map one to one and the kernel does the
work: EV_CLEAR is EPOLLET (a new edge on every arrival, verified), EV_ONESHOT and
EV_DISPATCH are EPOLLONESHOT, a plain knote is level-triggered (epoll re-queues it at
the tail, which is BSD's round-robin). EV_DISABLE deletes the registration, because
EPOLLHUP/EPOLLERR would still fire on an empty mask; EV_ENABLE (and any change, as BSD
re-runs the filter then) adds or modifies it, which re-evaluates readiness.

``data`` is computed in C right after the wait (linux.c). A READ event that finds
nothing to read on a stream socket or pipe, with no EOF, is dropped: another thread
drained it first, and BSD never reports stale readiness (D12). EOF is never inferred
from a zero count, only from EPOLLRDHUP/EPOLLHUP/EPOLLERR.

Objects epoll refuses (EPERM: regular files, directories, /dev/null) get BSD's
semantics in user space (D14): READ is ready while offset != size with
``data = size - offset`` (negative past EOF, D15), re-armed by inotify IN_MODIFY when
the file changes; WRITE is always ready with ``data`` 0; other such objects (character
devices) are always ready with ``data`` 0, as poll(2) says.

NOTE_LOWAT on READ sets SO_RCVLOWAT (per socket on Linux, restored on delete) and the
event is also filtered here; on WRITE Linux has no SO_SNDLOWAT, so it is refused with
ENOTSUP (D34).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from typing import TYPE_CHECKING

from ..._core import C_LAYOUT, RegBase
from ..._event import Filter, Flag, NoteRW
from ..._ffi import lib
from ..._knote import Knote
from .._contract import Source
from ._inotify import IN_ATTRIB, IN_MODIFY

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

_LOWAT = int(NoteRW.LOWAT)
_ONESHOTS = int(Flag.ONESHOT | Flag.DISPATCH)
_ONESHOT = int(Flag.ONESHOT)
_DISPATCH = int(Flag.DISPATCH)
_CLEAR = int(Flag.CLEAR)
_EPOLLET = int(lib.EPOLLET)
_EPOLLONESHOT = int(lib.EPOLLONESHOT)
_INT_MAX = 0x7FFFFFFF


def countable(filt: int, mode: int | None) -> bool | None:
    """Whether a READ event with nothing to read and no EOF is stale (D12): yes for pipes
    and stream sockets, no for datagram sockets (a zero-length datagram is readable)
    and other objects; None for a socket, or an object registered without fstat
    (``mode`` None, D80), looked up at its first empty event (``resolve_countable``),
    so registering costs no getsockopt."""
    if filt != Filter.READ:
        return False
    if mode == stat.S_IFIFO:
        return True
    return None if mode is None or mode == stat.S_IFSOCK else False


def resolve_countable(kn: Knote) -> bool:
    st: _Reg = kn.priv
    if st.countable is None:
        kind = lib.kev_socket_type(kn.ident)
        if kind == -errno.ENOTSOCK:  # registered without fstat (D80): a pipe counts too
            try:
                st.countable = stat.S_ISFIFO(os.fstat(kn.ident).st_mode)
            except OSError:
                return False  # closed under the knote: its event says so (D13)
        else:
            st.countable = kind == socket.SOCK_STREAM
        if not st.countable and not kn.sfflags & _LOWAT:
            st.lowat = 0
            st.source.publish(kn)
    return bool(st.countable)


#: the fields of a _Reg: its ``__slots__``, or the C layout of ``RegBase`` (knote.c, D76)
REG_FIELDS = (
    "armed",
    "below",
    "countable",
    "events",
    "lowat",
    "old_lowat",
    "registered",
    "source",
)
#: the fields of a _Reg that hold only ints, True/False and None (all but source: the C
#: layout's collector support visits only that one, knote.c, D86)
REG_SCALARS = tuple(f for f in REG_FIELDS if f != "source")


class _Reg(RegBase):
    """Per-knote state of a kernel-armed READ/WRITE knote."""

    __slots__ = () if C_LAYOUT else REG_FIELDS

    def __init__(self, source: _EpollSource, events: int, countable: bool | None) -> None:
        self.source = source
        self.events = events
        self.countable = countable  # a zero FIONREAD without EOF means "not ready"
        self.lowat = 0 if countable is False else 1
        self.old_lowat = -1
        self.registered = False
        self.armed = False
        self.below = False  # level knote below its mark: registered EPOLLET (see stale)


def identify(ident: int) -> tuple[int, int, int]:
    st = os.fstat(ident)
    return (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode))


#: the identity of no file: a knote whose fd was found naming another file (D80)
NO_FILE = (-1, -1, -1)


def mode_of(kn: Knote) -> int:
    """S_IFMT of the knote's file: from its identity, or, for a knote its registration
    vouches for (D80), from fstat of its fd, which the engine has just vouched for."""
    if kn.identity is None:
        return stat.S_IFMT(os.fstat(kn.ident).st_mode)
    return kn.identity[2]  # type: ignore[index,no-any-return]


class FdSource(Source):
    """A Linux source whose ident is a descriptor, identified by fstat (D13)."""

    fd_based = True

    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine)
        self.backend = backend

    def identify(self, ident: int) -> object:
        if self.backend.owns(ident):
            raise OSError(errno.EBADF, "a descriptor of kevents' own, not the caller's (D48)")
        return self.backend.identify(ident)  # keeps the GIL with the C core (D46)


class _EpollSource(FdSource):
    base_events = 0
    role = 0

    def __init__(self, engine: Engine, backend: LinuxBackend, files: FileSource) -> None:
        super().__init__(engine, backend)
        self.files = files

    def _events(self, kn: Knote) -> int:
        ev = self.base_events
        if kn.flags & _CLEAR:
            ev |= _EPOLLET
        if kn.flags & _ONESHOTS:
            ev |= _EPOLLONESHOT
        return ev

    def attach(self, kn: Knote) -> None:
        if kn.ident == self.backend.epfd:
            raise OSError(errno.EINVAL, "a queue cannot watch itself")
        self.check_fflags(kn.sfflags, kn)
        backend = self.backend
        kn.token = backend.new_token(kn.ident, self.role, kn.nodata)
        st = _Reg(self, self._events(kn), countable(kn.filter, kn.identity[2]))  # type: ignore[index]
        kn.priv = st
        ret = backend.register(kn, st.events)
        if ret == -errno.EPERM:
            kn.source = self.files  # epoll cannot poll this object: BSD rules in user space
            self.files.attach(kn)
            return
        if ret < 0:
            raise OSError(-ret, os.strerror(-ret))
        backend.knotes[kn.token] = kn
        st.registered = st.armed = True
        try:
            self.apply_lowat(kn)
        except BaseException:  # whatever failed, no registration outlives the refusal
            self.detach(kn)
            raise
        if kn.disabled:
            self.disable(kn)
        if st.registered:
            kn.identity = None  # its registration is its identity from now on (D80)
        self.publish(kn)

    def vouch(self, kn: Knote) -> bool:
        """D80: the identity check of D13 asked of epoll, whose registrations are keyed
        by (open file, fd). Story: an EPOLL_CTL_ADD of the knote's own key is refused
        with EEXIST exactly when the fd still names the open file it registered, and
        then changes nothing (no re-arm, no edge, unlike a MOD); one that succeeds found
        another file under the number and is taken back at once. Finer than fstat's
        (device, inode): a FIFO opened again is a new open file, as on BSD, where
        closing the old descriptor dropped the knote."""
        st: _Reg = kn.priv
        backend = self.backend
        if not st.registered or backend.owns(kn.ident):
            return False  # (an own fd: identify says EBADF, D48)
        ret = backend.register(kn, st.events)
        if ret == 0:
            backend.epoll_ctl(backend.epfd_of(kn), lib.EPOLL_CTL_DEL, kn.ident, 0, 0)
        return ret == -errno.EEXIST

    def check_fflags(self, fflags: int, kn: Knote) -> None:
        pass

    def publish(self, kn: Knote) -> None:
        """Keep the C fast path's view of ``kn`` current (see speedups.c): an
        EV_DISPATCH knote with itself, which the C path disables at its event as
        ``Engine.kernel_event`` does; an EV_ONESHOT knote is never there (its event
        drops it)."""
        st: _Reg = kn.priv
        if st.armed and not kn.disabled and not kn.flags & _ONESHOT and not st.below:
            view = (kn.ident, kn.filter, kn.flags, kn.udata, st.lowat)
            self.backend.fast[kn.token] = (*view, kn) if kn.flags & _DISPATCH else view
        else:
            self.backend.fast.pop(kn.token, None)

    def apply_lowat(self, kn: Knote) -> None:
        pass

    def detach(self, kn: Knote) -> None:
        st: _Reg = kn.priv
        backend = self.backend
        if backend.closing:  # the backend's tables and descriptors go whole (D44)
            # (in C for a knote with no SO_RCVLOWAT: kev_rw_detach_closing)
            st.registered = st.armed = False
        else:
            backend.knotes.pop(kn.token, None)
            backend.fast.pop(kn.token, None)
            if st.registered:
                st.registered = st.armed = False
                backend.unregister(kn)
        if st.old_lowat >= 0:
            _set_rcvlowat(kn.ident, st.old_lowat)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        # a refused change changes nothing (D3): the engine puts udata back, and this
        # puts the note and data back, so the C core's view (published only on success)
        # stays what it was
        self.check_fflags(fflags, kn)
        before = kn.sfflags, kn.sdata
        kn.sfflags, kn.sdata = fflags, data
        try:
            self.apply_lowat(kn)
        except OSError:
            kn.sfflags, kn.sdata = before
            raise
        st: _Reg = kn.priv
        if st.armed:  # BSD re-runs the filter on every change: MOD re-evaluates it
            self.backend.rearm(kn, st.events)
            st.below = False
        self.publish(kn)

    def delete_checked(self, kn: Knote) -> int | None:
        """EV_DELETE without fstat (D44): EPOLL_CTL_DEL is keyed by (file, fd), so its
        answer is the identity check. 0: the fd still names the knote's file; EBADF:
        it is closed (BSD dropped the knote then). Anything else (ENOENT: another
        file has the number, or the same file reopened) and a knote with no
        registration (disabled) leave it to fstat, as before."""
        st: _Reg = kn.priv
        if not st.registered:
            return None
        ret = self.backend.unregister(kn)
        st.registered = st.armed = False
        self.backend.fast.pop(kn.token, None)
        if ret == 0 or ret == -errno.EBADF:
            return -ret
        return None

    def enable(self, kn: Knote) -> None:
        st: _Reg = kn.priv
        if st.registered:
            ret = self.backend.rearm(kn, st.events)
        else:
            ret = self.backend.register(kn, st.events)
        if ret == 0:
            st.registered = st.armed = True
            st.below = False
        self.publish(kn)

    def disable(self, kn: Knote) -> None:
        st: _Reg = kn.priv
        self.backend.fast.pop(kn.token, None)
        if st.armed:  # an EPOLLONESHOT registration that fired is already disarmed
            if kn.identity is None:  # no registration to vouch for it now (D80)
                # (if fstat fails, vouch says no at the next change, which drops it)
                with contextlib.suppress(OSError):
                    kn.identity = self.backend.identify(kn.ident)
            st.registered = st.armed = False
            st.below = False
            self.backend.unregister(kn)

    def stale(self, kn: Knote, data: int) -> None:
        """A packet turned out not to be an event (``data`` bytes, under the mark):
        re-arm a one-shot registration, or make a level one wait for more bytes."""
        st: _Reg = kn.priv
        if not st.armed:
            if st.registered and not kn.disabled and self.backend.rearm(kn, st.events) == 0:
                st.armed = True
            return
        # Story: Linux honours SO_RCVLOWAT in TCP's poll only; AF_UNIX, UDP and the
        # rest report EPOLLIN for any byte (checked on 6.18). A level knote under its
        # NOTE_LOWAT mark would then come back from every epoll_wait and be dropped
        # here again: a busy loop until the mark is reached. So it waits for the next
        # arrival instead: EPOLLET while under the mark (MOD re-queues it once, which
        # lands here again and changes nothing), and level again (translate calls
        # level_again) once an event is delivered. Off the C fast table meanwhile,
        # which would deliver it without switching back.
        level = not kn.flags & (_CLEAR | _ONESHOTS)
        if data and level and not st.below and self.backend.rearm(kn, st.events | _EPOLLET) == 0:
            st.below = True
            self.backend.fast.pop(kn.token, None)

    def level_again(self, kn: Knote) -> None:
        """An event of a knote that waited under its mark (stale): level again."""
        st: _Reg = kn.priv
        st.below = False
        if self.backend.rearm(kn, st.events) == 0:
            self.publish(kn)


def _set_rcvlowat(fd: int, value: int) -> None:
    try:
        with socket.socket(fileno=os.dup(fd)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, max(1, value))
    except OSError:
        pass


class ReadSource(_EpollSource):
    filter = Filter.READ
    base_events = lib.EPOLLIN | lib.EPOLLRDHUP
    role = lib.KEV_ROLE_READ

    def check_fflags(self, fflags: int, kn: Knote) -> None:
        if fflags & _LOWAT and mode_of(kn) != stat.S_IFSOCK:
            raise OSError(errno.EINVAL, "NOTE_LOWAT needs a socket")

    def apply_lowat(self, kn: Knote) -> None:
        st: _Reg = kn.priv
        if not kn.sfflags & _LOWAT:
            st.lowat = 0 if st.countable is False else 1
            if st.old_lowat >= 0:
                _set_rcvlowat(kn.ident, st.old_lowat)
                st.old_lowat = -1
            return
        # SO_RCVLOWAT is a C int and the kernel caps it further (TCP: half the largest
        # receive buffer); the mark is what the socket took, read back, so an event can
        # fire once the buffer is as full as it can get (D47)
        with socket.socket(fileno=os.dup(kn.ident)) as s:
            if st.old_lowat < 0:
                st.old_lowat = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, min(max(1, kn.sdata), _INT_MAX))
            st.lowat = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT)


class WriteSource(_EpollSource):
    filter = Filter.WRITE
    base_events = lib.EPOLLOUT
    role = lib.KEV_ROLE_WRITE

    def check_fflags(self, fflags: int, kn: Knote) -> None:
        if fflags & _LOWAT:
            raise OSError(errno.ENOTSUP, "NOTE_LOWAT on WRITE: Linux has no SO_SNDLOWAT")


class FileSource(FdSource):
    """READ/WRITE on objects epoll cannot poll: evaluated in user space at each scan."""

    userspace = True

    def attach(self, kn: Knote) -> None:
        kn.priv = None
        mode = kn.identity[2]  # type: ignore[index]
        if kn.filter == Filter.READ and mode in (stat.S_IFREG, stat.S_IFDIR):

            def changed(mask: int, name: bytes) -> None:
                if not name:  # the file itself, not an entry of a watched directory
                    self.engine.enqueue(kn)

            kn.priv = self.backend.get_inotify().watch(kn, kn.ident, IN_MODIFY | IN_ATTRIB, changed)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        # the same fflags rules as at EV_ADD (a NOTE_LOWAT here was accepted, issue 15)
        self.engine.sources[kn.filter].check_fflags(fflags, kn)  # type: ignore[attr-defined]
        super().touch(kn, fflags, data, flags)

    def detach(self, kn: Knote) -> None:
        if kn.priv is not None and self.backend.inotify is not None:
            self.backend.inotify.unwatch(kn, kn.priv)

    def event(self, kn: Knote) -> bool:
        if kn.priv is None:  # WRITE, or a device: always ready, data 0
            kn.data = 0
            return True
        try:
            size = os.fstat(kn.ident).st_size
            kn.data = size - os.lseek(kn.ident, 0, os.SEEK_CUR)
        except OSError:
            return False
        return kn.data != 0
