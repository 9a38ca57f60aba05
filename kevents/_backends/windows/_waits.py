"""Waits on waitable handles (a process, an event, a timer, console input) as packets.

Story (design note §1.4, §5 step 5): IOCP has no "tell me when this handle is
signalled"; two ways turn a signalled handle into a packet on a queue's port:

* Windows 8+: a *wait completion packet* (NtCreateWaitCompletionPacket +
  NtAssociateWaitCompletionPacket) does it in the kernel, one-shot, no thread at all
  (Go since 1.23, Crystal PR #15238). Re-arming is a new association of the same packet.
  Wine 8 does not export these calls, and a Wine-derived ntdll is known to stub them
  (STATUS_SUCCESS, never a packet), so they are self-tested once before use.
* Otherwise (Wine 8): shared helper threads, each blocked in WaitForMultipleObjects on at
  most 63 handles plus a control event, posting a packet (PostQueuedCompletionStatus)
  when one is signalled. Handles are added and removed under a lock and the thread is
  poked with the control event; a removed handle is closed by the helper itself once it
  is out of its wait set (closing a handle that a WaitForMultipleObjects call is waiting
  on is undefined behaviour).

Both deliver a KEY_POST packet carrying a backend token, so the code above them is the
same. A :class:`HandleWait` owns the handle it is given (it closes it), so callers pass
their own duplicate of a handle they do not own.

``KEVENTS_WIN_WAIT=thread`` forces the helper threads (``packet`` skips the self-test).
The tests exercise the packet path under Wine too, by installing an emulation of the
three ntdll calls (:func:`use_packet_calls`): the association, re-arm and cancel logic
here is then what runs, only the kernel side is played by the test.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._ffi import (
    INFINITE,
    STATUS_SUCCESS,
    WAIT_FAILED,
    WAIT_OBJECT_0,
    ffi,
    kernel32,
    ntdll,
    optional,
    winerror,
)

if TYPE_CHECKING:
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

_GENERIC_ALL = 0x10000000
_PER_THREAD = 63  # MAXIMUM_WAIT_OBJECTS (64) minus the control event

#: (create, associate, cancel): the ntdll wait-packet calls, or None until looked up
_calls: tuple[Any, Any, Any] | None = None
_packets_ok: bool | None = None


def use_packet_calls(calls: tuple[Any, Any, Any] | None) -> None:
    """Use these three callables as NtCreate/Associate/CancelWaitCompletionPacket (a
    test's emulation), or ``None`` to go back to looking up ntdll's. Takes effect for
    waits made afterwards."""
    global _calls, _packets_ok
    _calls = calls
    _packets_ok = True if calls is not None else None


def _packet_calls() -> tuple[Any, Any, Any]:
    assert _calls is not None
    return _calls


def packets_available() -> bool:
    """Whether wait completion packets exist *and* deliver (self-tested once)."""
    global _calls, _packets_ok
    if _packets_ok is not None:
        return _packets_ok
    choice = os.environ.get("KEVENTS_WIN_WAIT", "")
    if choice == "thread":
        _packets_ok = False
        return False
    found = tuple(
        optional(ntdll, name)
        for name in (
            "NtCreateWaitCompletionPacket",
            "NtAssociateWaitCompletionPacket",
            "NtCancelWaitCompletionPacket",
        )
    )
    ok = False
    if all(f is not None for f in found):
        _calls = (found[0], found[1], found[2])
        ok = choice == "packet" or _self_test()
    _packets_ok = ok
    return ok


def _self_test() -> bool:
    """Associate a packet with a signalled event; a packet must arrive within 200 ms."""
    create, assoc, _ = _packet_calls()
    port = kernel32.CreateIoCompletionPort(ffi.cast("void *", -1), ffi.NULL, 0, 0)
    ev = kernel32.CreateEventW(ffi.NULL, 1, 1, ffi.NULL)
    pkt = ffi.new("void **")
    try:
        if create(pkt, _GENERIC_ALL, ffi.NULL) != STATUS_SUCCESS:
            return False
        st = assoc(pkt[0], port, ev, ffi.cast("void *", 7), ffi.cast("void *", 9), 0, 0, ffi.NULL)
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


# -- helper threads (the fallback) ---------------------------------------------------------


class _Waiter(threading.Thread):
    """One helper thread: WaitForMultipleObjects over <= 63 handles + a control event."""

    def __init__(self) -> None:
        super().__init__(name="kevents-wait", daemon=True)
        self.ctl = kernel32.CreateEventW(ffi.NULL, 0, 0, ffi.NULL)
        if self.ctl == ffi.NULL:
            raise winerror("CreateEventW")
        self.lock = threading.Lock()
        #: handle address -> (handle, backend, token)
        self.entries: dict[int, tuple[Any, IocpBackend, int]] = {}
        self.to_close: list[Any] = []
        self.owned = 0  # HandleWaits placed on this thread (armed or not)

    def add(self, handle: Any, backend: IocpBackend, token: int) -> None:
        with self.lock:
            self.entries[int(ffi.cast("uintptr_t", handle))] = (handle, backend, token)
        kernel32.SetEvent(self.ctl)

    def remove(self, handle: Any) -> None:
        """Stop waiting on ``handle`` and close it (in the helper, once out of its wait)."""
        with self.lock:
            self.entries.pop(int(ffi.cast("uintptr_t", handle)), None)
            self.to_close.append(handle)
            self.owned -= 1
        kernel32.SetEvent(self.ctl)

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
            if w.owned < _PER_THREAD:
                w.owned += 1
                return w
        w = _Waiter()
        w.owned = 1
        w.start()
        _waiters.append(w)
        return w


# -- the wait itself -----------------------------------------------------------------------


class HandleWait:
    """A re-armable one-shot wait: when ``handle`` is signalled after :meth:`arm`, the
    backend's ``handler`` runs (under the engine lock, from ``translate``). Owns
    ``handle``: :meth:`close` closes it. Not thread-safe: use under the engine lock."""

    __slots__ = ("armed", "backend", "calls", "handle", "packet", "token", "waiter")

    def __init__(self, backend: IocpBackend, handle: Any, handler: Callable[[], None]) -> None:
        self.backend = backend
        self.handle = handle
        self.armed = False
        self.packet: Any = None
        self.calls: tuple[Any, Any, Any] | None = None
        self.waiter: _Waiter | None = None

        def fired(nbytes: int) -> None:
            self.armed = False
            handler()

        self.token = backend.new_token(fired)
        try:
            if packets_available():
                self.calls = _packet_calls()  # kept: the calls this packet belongs to
                pkt = ffi.new("void **")
                st = self.calls[0](pkt, _GENERIC_ALL, ffi.NULL)
                if st != STATUS_SUCCESS:
                    raise OSError(12, f"NtCreateWaitCompletionPacket: {st:#x}")  # ENOMEM
                self.packet = pkt[0]
            else:
                self.waiter = _waiter()
        except BaseException:
            backend.posted.pop(self.token, None)
            raise

    def arm(self) -> None:
        """Deliver one packet when the handle is (or already is) signalled."""
        if self.armed:
            return
        if self.packet is not None:
            from . import KEY_POST

            assert self.calls is not None
            st = self.calls[1](
                self.packet,
                self.backend.port,
                self.handle,
                ffi.cast("void *", KEY_POST),
                ffi.cast("void *", self.token),
                0,
                0,
                ffi.NULL,
            )
            if st != STATUS_SUCCESS:
                raise OSError(22, f"NtAssociateWaitCompletionPacket: {st:#x}")  # EINVAL
        else:
            assert self.waiter is not None
            self.waiter.add(self.handle, self.backend, self.token)
        self.armed = True

    def close(self) -> None:
        """Cancel the wait (a packet already queued is removed or ignored) and close the
        handle. Idempotent."""
        if self.handle is None:
            return
        self.backend.posted.pop(self.token, None)
        if self.packet is not None:
            assert self.calls is not None
            self.calls[2](self.packet, 1)
            kernel32.CloseHandle(self.packet)
            kernel32.CloseHandle(self.handle)
            self.packet = None
        elif self.waiter is not None:
            self.waiter.remove(self.handle)  # the helper closes it
            self.waiter = None
        self.handle = None
        self.armed = False


def duplicate(handle: Any, what: str) -> Any:
    """A private duplicate of ``handle`` (same access), for a wait or a read to own."""
    out = ffi.new("void **")
    me = kernel32.GetCurrentProcess()
    if not kernel32.DuplicateHandle(me, handle, me, out, 0, 0, 2):  # DUPLICATE_SAME_ACCESS
        raise winerror(what)
    return out[0]
