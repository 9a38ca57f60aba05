"""EVFILT_PROC on Linux, via pidfd (spec §5.6, §6.6, D18-D21).

Story: ``pidfd_open`` (Linux 5.3) gives a descriptor for any process, child or not, that
polls readable when the process exits (and EPOLLHUP once it is reaped). kevents opens
one per knote, watches it in the queue's epoll and, at exit:

* for its own children, peeks at the wait status with ``waitid(P_PIDFD, WNOWAIT)``,
  which does **not** reap: the program's own ``waitpid``/``subprocess`` still works;
* for anyone else (or a child someone already reaped), asks ``PIDFD_GET_INFO`` with
  ``PIDFD_INFO_EXIT`` (Linux 6.15), which knows the status once the real parent reaped.
  A pidfd gives a second edge at the reap (EPOLLHUP, verified on 6.18), so for a
  non-child the event waits for that edge, at most ``GRACE_NS`` (250 ms) after the exit.

``data`` is the wait status (decode with ``os.waitstatus_to_exitcode``) and
``NoteProc.EXITSTATUS`` is set in ``fflags`` when it is real; without it the status is
unknown and ``data`` is 0 (D19). The event carries EV_EOF and the knote is ONESHOT from
then on; a knote that watched only FORK/EXEC is dropped silently at exit. A zombie
(exited, not reaped) registers fine and reports at once (FreeBSD; macOS says ESRCH,
D18); a pid that is gone is ESRCH. kevents never installs a SIGCHLD handler and never
reaps. NOTE_FORK/NOTE_EXEC/NOTE_TRACK need the netlink proc connector
(``_proc_connector.py``); without it they are refused with ENOTSUP (D20).
"""

from __future__ import annotations

import errno
import os
import time
from typing import TYPE_CHECKING

from ..._event import Filter, Flag, NoteProc
from ..._ffi import check, ffi, lib
from ..._knote import Knote
from .._contract import Source

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend
    from ._proc_connector import Connector

_EXIT = int(NoteProc.EXIT)
_EXITSTATUS = int(NoteProc.EXITSTATUS)
_TRACKING = int(NoteProc.FORK | NoteProc.EXEC | NoteProc.TRACK)
_CLEAR = int(Flag.CLEAR)
_ONESHOT = int(Flag.ONESHOT)
_EOF = int(Flag.EOF)
_EPOLLIN_ET = int(lib.EPOLLIN | lib.EPOLLET)
_EPOLLHUP = int(lib.EPOLLHUP)
#: how long a non-child's exit waits for its parent's reap (which brings the status)
GRACE_NS = 250_000_000


class _Watch:
    __slots__ = ("done", "fd", "grace", "owned", "token")

    def __init__(self, fd: int, owned: bool) -> None:
        self.fd = fd
        self.owned = owned  # opened here (closed at detach); -1 for a connector-only knote
        self.token = 0  # of its registration in the queue's epoll, once made
        self.done = False
        self.grace = 0  # CLOCK_MONOTONIC ns until which we wait for the reap; 0: not


def exit_status(pidfd: int) -> tuple[int, bool]:
    """(wait status, known) of the exited process behind ``pidfd``; never reaps."""
    status = ffi.new("int *")
    if lib.kev_pidfd_wait_status(pidfd, status) == 1:
        return int(status[0]), True
    if lib.kev_pidfd_exit_status(pidfd, status) == 1:
        return int(status[0]), True
    return 0, False


class ProcSource(Source):
    filter = Filter.PROC
    userspace = True

    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.connector: Connector | None = None
        self.owned = backend.private  # pidfds opened here, to close (shared with PROCDESC)
        self.timerfd = -1  # the reap-grace timer, created at first need

    def _pidfd(self, kn: Knote) -> _Watch:
        if not 0 < kn.ident <= 0x7FFFFFFF:
            raise OSError(errno.ESRCH, "no such process")
        fd = lib.kev_pidfd_open(kn.ident)
        if fd < 0:
            raise OSError(-fd, os.strerror(-fd))
        self.owned.add(fd)
        return _Watch(fd, owned=True)

    def attach(self, kn: Knote) -> None:
        if kn.sfflags & _TRACKING:
            from ._proc_connector import connector_for

            self.connector = connector_for(self.backend, self.engine)
        watch = self._pidfd(kn)
        kn.flags |= _CLEAR
        kn.priv = watch
        try:
            watch.token = self.backend.add_internal(
                watch.fd, _EPOLLIN_ET, lambda events: self._exited(kn, events)
            )
            if kn.sfflags & _TRACKING and self.connector is not None:
                self.connector.track(kn)
        except BaseException:
            self.detach(kn)
            raise

    def attach_gone(self, kn: Knote) -> None:
        """A tracked child that is already gone: fed by the proc connector only."""
        kn.flags |= _CLEAR
        kn.priv = _Watch(-1, owned=False)
        assert self.connector is not None
        self.connector.track(kn)

    def connector_exit(self, kn: Knote, status: int) -> None:
        if not kn.priv.done:
            self._deliver(kn, status, True)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if fflags & _TRACKING and not kn.sfflags & _TRACKING:
            from ._proc_connector import connector_for

            self.connector = connector_for(self.backend, self.engine)
            self.connector.track(kn)
        kn.sfflags, kn.sdata = fflags, data

    def _exited(self, kn: Knote, events: int) -> None:
        """The pidfd's edges: EPOLLIN at exit, EPOLLIN|EPOLLHUP at reap (6.18, verified)."""
        watch: _Watch = kn.priv
        if watch.done:
            return
        status, known = exit_status(watch.fd)
        if not known and not events & _EPOLLHUP and kn.sfflags & _EXIT and watch.grace == 0:
            # Not our child: the kernel has the status only once its parent reaps it,
            # which is usually at once. Wait for that edge, for GRACE_NS at most.
            watch.grace = time.monotonic_ns() + GRACE_NS
            self._arm_grace()
            return
        self._deliver(kn, status, known)

    def _deliver(self, kn: Knote, status: int, known: bool) -> None:
        watch: _Watch = kn.priv
        watch.done = True
        watch.grace = 0
        if watch.fd >= 0 and self._registered(watch):
            self.backend.remove_internal(watch.fd)  # no more edges wanted
        if not kn.sfflags & _EXIT:
            if not kn.fflags:
                self.engine.drop(kn)  # watched FORK/EXEC only: gone without an event
            return
        kn.fflags |= _EXIT | (_EXITSTATUS if known else 0)
        kn.data = status
        kn.oflags |= _EOF
        kn.flags |= _ONESHOT
        self.engine.enqueue(kn)

    def _arm_grace(self) -> None:
        waiting = [kn.priv.grace for kn in self._graced()]
        if self.timerfd < 0:
            if not waiting:
                return
            self.timerfd = check(lib.kev_timerfd(), "timerfd_create")
            self.backend.add_internal(self.timerfd, lib.EPOLLIN, self._grace_over)
        lib.kev_timerfd_arm(self.timerfd, min(waiting) if waiting else -1)

    def _graced(self) -> list[Knote]:
        return [
            kn
            for kn in self.engine.knotes.values()
            if kn.source is self and kn.priv is not None and kn.priv.grace
        ]

    def _grace_over(self, events: int) -> None:
        lib.kev_eventfd_drain(self.timerfd)  # a timerfd reads like an eventfd
        now = time.monotonic_ns()
        for kn in self._graced():
            if kn.priv.grace <= now:
                self._deliver(kn, *exit_status(kn.priv.fd))
        self._arm_grace()

    def note(self, kn: Knote, fflags: int, data: int | None = None) -> None:
        """A fork/exec/child note from the proc connector. Only NOTE_CHILD sets ``data``
        (the parent's pid); the others leave it as it is, as FreeBSD's filt_proc does."""
        kn.fflags |= fflags
        if data is not None:
            kn.data = data
        self.engine.enqueue(kn)

    def event(self, kn: Knote) -> bool:
        return bool(kn.fflags)

    def detach(self, kn: Knote) -> None:
        watch: _Watch | None = kn.priv
        if watch is None:
            return
        kn.priv = None
        if self.connector is not None:
            self.connector.untrack(kn)
        if not watch.done and self._registered(watch):
            self.backend.remove_internal(watch.fd)
        if watch.owned:
            self.owned.discard(watch.fd)
            lib.kev_close(watch.fd)

    def _registered(self, watch: _Watch) -> bool:
        """Whether the queue's epoll holds this watch's own registration: never remove
        one that another descriptor made under the same number (issue 15)."""
        entry = self.backend.internal.get(watch.fd)
        return entry is not None and watch.token != 0 and entry[0] == watch.token

    def close(self) -> None:
        if self.timerfd >= 0:
            self.backend.remove_internal(self.timerfd)
            lib.kev_close(self.timerfd)
            self.timerfd = -1
        if self.connector is not None:
            self.connector.close()
            self.connector = None

    def forget(self) -> None:
        """After fork: close the child's copies of our pidfds (no shared state in them)."""
        for fd in self.owned:
            lib.kev_close(fd)
        self.owned.clear()
        if self.timerfd >= 0:
            lib.kev_close(self.timerfd)
            self.timerfd = -1
        if self.connector is not None:
            self.connector.forget()
            self.connector = None
