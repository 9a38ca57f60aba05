"""EVFILT_PROCDESC on Linux: ``ident`` is a pidfd the caller owns (spec §5.7).

FreeBSD's process descriptors (``pdfork``) name a process without the pid-reuse race;
a Linux pidfd (from ``os.pidfd_open`` right after spawning, ``CLONE_PIDFD``, or
``kevents.spawn``) is the same idea. The knote is fd-based: closing the pidfd without
EV_DELETE drops it (found at the next change, or when the exit comes), and the event is
the one of EVFILT_PROC's NOTE_EXIT (status via waitid(P_PIDFD, WNOWAIT) or
PIDFD_GET_INFO; EXITSTATUS when real).

Anything but a pidfd is EINVAL, as FreeBSD refuses a descriptor that is not a process
descriptor. The queue watches its own duplicate of the caller's pidfd, so a READ knote
on the same pidfd is a separate epoll registration (knotes of different filters are
independent), and a number that is one of kevents' own descriptors is never touched:
it is EBADF before anything is registered (D48).
"""

from __future__ import annotations

import errno
import fcntl
import signal

from ..._event import Filter, NoteProc
from ..._knote import Knote
from .proc import ProcSource, _Watch
from .read_write import identify

_EXIT = int(NoteProc.EXIT)


def is_pidfd(fd: int) -> bool:
    """Whether ``fd`` is a pidfd. Story: pidfd_send_signal (5.1) with signal 0 sends
    nothing and fails with EBADF exactly when ``fd`` is not a pidfd; a pidfd of a
    process that is gone (ESRCH) or that we may not signal (EPERM) is still one. No
    /proc needed, one system call."""
    try:
        signal.pidfd_send_signal(fd, 0)
    except OSError as exc:
        return exc.errno != errno.EBADF
    return True


class ProcdescSource(ProcSource):
    filter = Filter.PROCDESC
    fd_based = True

    def identify(self, ident: int) -> object:
        if self.backend.owns(ident):
            raise OSError(errno.EBADF, "a descriptor of kevents' own, not the caller's (D48)")
        return identify(ident)

    def _pidfd(self, kn: Knote) -> _Watch:
        if kn.sfflags & ~_EXIT:
            raise OSError(errno.EINVAL, "PROCDESC knows only NOTE_EXIT")
        if not is_pidfd(kn.ident):
            raise OSError(errno.EINVAL, "PROCDESC needs a pidfd (os.pidfd_open)")
        fd = fcntl.fcntl(kn.ident, fcntl.F_DUPFD_CLOEXEC, 0)
        self.owned.add(fd)
        return _Watch(fd, owned=True)

    def _exited(self, kn: Knote, events: int) -> None:
        try:
            same = identify(kn.ident) == kn.identity
        except OSError:
            same = False
        if not same:  # the caller closed its pidfd: BSD dropped the knote then
            self.engine.drop(kn)
            return
        super()._exited(kn, events)
