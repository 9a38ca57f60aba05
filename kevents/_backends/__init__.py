"""Backend selection: the one place that decides (explicit > KEVENTS_BACKEND > probe).

Nothing here runs at import time; ``choose()`` is called when the first queue is made.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .._errors import UnsupportedError

#: Every backend name kevents knows, in probe order per platform.
NAMES = ("linux", "iocp", "kqueue")


def _probe() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "win32":
        return "iocp"
    return "kqueue"


def choose(name: str | None = None) -> tuple[str, str]:
    """Return ``(backend name, how it was chosen)``."""
    if name is not None:
        return name, "explicit argument"
    env = os.environ.get("KEVENTS_BACKEND")
    if env:
        return env, "KEVENTS_BACKEND environment variable"
    return _probe(), f"probe (sys.platform == {sys.platform!r})"


def backend_class(name: str) -> Any:
    """Import and return the class of backend ``name``; UnsupportedError if it cannot
    run here."""
    if name == "linux":
        if not sys.platform.startswith("linux"):
            raise UnsupportedError("backend 'linux' (needs Linux epoll)")
        from .linux import LinuxBackend

        return LinuxBackend
    if name in NAMES:
        raise UnsupportedError(f"backend {name!r} on {sys.platform}")
    raise ValueError(f"unknown kevents backend {name!r}; known: {', '.join(NAMES)}")
