"""The Windows backend ("iocp"): one I/O completion port per queue.

Every filter is a packet source on the queue's port (design note §0, §5):

* sockets READ/WRITE: IOCTL_AFD_POLL on a private ``\\Device\\Afd`` handle (read_write);
  pipes, console input, files and devices: zero-byte reads and handle waits (handles);
* PROC: a wait on the process handle, by wait completion packet or a helper thread (proc);
* VNODE: overlapped ReadDirectoryChangesW on the parent directory (vnode);
* AIO: overlapped ReadFile/WriteFile on a private overlapped twin (aio);
* SIGNAL: a chaining Python-level handler and a console control handler (signal);
* TIMER and USER: the portable user-space sources; the port's wait timeout is the timer,
  sharpened by a high-resolution waitable timer where wait packets exist (_arm_hires).

Story: the engine calls ``prepare`` under its lock right before ``wait``, ``wait``
without it and ``translate`` with it. Kernel requests (AFD polls especially) are issued
only from the thread about to block, in ``prepare`` (wepoll #35: polls submitted by a
thread other than the waiter lose or misroute events). The same lock makes the timeout
race-free: it is settled there, and a change made later by another thread (a new
timer, a USER trigger) posts one wake packet to a blocked waiter. This hook is the one
change the contract needed for IOCP (epoll and kqueue arm at change time).

Every OVERLAPPED the kernel may still write is owned by ``ops`` (keyed by its address)
until its packet is dequeued; ``close`` cancels, drains the port for a bounded time and
deliberately leaks what never completed rather than free memory under the kernel
(asyncio's IocpProactor.close does the same).

Every source here is a user-space source (``userspace = True``): a packet only enqueues
knotes, and the engine's scan re-runs ``event`` before copying out, so stale readiness
is never reported and ``max_events`` is honoured by the engine.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._engine import MAX_WAIT_NS
from ..._errors import UnsupportedError
from ..._event import Filter
from ..._filters.timer import TimerSource
from ..._filters.user import UserSource
from .._contract import Source
from ._ffi import (
    CREATE_WAITABLE_TIMER_HIGH_RESOLUTION,
    INVALID_HANDLE_VALUE,
    TIMER_ALL_ACCESS,
    WAIT_TIMEOUT,
    addr,
    check_handle,
    ffi,
    kernel32,
    winerror,
)

if TYPE_CHECKING:
    from ..._engine import Engine
    from ..._event import KEvent

assert sys.platform == "win32" or TYPE_CHECKING

#: packet keys: a wake, an OVERLAPPED completion (dispatched by address), a posted
#: notification from a helper (dispatched by the token in lpOverlapped)
KEY_WAKE = 1
KEY_IO = 2
KEY_POST = 3

_ENTRIES = 128  # OVERLAPPED_ENTRY slots per GetQueuedCompletionStatusEx call
_MAX_MS = 0xFFFFFFFE  # INFINITE (0xFFFFFFFF) is never passed: the engine clamps waits
_ERROR_ABANDONED_WAIT_0 = 735
_DRAIN_S = 2.0  # how long close() waits for cancelled operations to come back

#: op blocks whose packet never came back before close gave up: never freed (the kernel
#: may still write into them), see the module story
_LEAKED: list[Any] = []

#: every open backend, for process-wide notifiers (the console control handler)
LIVE: weakref.WeakSet[IocpBackend] = weakref.WeakSet()


class Op:
    """One overlapped operation: the cffi block the kernel writes into, its handle (for
    cancellation) and the handler that runs (engine lock held) when its packet comes."""

    __slots__ = ("block", "done", "handle", "keep", "ov")

    def __init__(
        self, block: Any, ov: Any, handle: Any, done: Callable[[Op, int, int], None]
    ) -> None:
        self.block = block
        self.ov = ov
        self.handle = handle
        self.done = done
        self.keep: Any = None  # anything else that must live until the packet: buffers


class IocpBackend:
    name = "iocp"

    def __init__(self) -> None:
        self.closed = False
        self.port = check_handle(
            kernel32.CreateIoCompletionPort(INVALID_HANDLE_VALUE, ffi.NULL, 0, 0),
            "CreateIoCompletionPort",
        )
        self.engine: Engine | None = None
        #: address of an OVERLAPPED -> its Op, until the packet is dequeued
        self.ops: dict[int, Op] = {}
        #: token -> handler(bytes) for packets posted by helper threads / handlers
        self.posted: dict[int, Callable[[int], None]] = {}
        self.next_token = 0
        #: called under the engine lock just before blocking; return a cap (ns) or -1
        self.prewait: list[Callable[[], int]] = []
        self.wake_posted = False
        self.blocked = 0
        self.sleep_until = -1  # monotonic deadline of the blocked waiters (-1: none)
        self.pool: list[Any] = []
        self.lock = threading.Lock()  # guards wake_posted against helper threads
        #: the high-resolution waitable timer (None: not made yet, False: unavailable),
        #: its wait, and the deadline it is set for (see _arm_hires)
        self.hires: Any = None
        self.hires_wait: Any = None
        self.hires_due = -1
        LIVE.add(self)

    # -- helpers for sources ---------------------------------------------------------------

    def associate(self, handle: Any, what: str) -> None:
        """Associate a handle with the port (permanent and exclusive: private handles only)."""
        r = kernel32.CreateIoCompletionPort(handle, self.port, KEY_IO, 0)
        if r == ffi.NULL:
            raise winerror(what)

    def start(self, op: Op) -> None:
        """Own ``op`` before the call that may complete it is issued."""
        self.ops[addr(op.ov)] = op

    def unstart(self, op: Op) -> None:
        """The call failed synchronously: no packet will come."""
        self.ops.pop(addr(op.ov), None)

    def cancel(self, op: Op) -> None:
        """Ask the kernel to cancel ``op``; its packet still comes (cancelled or not)."""
        if addr(op.ov) in self.ops and op.handle is not None:
            kernel32.CancelIoEx(op.handle, op.ov)

    def new_token(self, handler: Callable[[int], None]) -> int:
        self.next_token += 1
        self.posted[self.next_token] = handler
        return self.next_token

    def post(self, token: int, nbytes: int = 0) -> bool:
        """Post a notification for ``token`` (any thread; False once the port is closed)."""
        with self.lock:
            if self.closed:
                return False
            return bool(
                kernel32.PostQueuedCompletionStatus(
                    self.port, nbytes & 0xFFFFFFFF, KEY_POST, ffi.cast("OVERLAPPED *", token)
                )
            )

    def wake(self) -> None:
        """Wake one blocked waiter (at most one wake packet in flight)."""
        with self.lock:
            if self.closed or self.wake_posted:
                return
            self.wake_posted = True
            kernel32.PostQueuedCompletionStatus(self.port, 0, KEY_WAKE, ffi.NULL)

    # -- the contract ---------------------------------------------------------------------

    def sources(self, engine: Engine) -> dict[int, Source]:
        from .aio import AioSource
        from .handles import HandleReadSource, Handles, HandleWriteSource
        from .proc import ProcSource
        from .read_write import ReadSource, Sockets, WriteSource
        from .signal import SignalSource
        from .vnode import VnodeSource

        self.engine = engine
        sockets = Sockets(engine, self)
        shared = Handles(engine, self)
        hread = HandleReadSource(engine, self, shared)
        hwrite = HandleWriteSource(engine, self, shared)
        return {
            Filter.READ: ReadSource(engine, self, sockets, hread),
            Filter.WRITE: WriteSource(engine, self, sockets, hwrite),
            Filter.TIMER: TimerSource(engine, self),
            Filter.USER: UserSource(engine),
            Filter.PROC: ProcSource(engine, self),
            Filter.SIGNAL: SignalSource(engine, self),
            Filter.VNODE: VnodeSource(engine, self),
            Filter.AIO: AioSource(engine, self),
        }

    def mechanisms(self) -> dict[int, tuple[str, str]]:
        from ._waits import wait_mechanism

        return {
            Filter.READ: (
                "AFD poll; zero-byte pipe reads",
                "sockets: IOCTL_AFD_POLL on a private \\Device\\Afd handle wakes the port, "
                "readiness and data re-checked with select()/FIONREAD at copy-out; pipes: "
                "a zero-byte read (overlapped and waited on, or on a helper thread for "
                "anonymous pipes), data from PeekNamedPipe; console input: a handle "
                "wait; files: size - offset, re-checked at EOF",
            ),
            Filter.WRITE: (
                "AFD poll; pipe quota",
                "sockets: data is SO_SNDBUF (no free-space query); pipes: "
                "WriteQuotaAvailable, re-checked while full; files, devices: always ready",
            ),
            Filter.TIMER: ("heap + port timeout", self.timer_mechanism()),
            Filter.USER: ("user space + posted packet", "PostQueuedCompletionStatus wakes"),
            Filter.PROC: ("process handle wait", wait_mechanism()),
            Filter.SIGNAL: (
                "chaining Python handler + console control handler",
                "SIGINT, SIGBREAK, SIGTERM, SIGABRT (raised in the process or by the "
                "console) through a handler that chains to the previous disposition; "
                "SIGHUP (CTRL_CLOSE) from the console control handler",
            ),
            Filter.VNODE: (
                "ReadDirectoryChangesW",
                "overlapped watch of the parent directory, re-stat of the held handle",
            ),
            Filter.AIO: ("overlapped file I/O", "ReOpenFile twin with FILE_FLAG_OVERLAPPED"),
        }

    def fileno(self) -> int:
        raise UnsupportedError(
            "Queue.fileno() on Windows (an I/O completion port is not a descriptor that "
            "select() or another queue can poll)"
        )

    def prepare(self, wait_ns: int) -> int:
        """Under the engine lock, in the thread about to block: issue the AFD polls
        (prewait hooks) and record until when this waiter sleeps, so that a later
        change from another thread (a new timer, a trigger) knows to post a wake."""
        for hook in self.prewait:
            cap = hook()
            if cap >= 0:
                wait_ns = min(wait_ns, cap)
        if self.engine is not None and self.engine.ready:
            wait_ns = 0  # a hook's re-check found a knote ready: only gather, do not sleep
        now = time.monotonic_ns()
        timers = self.engine.timers if self.engine is not None else None
        if wait_ns > 0 and timers is not None and timers.heap and self.hires is not False:
            top = timers.heap[0].priv.deadline  # the indexed heap holds knotes (D45)
            if top - now <= wait_ns:  # this wait ends at a timer's deadline
                self._arm_hires(top, now)
        deadline = now + wait_ns
        with self.lock:
            if self.sleep_until < 0 or deadline < self.sleep_until:
                self.sleep_until = deadline
            self.blocked += 1
        return wait_ns

    def _arm_hires(self, due_ns: int, now: int) -> None:
        """Have a packet wake the port at ``due_ns`` (CLOCK_MONOTONIC), finer than the
        port's own timeout.

        Story: GetQueuedCompletionStatusEx's timeout is whole milliseconds and real
        Windows ends it on the system tick (15.6 ms by default), so a 1 ms timer could
        fire up to 16 ms late. A waitable timer made with
        CREATE_WAITABLE_TIMER_HIGH_RESOLUTION (Windows 10 1803+) fires within about
        0.5 ms, and a wait completion packet turns it into a packet on this port. The
        port timeout stays as the upper bound. Only with wait packets: through a helper
        thread (their fallback) each timer would cost a thread hop, and where packets
        are missing (Wine 8) the port timeout is precise already. Older Windows refuse
        the flag (ERROR_INVALID_PARAMETER): then the port timeout alone, as before.
        """
        if self.hires is None:
            from ._waits import HandleWait, duplicate, packets_available

            self.hires = False
            if not packets_available():
                return
            h = kernel32.CreateWaitableTimerExW(
                ffi.NULL, ffi.NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION, TIMER_ALL_ACCESS
            )
            if h == ffi.NULL:
                return
            try:
                self.hires_wait = HandleWait(
                    self, duplicate(h, "DuplicateHandle"), self._hires_fired
                )
            except OSError:
                kernel32.CloseHandle(h)
                return
            self.hires = h
        if due_ns == self.hires_due and self.hires_wait.armed:
            return  # already set for this deadline
        due = ffi.new("int64_t *", -max(1, (due_ns - now + 99) // 100))  # relative, 100 ns
        if not kernel32.SetWaitableTimer(self.hires, due, 0, ffi.NULL, ffi.NULL, 0):
            return
        self.hires_due = due_ns
        self.hires_wait.arm()

    def _hires_fired(self) -> None:
        self.hires_due = -1  # the wake is the point: the engine expires the timers

    def timer_mechanism(self) -> str:
        from ._waits import packets_available

        if packets_available():
            return (
                "a high-resolution waitable timer delivered by a wait packet, where "
                "Windows has CREATE_WAITABLE_TIMER_HIGH_RESOLUTION (10 1803+); the port "
                "timeout (whole ms, on the system tick) otherwise"
            )
        return "GetQueuedCompletionStatusEx timeout, ceil ms (no wait packets)"

    def wait(self, room: int, timeout_ns: int) -> Any:
        if self.closed:
            self._left()
            return None
        entries = self.pool.pop() if self.pool else ffi.new("OVERLAPPED_ENTRY[]", _ENTRIES)
        count = ffi.new("uint32_t *")
        # Story: round *up* to whole milliseconds (mio's duration_millis): a sub-ms wait
        # must not become a busy 0; an early return just loops in the engine.
        if timeout_ns < 0:
            # the engine's FOREVER stays the clamp here: prepare() recorded this wait as
            # ending then (sleep_until), and a timer added later from another thread
            # posts a wake only if it is due before that
            timeout_ns = MAX_WAIT_NS
        ms = min(math.ceil(timeout_ns / 1_000_000), _MAX_MS)
        try:
            ok = kernel32.GetQueuedCompletionStatusEx(self.port, entries, _ENTRIES, count, ms, 0)
            if not ok:
                code, _ = ffi.getwinerror()
                if code in (WAIT_TIMEOUT, _ERROR_ABANDONED_WAIT_0):
                    return None
                raise winerror("GetQueuedCompletionStatusEx", code)
            return [
                (
                    int(e.lpCompletionKey),
                    addr(e.lpOverlapped),
                    int(ffi.cast("int32_t", e.Internal)),
                    int(e.dwNumberOfBytesTransferred),
                )
                for e in entries[0 : count[0]]
            ]
        finally:
            self.pool.append(entries)
            self._left()

    def _left(self) -> None:
        with self.lock:
            self.blocked -= 1
            if not self.blocked:
                self.sleep_until = -1
            # Story: a completion packet wakes one thread, so close()'s one wake
            # (set_pending) reached one of several waiters, and the others slept out the
            # clamp (a day: found by test_two_waiters_are_counted_until_the_last_leaves).
            # A waiter that leaves a closed queue's wait passes a wake on to the next;
            # a packet posted before that one blocks is taken at its wait's start.
            elif not self.closed and self.engine is not None and self.engine.closed:
                kernel32.PostQueuedCompletionStatus(self.port, 0, KEY_WAKE, ffi.NULL)

    def translate(self, batch: Any, engine: Engine, out: list[KEvent], room: int) -> None:
        for key, address, status, nbytes in batch:
            if key == KEY_IO:
                op = self.ops.pop(address, None)
                if op is not None:
                    op.done(op, status, nbytes)
            elif key == KEY_POST:
                handler = self.posted.get(address)
                if handler is not None:
                    handler(nbytes)
            elif key == KEY_WAKE:
                with self.lock:
                    self.wake_posted = False

    def set_pending(self, on: bool) -> None:
        if on and self.blocked:
            self.wake()

    def arm_timer(self, deadline_ns: int) -> None:
        if deadline_ns >= 0 and self.blocked and deadline_ns < self.sleep_until:
            self.wake()

    def close(self) -> None:
        if self.closed:
            return
        # cancel what is still in flight, then drain: the kernel must be done with every
        # block before it may be freed
        for pending in list(self.ops.values()):
            if pending.handle is not None:
                kernel32.CancelIoEx(pending.handle, pending.ov)
        entries = ffi.new("OVERLAPPED_ENTRY[]", _ENTRIES)
        count = ffi.new("uint32_t *")
        deadline = time.monotonic() + _DRAIN_S
        while self.ops and time.monotonic() < deadline:
            if not kernel32.GetQueuedCompletionStatusEx(self.port, entries, _ENTRIES, count, 50, 0):
                continue
            for e in entries[0 : count[0]]:
                if int(e.lpCompletionKey) == KEY_IO:
                    op = self.ops.pop(addr(e.lpOverlapped), None)
                    if op is not None:
                        # lets a source unpin buffers; the knotes are gone already
                        with contextlib.suppress(Exception):
                            op.done(op, int(ffi.cast("int32_t", e.Internal)), 0)
        if self.ops:
            _LEAKED.extend(self.ops.values())
            self.ops.clear()
        if self.hires_wait is not None:
            self.hires_wait.close()
            kernel32.CloseHandle(self.hires)
            self.hires_wait = None
        with self.lock:
            self.closed = True
            kernel32.CloseHandle(self.port)
        self.posted.clear()
        self.prewait.clear()
        self.engine = None  # the engine refers to us: no cycle left for the collector (D52)
        LIVE.discard(self)

    def forget(self) -> None:
        self.close()  # no fork on Windows
