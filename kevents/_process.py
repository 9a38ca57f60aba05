"""Spawning children with a race-free handle: ``kevents.spawn`` and ``pidfd_open``."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from typing import Any

from ._errors import UnsupportedError
from ._event import Flag, KEvent, NoteProc


@dataclasses.dataclass(frozen=True)
class ExitStatus:
    """How a process ended, from its NOTE_EXIT event: ``status`` is the wait status
    (``os.waitstatus_to_exitcode`` reads it) when ``known``; where the OS could not tell
    (a non-child whose parent had not reaped it yet), ``known`` is False."""

    pid: int
    known: bool
    status: int

    @classmethod
    def from_kevent(cls, ev: KEvent) -> ExitStatus:
        """The exit status a PROC/PROCDESC NOTE_EXIT event carries; OSError for an
        EV_ERROR entry (``data`` = errno, e.g. ESRCH for a pid that is gone)."""
        if ev.flags & Flag.ERROR:
            raise OSError(ev.data, os.strerror(ev.data))
        return cls(int(ev.ident), bool(ev.fflags & NoteProc.EXITSTATUS), int(ev.data))

    @property
    def exitcode(self) -> int | None:
        """As :attr:`subprocess.Popen.returncode`: -N for a signal, None when unknown."""
        return os.waitstatus_to_exitcode(self.status) if self.known else None


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
