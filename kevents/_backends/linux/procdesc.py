"""EVFILT_PROCDESC on Linux: ``ident`` is a pidfd the caller owns (spec §5.7).

FreeBSD's process descriptors (``pdfork``) name a process without the pid-reuse race;
a Linux pidfd (from ``os.pidfd_open`` right after spawning, ``CLONE_PIDFD``, or
``kevents.spawn``) is the same idea. The knote is fd-based: closing the pidfd without
EV_DELETE drops it (detected as for READ), and the event is the one of EVFILT_PROC's
NOTE_EXIT (status via waitid(P_PIDFD, WNOWAIT) or PIDFD_GET_INFO; EXITSTATUS when real).
"""

from __future__ import annotations

import errno

from ..._event import Filter, NoteProc
from ..._knote import Knote
from .proc import ProcSource, _Watch
from .read_write import identify

_EXIT = int(NoteProc.EXIT)


class ProcdescSource(ProcSource):
    filter = Filter.PROCDESC
    fd_based = True

    def identify(self, ident: int) -> object:
        return identify(ident)

    def _pidfd(self, kn: Knote) -> _Watch:
        if kn.sfflags & ~_EXIT:
            raise OSError(errno.EINVAL, "PROCDESC knows only NOTE_EXIT")
        return _Watch(kn.ident, owned=False)
