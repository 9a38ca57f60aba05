"""Queues do not survive fork (spec §4.13, D35).

A kqueue is not inherited on BSD, and CPython >= 3.12 marks ``select.kqueue`` objects
closed in a forked child. On Linux the child inherits the epoll fd and shares the
parent's interest list, so in the child every queue is marked closed and its fds are
closed *without* any epoll_ctl. The hook is installed when the first queue is created,
not at import.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

_engines: weakref.WeakSet[Any] = weakref.WeakSet()
_installed = False
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    for engine in list(_engines):
        engine.forget()
    _engines.clear()


def track(engine: Any) -> None:
    global _installed
    with _lock:
        if not _installed:
            if hasattr(os, "register_at_fork"):  # not on Windows: no fork there
                os.register_at_fork(after_in_child=_after_fork_in_child)
            _installed = True
        _engines.add(engine)
