"""EVFILT_PROC on Windows: NOTE_EXIT for any pid, through a wait on its process handle.

Story (design note §1.4): ``OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)``
works for any process the user may query; holding the handle pins the pid, so it cannot
be reused while we wait (the race before OpenProcess is the one BSD has too). The handle
is signalled at exit and ``GetExitCodeProcess`` gives the 32-bit exit code; ``data`` is
``code << 8``, BSD's wait-status layout and what ``os.waitpid`` returns on Windows, so
``os.waitstatus_to_exitcode(ev.data)`` is the code on every OS (no bits are lost: data
is 64-bit). Windows has no signals: ``os.kill(pid, SIGTERM)`` is TerminateProcess with
exit code 15, so ``os.WIFSIGNALED`` has nothing to say (and does not exist there).

Waiting without a thread per process: a :class:`_waits.HandleWait` on the process
handle (a wait completion packet on Windows 8+, else a shared helper thread; see
``_waits``).

NOTE_FORK, NOTE_EXEC and NOTE_TRACK have no Windows equivalent for arbitrary processes
(job-object messages are documented as unreliable): refused with ENOTSUP.
"""

from __future__ import annotations

import errno
import sys
from typing import TYPE_CHECKING

from ..._event import Flag, NoteProc
from ..._knote import Knote
from .._contract import Source
from ._ffi import (
    ERROR_INVALID_PARAMETER,
    PROCESS_QUERY_LIMITED_INFORMATION,
    SYNCHRONIZE,
    WAIT_OBJECT_0,
    ffi,
    kernel32,
    winerror,
)
from ._waits import HandleWait

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

_EXIT = int(NoteProc.EXIT)
_EXITSTATUS = int(NoteProc.EXITSTATUS)
_TRACKING = int(NoteProc.FORK | NoteProc.EXEC | NoteProc.TRACK)
_ONESHOT = int(Flag.ONESHOT)
_CLEAR = int(Flag.CLEAR)
_EOF = int(Flag.EOF)
_ERROR_ACCESS_DENIED = 5


class _Watch:
    __slots__ = ("done", "wait")

    def __init__(self, wait: HandleWait) -> None:
        self.wait = wait
        self.done = False


class ProcSource(Source):
    userspace = True

    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        super().__init__(engine)
        self.backend = backend

    def attach(self, kn: Knote) -> None:
        if kn.sfflags & _TRACKING:
            raise OSError(errno.ENOTSUP, "NOTE_FORK/EXEC/TRACK: no Windows equivalent")
        if kn.ident > 0xFFFFFFFF:
            raise OSError(errno.ESRCH, "no such process")
        h = kernel32.OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, kn.ident)
        if h == ffi.NULL:
            code, _ = ffi.getwinerror()
            if code == ERROR_INVALID_PARAMETER:
                raise OSError(errno.ESRCH, "no such process")
            if code == _ERROR_ACCESS_DENIED:
                raise OSError(errno.EPERM, "OpenProcess: access denied")
            raise winerror("OpenProcess", code)
        try:
            wait = HandleWait(self.backend, h, lambda: self._exited(kn))
        except BaseException:
            kernel32.CloseHandle(h)
            raise
        kn.flags |= _CLEAR
        kn.priv = _Watch(wait)
        if kernel32.WaitForSingleObject(h, 0) == WAIT_OBJECT_0:
            self._exited(kn)  # a zombie-like exited process reports at once (D18)
            return
        try:
            wait.arm()
        except BaseException:
            self.detach(kn)  # a refused knote keeps no handle, packet or token
            raise

    def _exited(self, kn: Knote) -> None:
        watch: _Watch = kn.priv
        if watch is None or watch.done or not kn.alive:
            return
        watch.done = True
        code = ffi.new("uint32_t *")
        known = bool(kernel32.GetExitCodeProcess(watch.wait.handle, code))
        kn.fflags |= _EXIT | (_EXITSTATUS if known else 0)
        kn.data = int(code[0]) << 8 if known else 0
        kn.oflags |= _EOF
        kn.flags |= _ONESHOT
        self.engine.enqueue(kn)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if fflags & _TRACKING:
            raise OSError(errno.ENOTSUP, "NOTE_FORK/EXEC/TRACK: no Windows equivalent")
        kn.sfflags, kn.sdata = fflags, data

    def event(self, kn: Knote) -> bool:
        return bool(kn.fflags)

    def detach(self, kn: Knote) -> None:
        watch: _Watch | None = kn.priv
        if watch is None:
            return
        kn.priv = None
        watch.wait.close()
