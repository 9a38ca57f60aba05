"""EVFILT_SIGNAL on Linux, via a counting handler that chains (spec §5.8, §6.5).

Story: see kevents/_cffi/linux_signal.c for why not signalfd. The C handler counts each
delivery per signal and writes to one process-wide eventfd; every queue with SIGNAL
knotes watches that eventfd edge-triggered, and on each edge compares the counters with
what each knote saw last. ``data`` is the number of deliveries since the last report
(EV_CLEAR is automatic); counting goes on while a knote is disabled; signals that came
before the knote existed are not counted.

What differs from FreeBSD, and why (also in the platform table):

* counts are of *deliveries*: a standard signal sent again while it is already pending
  (blocked in every thread, or arriving while the handler runs) coalesces in the kernel,
  so bursts may count less than BSD's generation count; real-time signals queue and
  count exactly (D17);
* the handler is a real disposition: a signal that was SIG_IGN now interrupts slow system
  calls only where SA_RESTART does not apply (kevents sets SA_RESTART in that case), and
  an exec'd child inherits SIG_DFL instead of SIG_IGN while a knote exists;
* SIGCHLD set to SIG_IGN (automatic reaping) is refused with EPERM rather than changed;
* a later ``signal.signal()`` for a watched signal replaces kevents' handler; counting
  resumes when the knote is added again (EV_ADD re-installs the handler, chaining to the
  new one);
* ``ev.ext`` is a :class:`SigInfo` with the last sender's pid, uid and si_code (Linux
  extra; with several senders between two reports, the last one's).

The previous disposition is restored, exactly, when the last knote for a signal in the
process is deleted or its queue closed (unless the program replaced ours meanwhile).
"""

from __future__ import annotations

import errno
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


# Process-wide: one eventfd written by the C handler, and how many knotes (in every
# queue) watch each signal, so the last one out restores the disposition.
_lock = threading.Lock()
_refs: dict[int, int] = {}
_efd = -1


def _shared_eventfd() -> int:
    global _efd
    if _efd < 0:
        _efd = check(lib.kev_eventfd(), "eventfd")
    return _efd


def _acquire(sig: int) -> None:
    with _lock:
        ret = lib.kev_sig_install(sig, _shared_eventfd())
        if ret < 0:
            raise OSError(-ret, f"cannot watch signal {sig}")
        _refs[sig] = _refs.get(sig, 0) + 1


def _release(sig: int) -> None:
    with _lock:
        left = _refs.get(sig, 0) - 1
        if left > 0:
            _refs[sig] = left
            return
        _refs.pop(sig, None)
        lib.kev_sig_uninstall(sig)


class SignalSource(Source):
    filter = Filter.SIGNAL
    userspace = True

    def __init__(self, engine: Engine, backend: LinuxBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.knotes: dict[int, Knote] = {}
        self.watching = False
        self._info = ffi.new("int64_t[3]")

    def attach(self, kn: Knote) -> None:
        sig = kn.ident
        if not 0 < sig <= lib.kev_sig_max():
            raise OSError(errno.EINVAL, f"no signal {sig}")
        _acquire(sig)
        kn.flags |= _CLEAR
        kn.priv = int(lib.kev_sig_count(sig))  # what this knote has seen
        kn.data = 0
        self.knotes[sig] = kn
        if not self.watching:
            self.backend.add_internal(_shared_eventfd(), _EPOLLIN_ET, self._fired)
            self.watching = True

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        kn.sfflags, kn.sdata = fflags, data
        if flags & Flag.ADD and not lib.kev_sig_is_ours(kn.ident):
            _release(kn.ident)  # someone replaced our handler: install it again on top
            _acquire(kn.ident)

    def detach(self, kn: Knote) -> None:
        if self.knotes.get(kn.ident) is kn:
            del self.knotes[kn.ident]
            _release(kn.ident)
        if not self.knotes and self.watching and _efd >= 0:
            self.backend.remove_internal(_efd)
            self.watching = False

    def _fired(self, events: int) -> None:
        for sig, kn in self.knotes.items():
            now = int(lib.kev_sig_count(sig))
            if now != kn.priv:
                kn.data += now - kn.priv
                kn.priv = now
                lib.kev_sig_info(sig, self._info)
                kn.ext = SigInfo(int(self._info[0]), int(self._info[1]), int(self._info[2]))
                self.engine.enqueue(kn)

    def event(self, kn: Knote) -> bool:
        return kn.data > 0

    def clear(self, kn: Knote) -> None:
        kn.data = 0

    def forget(self) -> None:
        # After fork: the child keeps the handler (it chains, so nothing changes for it)
        # and the shared eventfd; the parent's queues merely see a spurious edge if the
        # child catches a signal. Nothing here to close.
        self.knotes.clear()
        self.watching = False
