"""EVFILT_SIGNAL on Windows: console control events, counted through the port.

Story (design note §1.3): Windows has no kill-style signals. What reaches a process
from outside is a *console control event*, delivered on a new system thread to the
handlers registered with SetConsoleCtrlHandler (last registered first, until one
returns TRUE). The C runtime maps CTRL_C to SIGINT and CTRL_BREAK to SIGBREAK; libuv
maps CTRL_CLOSE to SIGHUP, and so does kevents (signal number 1). kevents registers
one process-wide handler (an ``ffi.callback`` kept alive forever) when the first queue
is made; it posts one packet per event to every queue watching that signal and returns
FALSE, so the CRT's (and Python's) handler still runs: SIGINT still raises
KeyboardInterrupt, as on BSD where the disposition applies alongside EVFILT_SIGNAL.

The same handler also wakes every queue: GetQueuedCompletionStatusEx releases the GIL
and is not interrupted by Python's signal machinery (select() on Windows has the same
defect), so without the wake Ctrl-C would not interrupt a blocked ``control()``.
Our handler runs *before* the CRT's, so a queue woken at once could re-block before
Python has noted the signal: after a console event, waits are cut into short slices
for ``GRACE_NS`` so the engine gets to run Python code (and raise) in time.

Other signals (SIGTERM, SIGABRT, SIGFPE, SIGILL, SIGSEGV) only exist as in-process
``raise()`` or faults; they are refused with ENOTSUP (a ``signal.set_wakeup_fd``
bridge could add them later). Wine 8 cannot generate CTRL_BREAK and needs a console
for CTRL_C; the tests drive the handler function directly.
"""

from __future__ import annotations

import errno
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from ..._event import Filter, Flag
from ..._knote import Knote
from .._contract import Source
from ._ffi import ffi, kernel32

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

SIGHUP = 1
SIGINT = 2
SIGBREAK = 21
#: console control event -> the signal kevents reports for it
CTRL_TO_SIGNAL = {0: SIGINT, 1: SIGBREAK, 2: SIGHUP}
SUPPORTED = frozenset(CTRL_TO_SIGNAL.values())
#: how long after a console event waits are sliced, so Python's handler gets to run
GRACE_NS = 200_000_000
_SLICE_NS = 10_000_000
_CLEAR = int(Flag.CLEAR)

_lock = threading.Lock()
#: (backend, token) per signal number, for every SIGNAL knote of every queue
_watchers: dict[int, dict[int, tuple[IocpBackend, int]]] = {}
_installed: Any = None
_last_event = 0


def on_console_event(ctrl_type: int) -> int:
    """The console control handler (runs on a system thread); also called by tests."""
    global _last_event
    from . import LIVE

    _last_event = time.monotonic_ns()
    sig = CTRL_TO_SIGNAL.get(ctrl_type)
    with _lock:
        targets = list(_watchers.get(sig, {}).values()) if sig is not None else []
    for backend, token in targets:
        backend.post(token, 1)
    for backend in list(LIVE):
        backend.wake()
    return 0  # FALSE: let the next handler (the CRT's, Python's) run too


def install() -> None:
    """Register the process-wide console control handler (once)."""
    global _installed
    with _lock:
        if _installed is not None:
            return
        cb = ffi.callback("PHANDLER_ROUTINE", on_console_event)
        if kernel32.SetConsoleCtrlHandler(cb, 1):
            _installed = cb  # kept forever: the OS may call it at any time


def grace_cap() -> int:
    """A prewait hook: short slices for a moment after a console event."""
    if _last_event and time.monotonic_ns() - _last_event < GRACE_NS:
        return _SLICE_NS
    return -1


class SignalSource(Source):
    filter = Filter.SIGNAL
    userspace = True

    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        install()
        backend.prewait.append(grace_cap)

    def attach(self, kn: Knote) -> None:
        if kn.ident not in SUPPORTED:
            if 0 < kn.ident < 65:
                raise OSError(
                    errno.ENOTSUP,
                    "SIGNAL on Windows: only SIGINT, SIGBREAK and SIGHUP (console events)",
                )
            raise OSError(errno.EINVAL, "not a signal number")
        kn.flags |= _CLEAR  # BSD's filt_sigattach: signal knotes are always EV_CLEAR
        kn.data = 0

        def delivered(count: int) -> None:
            if kn.alive:
                kn.data += count
                self.engine.enqueue(kn)

        kn.token = self.backend.new_token(delivered)
        with _lock:
            _watchers.setdefault(kn.ident, {})[id(kn)] = (self.backend, kn.token)

    def detach(self, kn: Knote) -> None:
        with _lock:
            _watchers.get(kn.ident, {}).pop(id(kn), None)
        self.backend.posted.pop(kn.token, None)

    def event(self, kn: Knote) -> bool:
        return kn.data > 0

    def clear(self, kn: Knote) -> None:
        kn.data = 0
        kn.fflags = 0
