"""The Linux backend: one epoll instance per queue, and that epoll fd is the queue's fd.

Some facts about epoll that shape this file (all verified on Linux 6.18, spec §6, §7.2):

* EPOLLET and EPOLLONESHOT belong to a registration, and a registration belongs to an
  (epoll, open file description) pair, so READ and WRITE on one fd cannot carry
  different flags in one epoll. READ knotes therefore live in the queue's epoll and
  WRITE knotes in an inner epoll nested in it: each knote is its own registration,
  "arm -> one packet -> re-arm" exactly as on IOCP, with the kernel doing the work.
* A registration outlives ``close(fd)`` while a dup of the file lives, keeps firing
  under the old number and can no longer be deleted. Tokens carry a serial so such
  events are recognised; a failed EPOLL_CTL_DEL remembers the token, and if it ever
  fires again the epoll set is rebuilt and ``dup3``-ed onto the same fd number.
* An epoll fd is inherited by fork and the child shares the parent's interest list,
  so the child must close its copies without ever calling epoll_ctl (D35).

Besides the knotes, the epoll holds internal fds, each with a handler: an eventfd that
is readable while the engine's ready list holds user-space events (USER triggers,
regular files, expired timers) so the queue's fd stays truthful for ``select()`` and
nesting; the timer heap's timerfd; the inotify fd; and whatever other sources add.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._errors import oserror
from ..._event import Filter, Flag, KEvent
from ..._ffi import check, ffi, lib
from ..._filters.timer import TimerSource
from ..._filters.user import UserSource
from ..._knote import Knote
from .._contract import Source
from ._inotify import Inotify
from .batch import Batcher
from .io_uring import Decision, decide
from .read_write import NO_FILE, identify, resolve_countable

if TYPE_CHECKING:
    from ..._engine import Engine

assert sys.platform.startswith("linux") or TYPE_CHECKING

ROLE_INTERNAL = lib.KEV_ROLE_INTERNAL
ROLE_READ = lib.KEV_ROLE_READ
ROLE_WRITE = lib.KEV_ROLE_WRITE
_WIDTH = lib.KEV_OUT_WIDTH
_STALE = lib.KEV_STALE
_TOKEN_NODATA = lib.KEV_TOKEN_NODATA
_EOF = int(Flag.EOF)
_READ_EOF = lib.EPOLLRDHUP | lib.EPOLLHUP | lib.EPOLLERR
_WRITE_EOF = lib.EPOLLHUP | lib.EPOLLERR
_READ = Filter.READ
_ONESHOTS = int(Flag.ONESHOT | Flag.DISPATCH)
_EPOLL_EVENT_SIZE = lib.kev_epoll_wait_size()
_MAX_ROOM = 65536  # events taken from the kernel per wait; more stay queued there


def _load_speedups() -> Any:
    """The C fast core (kevents/_cffi/core.h), unless KEVENTS_SPEEDUPS=0 now or when
    kevents was imported, or it is not built."""
    if os.environ.get("KEVENTS_SPEEDUPS", "1") == "0":
        return None
    from ..._core import _speedups

    return _speedups


class LinuxBackend:
    name = "linux"

    def __init__(self, io_uring: bool | None = None) -> None:
        self.io_uring_arg = io_uring
        self._io_uring: Decision | None = None
        self._batcher: Batcher | None = None
        if io_uring:
            self.io_uring()  # forced on: fail now, clearly, where it is unavailable
        self.epfd = check(lib.kev_epoll_create())
        self.innerfd = -1
        self.pendfd = -1
        self.timerfd = -1
        self.closed = False
        self.closing = False
        self.serial = 0
        #: the serial has gone round (new_token then checks that a token is free)
        self.wrapped = False
        #: token -> knote (kernel-armed READ/WRITE knotes)
        self.knotes: dict[int, Knote] = {}
        #: token -> handler(events) for internal fds
        self.handlers: dict[int, Callable[[int], None]] = {}
        #: internal fd -> (token, events) so a rebuild can re-register them
        self.internal: dict[int, tuple[int, int]] = {}
        #: tokens whose EPOLL_CTL_DEL failed; if one fires, the set is rebuilt
        self.zombies: set[int] = set()
        #: descriptors sources opened for themselves (pidfds), in the epoll or not
        self.private: set[int] = set()
        self.pool: list[tuple[Any, Any, int]] = []
        speedups = _load_speedups()
        self.fast_wait = None if speedups is None else speedups.fast_wait
        # The calls between a change list's start and a knote's kernel registration.
        # cffi (and os.fstat) release the GIL around each; the C core's versions keep it,
        # so no other Python thread runs in between (issue 20 item 3, D46).
        self.epoll_ctl: Callable[[int, int, int, int, int], int] = lib.kev_epoll_ctl
        self.identify: Callable[[int], tuple[int, int, int]] = identify
        self.fstat: Callable[[int], os.stat_result] = os.fstat
        self.inotify_init: Callable[[], int] = lib.kev_inotify_init
        self.inotify_add: Callable[[int, bytes, int], int] = lib.kev_inotify_add
        self.inotify_rm: Callable[[int, int], int] = lib.kev_inotify_rm
        if speedups is not None:
            self.epoll_ctl = speedups.epoll_ctl
            self.identify = speedups.identify
            self.fstat = lambda fd: os.stat_result(speedups.fstat(fd))
            self.inotify_init = speedups.inotify_init
            self.inotify_add = speedups.inotify_add
            self.inotify_rm = speedups.inotify_rm
        #: token -> (ident, filter, flags, udata, lowat) for knotes the C core may
        #: translate by itself (linux_read_write.c: a FastTable, or a dict nobody reads
        #: without it); kept current by read_write.py
        self.fast: Any = {} if speedups is None else speedups.FastTable()
        #: compute READ/WRITE ``data`` (FIONREAD...); Queue(counts=False) turns it off (D43)
        self.counts = True
        try:
            self.innerfd = check(lib.kev_epoll_create())
            self._ctl(
                self.epfd,
                lib.EPOLL_CTL_ADD,
                self.innerfd,
                lib.EPOLLIN,
                self.new_token(self.innerfd, lib.KEV_ROLE_INNER),
            )
            self.pendfd = check(lib.kev_eventfd())
            self.add_internal(self.pendfd, lib.EPOLLIN, _ignore)
        except BaseException:
            self.close()
            raise
        self.inotify: Inotify | None = None

    def io_uring(self) -> Decision:
        """Whether this queue uses io_uring, decided once (io_uring.decide)."""
        if self._io_uring is None:
            self._io_uring = decide(self.io_uring_arg)
        return self._io_uring

    def batcher(self) -> Batcher | None:
        """The io_uring change-list batcher, created at the first long change list."""
        if self._batcher is None and self.io_uring().batch:
            self._batcher = Batcher(self)
        return self._batcher

    def get_inotify(self) -> Inotify:
        """The queue's one inotify instance, created at first need."""
        if self.inotify is None:
            self.inotify = Inotify(self)
        return self.inotify

    # -- tokens and internal fds --------------------------------------------------------

    def new_token(self, fd: int, role: int, nodata: bool = False) -> int:
        """A fresh token: fd, role, the NODATA bit for a Flag.NODATA knote (D78), serial."""
        bits = (role << 32) | fd | (_TOKEN_NODATA if nodata else 0)
        # Story: the two lookups were a tenth of a READ ADD's instructions in the C pass
        # (callgrind). Every token comes from here, and until the 23-bit serial goes
        # round (8,388,607 tokens) each serial is one no token has had, so none is taken
        # (D85).
        while True:
            self.serial = (self.serial + 1) & 0x7FFFFF
            if self.serial == 0:
                self.wrapped = True
            token = (self.serial << 40) | bits
            if not self.wrapped or (token not in self.knotes and token not in self.handlers):
                return token

    def _ctl(self, epfd: int, op: int, fd: int, events: int, token: int) -> None:
        check(self.epoll_ctl(epfd, op, fd, events, token))

    def add_internal(self, fd: int, events: int, handler: Callable[[int], None]) -> int:
        """Watch an internal fd in the queue's epoll; ``handler(events)`` runs under the
        engine lock when it fires. Returns the token."""
        token = self.new_token(fd, ROLE_INTERNAL)
        self._ctl(self.epfd, lib.EPOLL_CTL_ADD, fd, events, token)
        self.handlers[token] = handler
        self.internal[fd] = (token, events)
        return token

    def owns(self, fd: int) -> bool:
        """Whether ``fd`` is one of this queue's own descriptors, which a caller's
        change never names (a stale number that landed on one is EBADF, D48)."""
        if fd in self.internal or fd in self.private or fd == self.innerfd:
            return True
        ring = self.ring_fd()
        return ring >= 0 and fd == ring

    def remove_internal(self, fd: int) -> None:
        token, _ = self.internal.pop(fd)
        self.handlers.pop(token, None)
        if not self.closing:
            self.epoll_ctl(self.epfd, lib.EPOLL_CTL_DEL, fd, 0, 0)

    # -- knote registrations (used by read_write.py) -------------------------------------

    def epfd_of(self, kn: Knote) -> int:
        """The epoll set of a READ (the main one) or WRITE (the inner one) knote."""
        return self.innerfd if kn.filter == Filter.WRITE else self.epfd

    def register(self, kn: Knote, events: int) -> int:
        """EPOLL_CTL_ADD of a READ/WRITE knote in its set (epfd_of); 0 or -errno."""
        return int(self.epoll_ctl(self.epfd_of(kn), lib.EPOLL_CTL_ADD, kn.ident, events, kn.token))

    def rearm(self, kn: Knote, events: int) -> int:
        return int(self.epoll_ctl(self.epfd_of(kn), lib.EPOLL_CTL_MOD, kn.ident, events, kn.token))

    def unregister(self, kn: Knote) -> int:
        """EPOLL_CTL_DEL; 0 or -errno (EBADF: the fd is closed; ENOENT: it names another
        file now, or the registration is gone)."""
        if self.closing:
            return 0  # closing the epoll fds drops every registration at once
        if self.owns(kn.ident):
            # the caller's fd was closed and kevents reopened the number for itself: a
            # DEL now would remove kevents' own registration (D48)
            self.zombies.add(kn.token)
            return -errno.EBADF
        ret = int(self.epoll_ctl(self.epfd_of(kn), lib.EPOLL_CTL_DEL, kn.ident, 0, 0))
        if ret < 0:
            self.zombies.add(kn.token)  # closed fd: the registration may outlive us
        return ret

    def begin_close(self) -> None:
        """The queue is closing (Engine.close): its knotes are dropped next, and closing
        the epoll, eventfd, timerfd and inotify descriptors drops every kernel
        registration with them, so per-knote cleanup stays in user space: O(1)
        system calls for any number of knotes (issue 13, deliver 6). The C view goes
        first: no event of a knote being dropped is built from it meanwhile."""
        self.closing = True
        self.fast.clear()

    def rebuild(self) -> None:
        """Replace the epoll sets by fresh ones holding only live registrations.

        Story: the only way to get rid of a registration whose fd was closed while a
        dup keeps the file open. ``dup3`` puts the new epoll on the old number, so the
        queue's ``fileno()`` (maybe nested in another loop) stays valid.
        """
        for kn in list(self.knotes.values()):
            # a knote whose registration was its identity (D80) is asked before the old
            # sets go: one whose fd names another file now is not registered again, and
            # gets an identity no file has, so that its next change drops it (D13)
            st = kn.priv
            if kn.identity is None and st.registered and not kn.source.vouch(kn):
                st.registered = st.armed = False
                kn.identity = NO_FILE
                self.fast.pop(kn.token, None)
        fresh = check(lib.kev_epoll_create())
        inner = check(lib.kev_epoll_create())
        try:
            for fd, (token, events) in self.internal.items():
                self._ctl(fresh, lib.EPOLL_CTL_ADD, fd, events, token)
            for token, kn in self.knotes.items():
                events = kn.priv.events if kn.priv.armed else 0
                if events:
                    epfd = inner if kn.filter == Filter.WRITE else fresh
                    lib.kev_epoll_ctl(epfd, lib.EPOLL_CTL_ADD, kn.ident, events, token)
            # both numbers stay: the C core (Core._fast_setup) keeps them
            check(lib.kev_dup2_cloexec(inner, self.innerfd))
            self._ctl(
                fresh,
                lib.EPOLL_CTL_ADD,
                self.innerfd,
                lib.EPOLLIN,
                self.new_token(self.innerfd, lib.KEV_ROLE_INNER),
            )
            check(lib.kev_dup2_cloexec(fresh, self.epfd))
        finally:
            lib.kev_close(fresh)
            lib.kev_close(inner)
        self.zombies.clear()

    # -- the contract ------------------------------------------------------------------------

    def sources(self, engine: Engine) -> dict[int, Source]:
        from .aio import AioSource
        from .proc import ProcSource
        from .procdesc import ProcdescSource
        from .read_write import FileSource, ReadSource, WriteSource
        from .signal import SignalSource
        from .vnode import VnodeSource

        files = FileSource(engine, self)
        return {
            Filter.AIO: AioSource(engine, self),
            Filter.READ: ReadSource(engine, self, files),
            Filter.WRITE: WriteSource(engine, self, files),
            Filter.TIMER: TimerSource(engine, self),
            Filter.SIGNAL: SignalSource(engine, self),
            Filter.PROC: ProcSource(engine, self),
            Filter.VNODE: VnodeSource(engine, self),
            Filter.PROCDESC: ProcdescSource(engine, self),
            Filter.USER: UserSource(engine),
        }

    def mechanisms(self) -> dict[int, tuple[str, str]]:
        uring = self.io_uring()
        return {
            Filter.AIO: (
                "io_uring" if uring.aio else "thread pool",
                f"{uring.reason}; completions come through the queue's epoll",
            ),
            Filter.READ: (
                "epoll",
                "level/EPOLLET/EPOLLONESHOT per knote; regular files, "
                "directories and /dev/null in user space (epoll says EPERM), "
                "re-armed by inotify IN_MODIFY; long change lists "
                + ("batched through io_uring" if uring.batch else "one epoll_ctl per change"),
            ),
            Filter.WRITE: (
                "epoll (nested)",
                "an inner epoll so WRITE flags are independent of READ flags on the same fd",
            ),
            Filter.TIMER: (
                "timerfd + heap",
                "one CLOCK_MONOTONIC timerfd per queue drives a "
                "heap of every timer; no fd per timer",
            ),
            Filter.PROC: (
                "pidfd",
                "pidfd_open per knote, any pid; status by waitid(P_PIDFD, WNOWAIT) for "
                "children (never reaped) or PIDFD_GET_INFO; NOTE_FORK/EXEC/TRACK via the "
                "netlink proc connector",
            ),
            Filter.VNODE: (
                "inotify",
                "one inotify instance per queue, watches on /proc/self/fd/N (they follow "
                "the inode); DELETE/LINK/EXTEND/TRUNCATE/ATTRIB from stat; overflow gives "
                "an explicit NOTE_RESCAN",
            ),
            Filter.PROCDESC: ("pidfd", "ident is the caller's pidfd, race-free against pid reuse"),
            Filter.SIGNAL: (
                "counting handler",
                "a chaining sigaction handler counts deliveries and wakes the queue "
                "through one eventfd; Python handlers and default actions still run",
            ),
            Filter.USER: (
                "eventfd",
                "triggers live in user space; one eventfd per queue "
                "makes the queue fd readable and wakes waiters",
            ),
        }

    def fileno(self) -> int:
        return self.epfd

    def fast_state(self, engine: Engine) -> tuple[Any, ...] | None:
        """What the C core's control() reads (Core._fast_setup), or None without it."""
        if self.fast_wait is None or engine.timers is None:
            return None
        return (
            self.fast,
            engine.ready,
            engine.timers.heap,
            engine.waiting,
            self.epfd,
            self.innerfd,
            self.counts,
        )

    def plain_state(self, engine: Engine) -> tuple[Any, ...] | None:
        """What the C change-list pass reads (``Engine._apply_plain``, D77), or None
        without the C core (then every change takes the Python path)."""
        if self.fast_wait is None or engine.timers is None:
            return None
        from ..._filters.timer import _Timer
        from .read_write import _Reg

        return (
            engine.knotes,
            self,
            engine.sources[Filter.READ],
            engine.sources[Filter.WRITE],
            Filter.READ,
            Filter.WRITE,
            self.knotes,
            self.fast,
            self.zombies,
            self.internal,
            self.private,
            self.handlers,
            Knote,
            _Reg,
            engine.sources[Filter.TIMER],
            Filter.TIMER,
            _Timer,
            engine.timers.heap,
            engine.sources[Filter.USER],
            Filter.USER,
            (self.epfd, self.innerfd),
        )

    def ring_fd(self) -> int:
        """The io_uring batcher's ring descriptor (one of ours, D48), or -1."""
        ring = self._batcher.ring if self._batcher is not None else None
        return -1 if ring is None else ring.fd

    def wait(self, room: int, timeout_ns: int) -> Any:
        """Block for kernel records: a list of ready KEvents from the C fast path, or
        the flat sequence of raw records for ``translate``."""
        if self.fast_wait is not None:
            return self.fast_wait(self.epfd, self.innerfd, room, timeout_ns, self.fast, self.counts)
        room = min(room, _MAX_ROOM)
        bufs = self.pool.pop() if self.pool else None
        if bufs is None or bufs[2] < room:
            size = max(room, 64)
            bufs = (
                ffi.new("char[]", _EPOLL_EVENT_SIZE * size),
                ffi.new("int64_t[]", _WIDTH * size),
                size,
            )
        try:
            n = lib.kev_wait(
                self.epfd, self.innerfd, bufs[0], room, timeout_ns, bufs[1], self.counts
            )
            if n <= 0:
                if n == -errno.EINTR:
                    raise InterruptedError(errno.EINTR, "interrupted")
                if n < 0:
                    raise oserror(-n, "epoll_wait")
                return []
            return ffi.unpack(bufs[1], _WIDTH * n)
        finally:
            self.pool.append(bufs)

    def translate(self, vals: Any, engine: Engine, out: list[KEvent], room: int) -> None:
        if vals.__class__ is list and (not vals or vals[0].__class__ is KEvent):
            out.extend(vals)  # translated by the C fast path
            return
        # The hot path: one iteration per kernel record, kept flat on purpose.
        knotes = self.knotes
        counts = self.counts
        new = tuple.__new__
        for i in range(0, len(vals), _WIDTH):
            token = vals[i]
            kn = knotes.get(token)
            if kn is None:
                handler = self.handlers.get(token)
                if handler is not None:
                    handler(vals[i + 1])
                elif token in self.zombies:
                    self.rebuild()
                continue
            events = vals[i + 1]
            if events & _STALE:
                engine.drop(kn)  # the fd was closed under the knote: BSD dropped it then
                continue
            st = kn.priv
            flags = kn.flags
            if flags & _ONESHOTS:
                st.armed = False  # the kernel disarmed it; disable() must not DEL
            if kn.disabled:
                continue
            data = vals[i + 2]
            fflags = vals[i + 3]  # 0: the socket error stays in the socket (D39)
            if kn.filter == _READ:
                if events & _READ_EOF:
                    flags |= _EOF
                elif (
                    counts
                    and not token & _TOKEN_NODATA  # a Flag.NODATA knote has no count (D78)
                    and data < st.lowat
                    and (data or resolve_countable(kn))
                ):
                    st.source.stale(kn, data)  # nothing (or too little) to read (D12)
                    continue
                if st.below:
                    st.source.level_again(kn)
            elif events & _WRITE_EOF:
                flags |= _EOF
            if flags & _ONESHOTS:  # the engine applies ONESHOT/DISPATCH
                ev = engine.kernel_event(kn, flags & ~kn.flags, fflags, data)
                if ev is not None:
                    out.append(ev)
            else:
                out.append(new(KEvent, (kn.ident, kn.filter, flags, fflags, data, kn.udata, None)))

    def set_pending(self, on: bool) -> None:
        if self.closed:
            return
        if on:
            lib.kev_eventfd_signal(self.pendfd)
        else:
            lib.kev_eventfd_drain(self.pendfd)

    def arm_timer(self, deadline_ns: int) -> None:
        if self.timerfd < 0:
            if deadline_ns < 0:
                return
            self.timerfd = check(lib.kev_timerfd())
            self.add_internal(self.timerfd, lib.EPOLLIN, self._timer_fired)
        check(lib.kev_timerfd_arm(self.timerfd, deadline_ns))

    def _timer_fired(self, events: int) -> None:
        lib.kev_eventfd_drain(self.timerfd)  # a timerfd reads like an eventfd: 8 bytes

    def _fds(self) -> list[int]:
        fds = [self.epfd, self.innerfd, self.pendfd, self.timerfd]
        if self.inotify is not None:
            fds.append(self.inotify.fd)
        return [fd for fd in fds if fd >= 0]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.inotify is not None:
            self.inotify.close()
            self.inotify = None
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        for fd in self._fds():
            lib.kev_close(fd)
        self.epfd = self.innerfd = self.pendfd = self.timerfd = -1
        self.knotes.clear()
        self.fast.clear()
        self.handlers.clear()
        self.internal.clear()

    def forget(self) -> None:
        # After fork: the epoll set and any ring are shared with the parent. Close our
        # copies only (closing a ring fd in the child submits nothing).
        if self.inotify is not None:
            self.inotify.forget()
            self.inotify = None
        self.close()


def _ignore(events: int) -> None:
    """The pending eventfd needs no handling: the engine scans its ready list anyway."""
