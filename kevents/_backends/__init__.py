"""Backend selection: the one place that decides (explicit > KEVENTS_BACKEND > probe).

Nothing here runs at import time; ``choose()`` is called when the first queue is made.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .._errors import UnsupportedError

#: Every backend name kevents knows. "linux-io_uring" is the Linux backend with io_uring
#: required (it fails with UnsupportedError where io_uring is unavailable);
#: "kqueue-over-emulation" runs the BSD backend's translation layer over the emulation.
NAMES = ("linux", "linux-io_uring", "iocp", "kqueue", "kqueue-over-emulation")


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


def make_backend(name: str, io_uring: bool | None = None) -> Any:
    """Create backend ``name``; UnsupportedError if it cannot run here. ``io_uring``
    (Linux) forces io_uring on or off; None lets KEVENTS_IO_URING or the probe decide."""
    if name in ("linux", "linux-io_uring"):
        if not sys.platform.startswith("linux"):
            raise UnsupportedError(f"backend {name!r} (needs Linux epoll)")
        from .linux import LinuxBackend

        return LinuxBackend(io_uring=True if name == "linux-io_uring" else io_uring)
    if name == "iocp":
        if sys.platform != "win32":
            raise UnsupportedError(f"backend {name!r} (needs Windows I/O completion ports)")
        from .windows import IocpBackend

        return IocpBackend()
    if name == "kqueue":
        from .kqueue import KqueueBackend

        return KqueueBackend()
    if name == "kqueue-over-emulation":
        # the BSD translation layer over kevents' own emulation: verifies it anywhere
        from .kqueue import emulation_backend

        return emulation_backend()
    if name in NAMES:
        raise UnsupportedError(f"backend {name!r} on {sys.platform}")
    raise ValueError(f"unknown kevents backend {name!r}; known: {', '.join(NAMES)}")
