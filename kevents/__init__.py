"""kevents: kqueue's event model on every OS.

One queue waits on sockets, timers, signals, process exits, file changes, user events
and disk I/O, each registration named by ``(ident, filter)``, with FreeBSD's semantics.
Importing kevents has no side effects: the backend is chosen when the first queue is
made.
"""

from ._errors import UnsupportedError
from ._event import (
    VNODE_CHANGES,
    Filter,
    Flag,
    KEvent,
    NoteProc,
    NoteRW,
    NoteTimer,
    NoteUser,
    NoteVnode,
)
from ._info import BackendInfo, FilterInfo, backend_info
from ._process import ExitStatus, Process, pidfd_open, spawn
from ._queue import Queue
from ._siginfo import SigInfo
from ._version import __version__
from ._vnode_open import open_for_vnode

__all__ = [
    "VNODE_CHANGES",
    "BackendInfo",
    "ExitStatus",
    "Filter",
    "FilterInfo",
    "Flag",
    "KEvent",
    "NoteProc",
    "NoteRW",
    "NoteTimer",
    "NoteUser",
    "NoteVnode",
    "Process",
    "Queue",
    "SigInfo",
    "UnsupportedError",
    "__version__",
    "backend_info",
    "open_for_vnode",
    "pidfd_open",
    "spawn",
]
