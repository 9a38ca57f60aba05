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

Signals raised inside the process (``signal.raise_signal``, the C runtime's
``raise``, ``os.kill(os.getpid(), CTRL_C_EVENT)`` which is a console event anyway)
never reach a console handler: the C runtime calls the C-level handler of the signal
directly, which is Python's, which only records it for the main thread. So while a
SIGNAL knote watches SIGINT, SIGBREAK, SIGTERM or SIGABRT, kevents installs a
*chaining Python-level handler* (signal.signal, main thread only): it counts the
delivery into every watching queue, then does what the previous disposition says (calls
the program's handler; nothing for SIG_IGN; for SIG_DFL restores it and raises again,
so the default action still happens, as on BSD where EVFILT_SIGNAL never changes the
disposition). A console event for a chained signal is then counted by the handler
only, never twice. The program may replace the handler later (signal.signal): adding or
enabling a knote installs it again on top, chaining to the new one, as on Linux. The
previous disposition comes back when the last knote goes, if ours is still installed.

Python runs handlers in the main thread only, between bytecodes: a main thread
blocked in a queue's wait would never get there. So the first chain also sets
``signal.set_wakeup_fd`` to a private socket pair, whose reader thread wakes every
queue for each byte and forwards the byte to the wakeup descriptor the program had set
before (asyncio's loops set one), so that one keeps working. A wakeup descriptor the
program sets afterwards replaces ours: its own wake-ups still work, and ours fall back
to "counted when the main thread next runs Python".

SIGFPE, SIGILL and SIGSEGV are refused (ENOTSUP): a Python-level handler for a real
fault returns into the faulting instruction. SIGHUP has no C-runtime signal: it is
CTRL_CLOSE only. A knote added outside the main thread cannot install the handler:
SIGINT and SIGBREAK then count console events only; SIGTERM and SIGABRT are refused
(ENOTSUP). Wine 8 cannot generate CTRL_BREAK and needs a console for CTRL_C; the tests
drive the console handler function directly.
"""

from __future__ import annotations

import errno
import signal as _signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from ..._event import Filter, Flag
from ..._knote import Knote
from .._contract import Source
from ._ffi import ffi, kernel32, ws2_32

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

SIGHUP = 1
SIGINT = 2
SIGTERM = 15
SIGBREAK = 21
SIGABRT = 22
#: console control event -> the signal kevents reports for it
CTRL_TO_SIGNAL = {0: SIGINT, 1: SIGBREAK, 2: SIGHUP}
#: signals a chaining Python-level handler counts (raise_signal and C raise)
CHAINED = frozenset({SIGINT, SIGBREAK, SIGTERM, SIGABRT})
SUPPORTED = frozenset(CTRL_TO_SIGNAL.values()) | CHAINED
#: how long after a console event waits are sliced, so Python's handler gets to run
GRACE_NS = 200_000_000
_SLICE_NS = 10_000_000
_CLEAR = int(Flag.CLEAR)

_lock = threading.RLock()  # re-entrant: the Python handler may run while it is held
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
    # a chained signal is counted by our Python handler, which the CRT's runs next
    if sig is not None and not _chained_now(sig):
        _deliver(sig)
    for backend in list(LIVE):
        backend.wake()
    return 0  # FALSE: let the next handler (the CRT's, Python's) run too


def _deliver(sig: int) -> None:
    with _lock:
        targets = list(_watchers.get(sig, {}).values())
    for backend, token in targets:
        backend.post(token, 1)


# -- the chaining Python-level handler --------------------------------------------------------

#: signal -> [previous disposition, number of knotes relying on the chain]
_chains: dict[int, list[Any]] = {}
_wakeup: list[Any] = []  # [reader socket, writer socket, previous wakeup fd] once set


def _chained_now(sig: int) -> bool:
    try:
        return sig in _chains and _signal.getsignal(sig) is _handler
    except ValueError:
        return False


def _handler(sig: int, frame: Any) -> None:
    """Count the delivery, then apply the previous disposition (see the module story)."""
    _deliver(sig)
    chain = _chains.get(sig)
    prev = chain[0] if chain is not None else _signal.SIG_DFL
    if callable(prev):
        prev(sig, frame)
    elif prev != _signal.SIG_IGN:  # SIG_DFL (or None: set outside Python)
        _signal.signal(sig, _signal.SIG_DFL)
        _chains.pop(sig, None)
        _signal.raise_signal(sig)


def _acquire(sig: int) -> bool:
    """Install (or re-install on top) the chain for ``sig``; False off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    current = _signal.getsignal(sig)
    chain = _chains.get(sig)
    if current is not _handler:
        _signal.signal(sig, _handler)
        if chain is None:
            chain = _chains[sig] = [current, 0]
        else:
            chain[0] = current  # the program replaced ours: chain to its choice now
    assert chain is not None
    chain[1] += 1
    _install_wakeup()
    return True


def _release(sig: int) -> None:
    chain = _chains.get(sig)
    if chain is None:
        return
    chain[1] -= 1
    if chain[1] > 0:
        return
    try:
        if _signal.getsignal(sig) is _handler:
            _signal.signal(sig, chain[0] if chain[0] is not None else _signal.SIG_DFL)
        del _chains[sig]
    except ValueError:
        pass  # off the main thread: ours stays installed, chaining with no knote left


def _install_wakeup() -> None:
    """Once: a wakeup fd whose bytes wake every queue and go on to the program's own."""
    if _wakeup:
        return
    r, w = socket.socketpair()
    r.setblocking(True)
    w.setblocking(False)
    previous = _signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    _wakeup.extend((r, w, previous))
    threading.Thread(target=_wakeup_reader, name="kevents-signal-wakeup", daemon=True).start()


def _wakeup_reader() -> None:
    from . import LIVE

    r, _, previous = _wakeup
    while True:
        try:
            data = r.recv(512)
        except OSError:
            return
        if not data:
            return
        for backend in list(LIVE):
            backend.wake()
        if previous != -1:
            ws2_32.send(previous, data, len(data), 0)  # best effort, as CPython's own


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
        sig = kn.ident
        if sig not in SUPPORTED:
            if 0 < sig < 65:
                raise OSError(
                    errno.ENOTSUP,
                    "SIGNAL on Windows: SIGINT, SIGBREAK, SIGHUP, SIGTERM and SIGABRT only",
                )
            raise OSError(errno.EINVAL, "not a signal number")
        chained = False
        if sig in CHAINED:
            with _lock:
                chained = _acquire(sig)
            if not chained and sig not in CTRL_TO_SIGNAL:
                raise OSError(errno.ENOTSUP, "SIGTERM/SIGABRT knotes: main thread only")
        kn.priv = chained
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
            if kn.priv:
                kn.priv = False
                _release(kn.ident)
        self.backend.posted.pop(kn.token, None)

    def enable(self, kn: Knote) -> None:
        if kn.priv and not _chained_now(kn.ident):  # replaced meanwhile: on top again
            with _lock:
                _release(kn.ident)
                kn.priv = _acquire(kn.ident)

    def event(self, kn: Knote) -> bool:
        return kn.data > 0

    def clear(self, kn: Knote) -> None:
        kn.data = 0
        kn.fflags = 0
