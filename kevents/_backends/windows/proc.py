"""EVFILT_PROC on Windows: NOTE_EXIT for any pid, through a wait on its process handle.

Story (design note §1.4): ``OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)``
works for any process the user may query; holding the handle pins the pid, so it cannot
be reused while we wait (the race before OpenProcess is the one BSD has too). The handle
is signalled at exit and ``GetExitCodeProcess`` gives the 32-bit exit code; ``data`` is
``code << 8``, BSD's wait-status layout and what ``os.waitpid`` returns on Windows, so
``os.waitstatus_to_exitcode(ev.data)`` is the code on every OS (no bits are lost: data
is 64-bit). Windows has no signals: ``os.kill(pid, SIGTERM)`` is TerminateProcess with
exit code 15, so ``os.WIFSIGNALED`` has nothing to say (and does not exist there).

Waiting without a thread per process:

* Windows 8+: a *wait completion packet* (NtCreateWaitCompletionPacket +
  NtAssociateWaitCompletionPacket) turns "handle signalled" into a packet on our port,
  one-shot, no thread at all (Go since 1.23, Crystal PR #15238). Wine 8 does not export
  these calls, and a Wine-derived ntdll is known to stub them (STATUS_SUCCESS, never a
  packet), so they are self-tested once before use.
* Otherwise (Wine 8): shared helper threads, each blocked in WaitForMultipleObjects on at
  most 63 process handles plus a control event, posting a packet
  (PostQueuedCompletionStatus) when one is signalled. Handles are added and removed
  under a lock and the thread is poked with the control event; a removed handle is
  closed by the helper itself once it is out of its wait set (closing a handle that a
  WaitForMultipleObjects call is waiting on is undefined behaviour).

``KEVENTS_WIN_WAIT=thread`` forces the helper threads (``packet`` forces the packets).
NOTE_FORK, NOTE_EXEC and NOTE_TRACK have no Windows equivalent for arbitrary processes
(job-object messages are documented as unreliable): refused with ENOTSUP.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..._event import Flag, NoteProc
from ..._knote import Knote
from .._contract import Source
from ._ffi import (
    ERROR_INVALID_PARAMETER,
    INFINITE,
    PROCESS_QUERY_LIMITED_INFORMATION,
    STATUS_SUCCESS,
    SYNCHRONIZE,
    WAIT_FAILED,
    WAIT_OBJECT_0,
    ffi,
    kernel32,
    ntdll,
    optional,
    winerror,
)

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
_GENERIC_ALL = 0x10000000
_PER_THREAD = 63  # MAXIMUM_WAIT_OBJECTS (64) minus the control event


# -- helper threads (the fallback) ---------------------------------------------------------


class _Waiter(threading.Thread):
    """One helper thread: WaitForMultipleObjects over <= 63 handles + a control event."""

    def __init__(self) -> None:
        super().__init__(name="kevents-proc-wait", daemon=True)
        self.ctl = kernel32.CreateEventW(ffi.NULL, 0, 0, ffi.NULL)
        if self.ctl == ffi.NULL:
            raise winerror("CreateEventW")
        self.lock = threading.Lock()
        #: handle address -> (handle, backend, token)
        self.entries: dict[int, tuple[Any, IocpBackend, int]] = {}
        self.to_close: list[Any] = []

    def add(self, handle: Any, backend: IocpBackend, token: int) -> None:
        with self.lock:
            self.entries[int(ffi.cast("uintptr_t", handle))] = (handle, backend, token)
        kernel32.SetEvent(self.ctl)

    def remove(self, handle: Any) -> None:
        """Stop waiting on ``handle`` and close it (in the helper, once out of its wait)."""
        with self.lock:
            self.entries.pop(int(ffi.cast("uintptr_t", handle)), None)
            self.to_close.append(handle)
        kernel32.SetEvent(self.ctl)

    def load(self) -> int:
        with self.lock:
            return len(self.entries)

    def run(self) -> None:
        while True:
            with self.lock:
                for h in self.to_close:
                    kernel32.CloseHandle(h)
                self.to_close.clear()
                items = list(self.entries.values())
            handles = ffi.new("void *[]", [self.ctl] + [h for h, _, _ in items])
            r = kernel32.WaitForMultipleObjects(len(items) + 1, handles, 0, INFINITE)
            if r == WAIT_FAILED:  # a handle went bad: should not happen; do not spin
                kernel32.WaitForSingleObject(self.ctl, 100)
                continue
            i = r - WAIT_OBJECT_0
            if 1 <= i <= len(items):
                h, backend, token = items[i - 1]
                with self.lock:
                    key = int(ffi.cast("uintptr_t", h))
                    if key not in self.entries:
                        continue  # removed meanwhile
                    del self.entries[key]
                backend.post(token)


_waiters: list[_Waiter] = []
_waiters_lock = threading.Lock()


def _waiter() -> _Waiter:
    with _waiters_lock:
        for w in _waiters:
            if w.load() < _PER_THREAD:
                return w
        w = _Waiter()
        w.start()
        _waiters.append(w)
        return w


# -- wait completion packets (Windows 8+) -------------------------------------------------

_packets_ok: bool | None = None


def packets_available() -> bool:
    """Whether wait completion packets exist *and* deliver (self-tested once)."""
    global _packets_ok
    if _packets_ok is not None:
        return _packets_ok
    choice = os.environ.get("KEVENTS_WIN_WAIT", "")
    if choice == "thread":
        _packets_ok = False
        return False
    create = optional(ntdll, "NtCreateWaitCompletionPacket")
    assoc = optional(ntdll, "NtAssociateWaitCompletionPacket")
    cancel = optional(ntdll, "NtCancelWaitCompletionPacket")
    ok = False
    if create is not None and assoc is not None and cancel is not None:
        ok = _self_test()
    _packets_ok = ok
    return ok


def _self_test() -> bool:
    """Associate a packet with a signalled event; a packet must arrive within 200 ms."""
    port = kernel32.CreateIoCompletionPort(ffi.cast("void *", -1), ffi.NULL, 0, 0)
    ev = kernel32.CreateEventW(ffi.NULL, 1, 1, ffi.NULL)
    pkt = ffi.new("void **")
    try:
        if ntdll.NtCreateWaitCompletionPacket(pkt, _GENERIC_ALL, ffi.NULL) != STATUS_SUCCESS:
            return False
        st = ntdll.NtAssociateWaitCompletionPacket(
            pkt[0], port, ev, ffi.cast("void *", 7), ffi.cast("void *", 9), 0, 0, ffi.NULL
        )
        if st != STATUS_SUCCESS:
            return False
        entry = ffi.new("OVERLAPPED_ENTRY[1]")
        n = ffi.new("uint32_t *")
        if not kernel32.GetQueuedCompletionStatusEx(port, entry, 1, n, 200, 0):
            return False
        return int(entry[0].lpCompletionKey) == 7
    except Exception:
        return False
    finally:
        if pkt[0] != ffi.NULL:
            kernel32.CloseHandle(pkt[0])
        kernel32.CloseHandle(ev)
        kernel32.CloseHandle(port)


def wait_mechanism() -> str:
    if packets_available():
        return "wait completion packets (NtAssociateWaitCompletionPacket), no threads"
    return (
        "helper threads: WaitForMultipleObjects over <= 63 handles each, posting to the "
        "port (wait completion packets unavailable, e.g. Wine 8)"
    )


# -- the source -------------------------------------------------------------------------


class _Watch:
    __slots__ = ("done", "handle", "packet", "token", "waiter")

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.token = 0
        self.packet: Any = None
        self.waiter: _Waiter | None = None
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
        watch = _Watch(h)
        kn.flags |= _CLEAR
        kn.priv = watch
        watch.token = self.backend.new_token(lambda nbytes: self._exited(kn))
        if kernel32.WaitForSingleObject(h, 0) == WAIT_OBJECT_0:
            self._exited(kn)  # a zombie-like exited process reports at once (D18)
            return
        try:
            if packets_available():
                self._associate(watch)
            else:
                watch.waiter = _waiter()
                watch.waiter.add(h, self.backend, watch.token)
        except BaseException:
            self.detach(kn)  # a refused knote keeps no handle, packet or token
            raise

    def _associate(self, watch: _Watch) -> None:
        pkt = ffi.new("void **")
        st = ntdll.NtCreateWaitCompletionPacket(pkt, _GENERIC_ALL, ffi.NULL)
        if st != STATUS_SUCCESS:
            raise OSError(errno.ENOMEM, f"NtCreateWaitCompletionPacket: {st:#x}")
        watch.packet = pkt[0]
        from . import KEY_POST

        st = ntdll.NtAssociateWaitCompletionPacket(
            watch.packet,
            self.backend.port,
            watch.handle,
            ffi.cast("void *", KEY_POST),
            ffi.cast("void *", watch.token),
            0,
            0,
            ffi.NULL,
        )
        if st != STATUS_SUCCESS:
            raise OSError(errno.EINVAL, f"NtAssociateWaitCompletionPacket: {st:#x}")

    def _exited(self, kn: Knote) -> None:
        watch: _Watch = kn.priv
        if watch is None or watch.done or not kn.alive:
            return
        watch.done = True
        code = ffi.new("uint32_t *")
        known = bool(kernel32.GetExitCodeProcess(watch.handle, code))
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
        self.backend.posted.pop(watch.token, None)
        if watch.packet is not None:
            ntdll.NtCancelWaitCompletionPacket(watch.packet, 1)
            kernel32.CloseHandle(watch.packet)
        if watch.waiter is not None:
            watch.waiter.remove(watch.handle)  # the helper closes it
        else:
            kernel32.CloseHandle(watch.handle)
