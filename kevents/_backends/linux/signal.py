"""EVFILT_SIGNAL on Linux, via a counting handler that chains (spec §5.8, §6.5, D16, D17).

Story: see kevents/_cffi/linux_signal.c for the handler and why not signalfd. The C
handler counts each delivery per signal and writes to one process-wide eventfd; every
queue with SIGNAL knotes watches that eventfd edge-triggered, and on each edge compares
the counters with what each of its knotes saw last. ``data`` is the number of deliveries
since the last report (EV_CLEAR is automatic); counting goes on while a knote is
disabled; signals delivered before the knote existed are not counted.

The handler is installed while at least one knote (in any queue of the process) watches
the signal, and the previous action is restored exactly when the last one goes (delete,
ONESHOT delivery, queue close), unless the program replaced ours meanwhile: then its
choice stands. kevents changes no signal mask.

A later ``signal.signal()`` for a watched signal replaces kevents' handler (CPython calls
sigaction). kevents notices it with ``sigaction(sig, NULL)`` whenever a SIGNAL knote is
added or enabled and at every delivery of a watched signal, and then installs its handler
again on top, chaining to the program's new action; deliveries in between are not
counted. A program sets the disposition first and adds the knote after, as on BSD.

After fork, the child has no queues (they are closed there), so it gets back the
dispositions it would have had without kevents and its own eventfd: the handler table is
inherited, but nothing in the child reaches the parent's queues.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING

from ..._event import Filter, Flag
from ..._ffi import check, ffi, lib
from ..._knote import Knote
from ..._siginfo import SigInfo
from .._contract import Source

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

_CLEAR = int(Flag.CLEAR)
_EPOLLIN_ET = int(lib.EPOLLIN | lib.EPOLLET)
_NSIG = int(lib.kev_sig_max()) + 1


# Process-wide: one eventfd written by the C handler, and how many knotes (in every
# queue) watch each signal, so the last one out restores the disposition.
_lock = threading.Lock()
_refs: dict[int, int] = {}
_efd = -1


def _shared_eventfd() -> int:
    global _efd
    with _lock:
        if _efd < 0:
            _efd = check(lib.kev_eventfd(), "eventfd")
            lib.kev_sig_set_efd(_efd)
        return _efd


def _acquire(sig: int) -> None:
    with _lock:
        ret = lib.kev_sig_install(sig)
        if ret < 0:
            raise OSError(-ret, f"cannot watch signal {sig}: {os.strerror(-ret)}")
        _refs[sig] = _refs.get(sig, 0) + 1


def _release(sig: int) -> None:
    with _lock:
        left = _refs.get(sig, 0) - 1
        if left > 0:
            _refs[sig] = left
            return
        _refs.pop(sig, None)
        lib.kev_sig_uninstall(sig)


def _repair(sig: int) -> None:
    """Install the handler again if the program replaced it (signal.signal()). Refused
    cases (SIGCHLD set to SIG_IGN meanwhile) stay as the program set them."""
    with _lock:
        if _refs.get(sig, 0) > 0:
            lib.kev_sig_install(sig)


def _after_fork_in_child() -> None:
    # The child inherits the handlers, the table and the eventfd (one open file shared
    # with the parent: a write in the child would wake the parent's queues). Its queues
    # are closed by kevents._fork, so it gets back the dispositions it had without
    # kevents and drops its copy of the eventfd. No lock is taken: another thread of the
    # parent may have held it at fork time.
    global _lock, _efd
    _lock = threading.Lock()
    lib.kev_sig_set_efd(-1)
    for sig in list(_refs):
        lib.kev_sig_uninstall(sig)
    _refs.clear()
    if _efd >= 0:
        lib.kev_close(_efd)
        _efd = -1


os.register_at_fork(after_in_child=_after_fork_in_child)


class SignalSource(Source):
    filter = Filter.SIGNAL
    userspace = True

    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.knotes: dict[int, Knote] = {}
        self.watching = -1  # the eventfd registered in this queue's epoll, or -1
        self._info = ffi.new("int64_t[3]")

    def attach(self, kn: Knote) -> None:
        sig = kn.ident
        if not 0 < sig < _NSIG:
            raise OSError(errno.EINVAL, f"no signal {sig}")
        efd = _shared_eventfd()
        _acquire(sig)
        try:
            if self.watching < 0:
                self.backend.add_internal(efd, _EPOLLIN_ET, self._fired)
                self.watching = efd
        except BaseException:
            _release(sig)
            raise
        kn.flags |= _CLEAR
        kn.priv = int(lib.kev_sig_count(sig))  # the generation this knote has seen
        kn.data = 0
        self.knotes[sig] = kn

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        kn.sfflags, kn.sdata = fflags, data
        if flags & Flag.ADD:
            _repair(kn.ident)

    def enable(self, kn: Knote) -> None:
        _repair(kn.ident)

    def detach(self, kn: Knote) -> None:
        if self.knotes.get(kn.ident) is kn:
            del self.knotes[kn.ident]
            _release(kn.ident)
        if not self.knotes and self.watching >= 0:
            self.backend.remove_internal(self.watching)
            self.watching = -1

    def _fired(self, events: int) -> None:
        info = self._info
        for sig, kn in self.knotes.items():
            _repair(sig)
            now = int(lib.kev_sig_count(sig))
            if now != kn.priv:
                kn.data += now - kn.priv
                kn.priv = now
                lib.kev_sig_info(sig, info)
                kn.ext = SigInfo(int(info[0]), int(info[1]), int(info[2]))
                self.engine.enqueue(kn)

    def event(self, kn: Knote) -> bool:
        return bool(kn.data > 0)

    def clear(self, kn: Knote) -> None:
        kn.data = 0

    def forget(self) -> None:
        # After fork, in the child: _after_fork_in_child restored the dispositions and
        # dropped the eventfd (the backend closes its epoll without epoll_ctl).
        self.knotes.clear()
        self.watching = -1
