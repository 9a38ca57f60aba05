"""Spawning children with a race-free handle: ``kevents.spawn`` and ``pidfd_open``."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from ._errors import UnsupportedError


def pidfd_open(pid: int) -> int:
    """A pidfd for ``pid`` (Linux 5.3+): an fd naming that process and no other, usable
    as the ident of ``Filter.PROCDESC``. Close it when done."""
    if not hasattr(os, "pidfd_open"):
        raise UnsupportedError("pidfd_open (process descriptors need Linux 5.3+)")
    return os.pidfd_open(pid)


class Process(subprocess.Popen):  # type: ignore[type-arg]
    """A :class:`subprocess.Popen` with ``pidfd``, opened right after the child was
    created and before anything could reap it, so it can never name another process
    (FreeBSD's ``pdfork`` idea). Use it as the ident of ``Filter.PROCDESC``. The pidfd is
    closed by :meth:`close_pidfd`, by ``with``, or when the object is collected."""

    pidfd: int

    def __init__(self, args: Any, **kwargs: Any) -> None:
        self.pidfd = -1
        super().__init__(args, **kwargs)
        # Nothing has waited for the child yet (only we could), so the pid is still its.
        self.pidfd = pidfd_open(self.pid)

    def close_pidfd(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self.close_pidfd()

    def __del__(self) -> None:
        self.close_pidfd()
        if sys.is_finalizing():
            return
        super().__del__()


def spawn(args: Any, **popen_kwargs: Any) -> Process:
    """Start a child like :class:`subprocess.Popen` and return it with its ``pidfd``."""
    return Process(args, **popen_kwargs)
