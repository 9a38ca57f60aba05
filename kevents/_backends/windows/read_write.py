"""EVFILT_READ and EVFILT_WRITE on Windows: sockets, woken through IOCTL_AFD_POLL.

Story (design note §1.1): AFD, the kernel driver under Winsock, answers a poll request
(IOCTL_AFD_POLL) as an ordinary overlapped I/O; issued on a private ``\\Device\\Afd``
handle associated with the queue's port, its completion is a packet on the port, and
the user's socket is never associated with our port (association is permanent and
exclusive: doing it to a user socket would break asyncio's proactor and a second
queue). This is what libuv, wepoll, mio, trio and tokio do; it works on Wine >= 6.11.

Shape here: the AFD poll is only the *wake-up*. A completion enqueues the socket's
knotes; the engine's scan then re-runs ``event``, which checks the socket
synchronously (a zero-timeout ``select()``, FIONREAD, and a MSG_PEEK probe when
select says "readable" with nothing buffered: 0 is the peer's FIN, an error is a
reset). So stale readiness is never reported (D12), ``data`` is exact, and a knote
that stays ready is kept on the engine's ready list (level-triggered) instead of
re-polling the kernel. A poll is armed, before each wait and from the waiting thread
only (wepoll #35), for the knotes that are enabled and not already queued.

Pitfalls handled:
* one poll per socket covering READ and WRITE: two polls on one socket in one port make
  Windows complete the wrong one (trio's afd-lab notes);
* AFD_POLL_CONNECT is sticky for the life of a connection: never asked for (mio PR
  #1112); RECEIVE_EXPEDITED (OOB) is not "readable" (trio PR #1269);
* AFD_POLL_LOCAL_CLOSE: the socket was closed: its knotes are dropped silently, as BSD
  does at close(); a closed socket also fails FIONREAD/select, which drops them too;
* the OVERLAPPED and AFD_POLL_INFO are one block owned by the backend's op registry
  until the packet is dequeued, even when the knotes are gone (cancelled with
  CancelIoEx; the cancellation packet still comes);
* AFD wants the *base* provider handle: SIO_BASE_HANDLE, and if a layered service
  provider (Komodia-style LSPs) makes it fail, SIO_BSP_HANDLE_SELECT then
  SIO_BSP_HANDLE_POLL (wepoll's chain; Wine 8 has SIO_BASE_HANDLE and no LSPs).

Edge-triggered EV_CLEAR and NOTE_LOWAT cannot be exact: AFD is level-only and Winsock
has neither SO_RCVLOWAT nor a receive-edge notification (smol-rs/polling refuses edge
mode for this reason). A knote whose condition is "ready but already reported" (CLEAR)
or "data below the low-water mark" would make a poll complete at once forever, so it is
*polled* instead: re-checked before every wait, and a blocking wait is cut into
``POLL_NS`` slices while such knotes exist (table rows "EV_CLEAR on sockets",
"READ NOTE_LOWAT").
"""

from __future__ import annotations

import errno
import select
import sys
from typing import TYPE_CHECKING, Any

from ..._event import Filter, Flag, NoteRW
from ..._knote import Knote
from .._contract import Source
from . import Op, handles
from ._ffi import (
    AFD_POLL_ABORT,
    AFD_POLL_ACCEPT,
    AFD_POLL_CONNECT_FAIL,
    AFD_POLL_DISCONNECT,
    AFD_POLL_LOCAL_CLOSE,
    AFD_POLL_RECEIVE,
    AFD_POLL_SEND,
    FILE_OPEN,
    FILE_SKIP_SET_EVENT_ON_HANDLE,
    FIONREAD,
    IOCTL_AFD_POLL,
    MSG_PEEK,
    SIO_BASE_HANDLE,
    SIO_BSP_HANDLE_POLL,
    SIO_BSP_HANDLE_SELECT,
    SO_ACCEPTCONN,
    SO_SNDBUF,
    SO_TYPE,
    SOCKET_ERROR,
    SOL_SOCKET,
    STATUS_CANCELLED,
    STATUS_PENDING,
    STATUS_SUCCESS,
    SYNCHRONIZE,
    WSAENOTSOCK,
    ffi,
    kernel32,
    ntdll,
    ntstatus_error,
    ws2_32,
)
from .handles import is_crt_fd, recheck

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

_READ_BITS = AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT | AFD_POLL_ABORT
_READ_BITS |= AFD_POLL_CONNECT_FAIL
_WRITE_BITS = AFD_POLL_SEND | AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL
_CLEAR = int(Flag.CLEAR)
_EOF = int(Flag.EOF)
_LOWAT = int(NoteRW.LOWAT)
_SOCK_STREAM = 1
_WSAECONNRESET = 10054
_WSAECONNREFUSED = 10061
_FOREVER = 0x7FFFFFFFFFFFFFFF
#: the slice of a blocking wait while CLEAR/LOWAT knotes are polled (see module story)
POLL_NS = 20_000_000


def _errno_of(winerr: int) -> int:
    """The errno Python gives a Winsock error (WSAECONNRESET -> errno.ECONNRESET)."""
    return OSError(0, "", None, winerr).errno or winerr


def _sockopt(sock: int, opt: int) -> int:
    val = ffi.new("int *")
    size = ffi.new("int *", 4)
    if ws2_32.getsockopt(sock, SOL_SOCKET, opt, ffi.cast("char *", val), size) == SOCKET_ERROR:
        return -1
    return int(val[0])


def base_socket(sock: int) -> int:
    """The base provider handle AFD must be given; OSError when ``sock`` is no socket.

    Story: an open CRT descriptor (file, pipe, console) is refused *before* any Winsock
    call. Small descriptor numbers are also valid kernel handle values (handles are
    multiples of 4), and Wine 8's wineserver aborts (``set_fd_events`` assertion) when
    Winsock calls are made on a pipe handle reached that way. Python's sockets are
    never CRT descriptors, and socket handle values are far above the descriptors in use.
    """
    if is_crt_fd(sock):
        raise OSError(
            errno.ENOTSUP, "READ/WRITE on Windows watch sockets only (this is a file descriptor)"
        )
    # Wine 8 answers SIO_BASE_HANDLE for any value, open or not; a socket option
    # query fails with WSAENOTSOCK for a value that is no open socket, everywhere.
    if _sockopt(sock, SO_TYPE) < 0:
        raise OSError(errno.EBADF, "not an open socket")
    out = ffi.new("uintptr_t *")
    n = ffi.new("uint32_t *")
    err = 0
    for code in (SIO_BASE_HANDLE, SIO_BSP_HANDLE_SELECT, SIO_BSP_HANDLE_POLL):
        r = ws2_32.WSAIoctl(sock, code, ffi.NULL, 0, out, 8, n, ffi.NULL, ffi.NULL)
        if r != SOCKET_ERROR:
            return int(out[0])
        err = int(ws2_32.WSAGetLastError())
        if err == WSAENOTSOCK:
            break
    if err == WSAENOTSOCK:
        raise OSError(errno.EBADF, "not an open socket")
    raise OSError(errno.EOPNOTSUPP, f"no base socket handle (layered provider?) [{err}]")


class _Sock:
    """One socket watched by this queue: its knotes and its one AFD poll."""

    __slots__ = (
        "abort",
        "base",
        "block",
        "dead",
        "eof",
        "err",
        "handle",
        "knotes",
        "listener",
        "mask",
        "op",
        "pending",
        "sndbuf",
        "stream",
    )

    def __init__(self, handle: int, base: int) -> None:
        self.handle = handle
        self.base = base
        self.knotes: dict[int, Knote] = {}
        self.block: Any = None
        self.op: Op | None = None
        self.pending = False
        self.mask = 0
        self.dead = False
        self.eof = False  # the peer's FIN was seen (sticky)
        self.abort = False  # reset or connect failure was seen (sticky)
        self.err = 0  # errno for fflags with EV_EOF
        self.listener = _sockopt(handle, SO_ACCEPTCONN) == 1
        self.stream = _sockopt(handle, SO_TYPE) == _SOCK_STREAM
        self.sndbuf = max(1, _sockopt(handle, SO_SNDBUF))


class _KnState:
    __slots__ = ("last", "sock")

    def __init__(self, sock: _Sock) -> None:
        self.sock = sock
        self.last: tuple[int, bool] | None = None  # EV_CLEAR: what was last reported


class Sockets:
    """The AFD side shared by the READ and WRITE sources of one queue."""

    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        self.engine = engine
        self.backend = backend
        self.afd: Any = None
        self.socks: dict[int, _Sock] = {}
        self.dirty: set[_Sock] = set()
        self.polled: set[Knote] = set()
        self.closed = False
        backend.prewait.append(self.flush)

    def _afd_handle(self) -> Any:
        """Open (once per queue) the AFD helper handle and associate it with the port.

        Story: NtCreateFile on ``\\Device\\Afd\\kevents``: the last component is an
        arbitrary label but must be present (piscisaureus, mio #1444); no synchronous
        I/O option, so the handle is asynchronous. FILE_SKIP_SET_EVENT_ON_HANDLE saves
        a kernel event signal per completion; FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is
        deliberately *not* set, so a poll that completes at once still queues its
        packet and there is one code path. One helper per queue (wepoll rotates every
        32 sockets because cancellation is O(n) per handle: a later refinement).
        """
        if self.afd is None:
            name = "\\Device\\Afd\\kevents"
            buf = ffi.new("uint16_t[]", [ord(c) for c in name])
            us = ffi.new("UNICODE_STRING *")
            us.Length = us.MaximumLength = 2 * len(name)
            us.Buffer = buf
            oa = ffi.new("OBJECT_ATTRIBUTES *")
            oa.Length = ffi.sizeof("OBJECT_ATTRIBUTES")
            oa.ObjectName = us
            iosb = ffi.new("IO_STATUS_BLOCK *")
            h = ffi.new("void **")
            status = ntdll.NtCreateFile(
                h, SYNCHRONIZE, oa, iosb, ffi.NULL, 0, 3, FILE_OPEN, 0, ffi.NULL, 0
            )
            if status != STATUS_SUCCESS:
                raise ntstatus_error(status, "NtCreateFile(\\Device\\Afd)")
            try:
                self.backend.associate(h[0], "CreateIoCompletionPort(AFD)")
            except OSError:
                kernel32.CloseHandle(h[0])
                raise
            kernel32.SetFileCompletionNotificationModes(h[0], FILE_SKIP_SET_EVENT_ON_HANDLE)
            self.afd = h[0]
        return self.afd

    # -- registration -----------------------------------------------------------------

    def attach(self, kn: Knote) -> None:
        afd = self._afd_handle()
        sock = self.socks.get(kn.ident)
        if sock is None or sock.base != kn.identity:
            if sock is not None:
                self._forget(sock)
            sock = _Sock(kn.ident, int(kn.identity))  # type: ignore[call-overload]
            sock.block = ffi.new("KEV_AFD_OP *")
            sock.op = Op(sock.block, ffi.addressof(sock.block, "ov"), afd, self._done)
            sock.op.keep = sock
            self.socks[kn.ident] = sock
        sock.knotes[kn.filter] = kn
        kn.priv = _KnState(sock)
        self._rearm(sock)

    def _rearm(self, sock: _Sock) -> None:
        """Have ``sock``'s poll (re)issued. Only the waiting thread issues polls (in
        prepare); a thread blocked in the port now would not see this change until its
        timeout, so it is woken to prepare again."""
        self.dirty.add(sock)
        if self.backend.blocked:
            self.backend.wake()

    def detach(self, kn: Knote) -> None:
        self.polled.discard(kn)
        st: _KnState = kn.priv
        sock = st.sock
        if sock.knotes.get(kn.filter) is kn:
            del sock.knotes[kn.filter]
        if not sock.knotes:
            self._forget(sock)

    def _forget(self, sock: _Sock) -> None:
        sock.dead = True
        self.dirty.discard(sock)
        if self.socks.get(sock.handle) is sock:
            del self.socks[sock.handle]
        if sock.pending and sock.op is not None:
            self.backend.cancel(sock.op)  # the block lives on in backend.ops until then
        elif sock.op is not None:
            sock.op.keep = None  # no packet to come: break the op <-> sock cycle (D52)

    def changed(self, kn: Knote) -> None:
        st: _KnState | None = kn.priv
        if st is not None and not st.sock.dead:
            self._rearm(st.sock)

    def drop_all(self, sock: _Sock) -> None:
        """The socket is gone (closed): drop its knotes silently, as BSD does at close."""
        for kn in list(sock.knotes.values()):
            self.engine.drop(kn)
        self._forget(sock)

    # -- arming (from the waiting thread, engine lock held) --------------------------------

    def flush(self) -> int:
        if self.polled:
            recheck(self.engine, self.polled)
        if self.dirty:
            dirty = list(self.dirty)
            self.dirty.clear()
            for sock in dirty:
                if not sock.dead:
                    self._arm(sock)
        return POLL_NS if self.polled else -1

    def _arm(self, sock: _Sock) -> None:
        mask = 0
        for kn in sock.knotes.values():
            if not kn.alive or kn.disabled:
                continue
            if not kn.queued and kn not in self.polled:
                if kn.filter == Filter.READ:
                    mask |= _READ_BITS
                elif not sock.listener:
                    mask |= _WRITE_BITS
            elif sock.stream and not sock.listener:
                # Story: a knote kept ready (buffered data) must still learn of the
                # peer's FIN or a reset, which select() cannot tell while data is
                # buffered; these bits are sticky, so ask only until first seen.
                if not sock.eof:
                    mask |= AFD_POLL_DISCONNECT
                if not sock.abort:
                    mask |= AFD_POLL_ABORT
        if sock.pending:
            if mask & ~sock.mask:  # the poll in flight misses a bit: replace it
                self.backend.cancel(sock.op)  # type: ignore[arg-type]
            return  # its completion re-arms (dirty again)
        if not mask:
            return
        op = sock.op
        assert op is not None
        info = sock.block.info
        info.Timeout = _FOREVER
        info.NumberOfHandles = 1
        info.Exclusive = 0
        info.Handles[0].Handle = ffi.cast("void *", sock.base)
        info.Handles[0].Events = mask | AFD_POLL_LOCAL_CLOSE
        info.Handles[0].Status = 0
        sock.block.ov.Internal = 0
        sock.block.ov.InternalHigh = 0
        self.backend.start(op)
        # Story: the OVERLAPPED doubles as the IO_STATUS_BLOCK (its first 16 bytes) and
        # its address is the ApcContext, which comes back as OVERLAPPED_ENTRY
        # .lpOverlapped: exactly what DeviceIoControl does internally.
        size = ffi.sizeof("AFD_POLL_INFO")
        status = ntdll.NtDeviceIoControlFile(
            op.handle,
            ffi.NULL,
            ffi.NULL,
            op.ov,
            ffi.cast("IO_STATUS_BLOCK *", op.ov),
            IOCTL_AFD_POLL,
            ffi.addressof(sock.block, "info"),
            size,
            ffi.addressof(sock.block, "info"),
            size,
        )
        if status in (STATUS_PENDING, STATUS_SUCCESS):  # SUCCESS: a packet is queued too
            sock.pending = True
            sock.mask = mask
            return
        self.backend.unstart(op)
        self.drop_all(sock)  # STATUS_INVALID_HANDLE: the socket was closed

    def _done(self, op: Op, status: int, nbytes: int) -> None:
        sock: _Sock = op.keep
        sock.pending = False
        if sock.dead or self.closed:
            op.keep = None  # the last packet of a forgotten socket: no cycle left (D52)
            return
        if status == STATUS_CANCELLED:
            self.dirty.add(sock)
            return
        if status < 0:
            self.drop_all(sock)
            return
        info = sock.block.info
        events = int(info.Handles[0].Events) if info.NumberOfHandles else 0
        if events & AFD_POLL_LOCAL_CLOSE:
            self.drop_all(sock)
            return
        if events & AFD_POLL_DISCONNECT:
            sock.eof = True
        if events & (AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL):
            # Story: never getsockopt(SO_ERROR) here: reading it clears it, and the
            # program reads it after the event (the connect idiom, D39). AFD reports the
            # failure's NTSTATUS in the handle entry; without one, the usual error.
            sock.abort = True
            st = int(info.Handles[0].Status)
            if st < 0:
                sock.err = ntstatus_error(st).errno or sock.err
            if not sock.err:
                sock.err = _errno_of(
                    _WSAECONNREFUSED if events & AFD_POLL_CONNECT_FAIL else _WSAECONNRESET
                )
        for kn in sock.knotes.values():
            self.engine.enqueue(kn)
        self.dirty.add(sock)

    # -- evaluation (engine lock held) --------------------------------------------------------

    def probe(self, sock: _Sock) -> tuple[bool, bool, bool] | None:
        """(readable, writable, exceptional) now; None when the socket is gone."""
        h = sock.handle
        try:
            r, w, x = select.select([h], [h], [h], 0)
        except (OSError, ValueError):
            return None
        return bool(r), bool(w), bool(x)

    def nread(self, sock: _Sock) -> int:
        n = ffi.new("uint32_t *")
        if ws2_32.ioctlsocket(sock.handle, FIONREAD, n) == SOCKET_ERROR:
            return -1
        return int(n[0])

    def peek_eof(self, sock: _Sock) -> None:
        """select said readable with nothing buffered: FIN (recv gives 0) or an error."""
        buf = ffi.new("char[1]")
        r = ws2_32.recv(sock.handle, buf, 1, MSG_PEEK)
        if r == 0:
            sock.eof = True
        elif r == SOCKET_ERROR:
            code = int(ws2_32.WSAGetLastError())
            if code != 10035:  # WSAEWOULDBLOCK: not ready after all
                sock.eof = sock.abort = True
                sock.err = sock.err or _errno_of(code)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in list(self.socks.values()):
            self._forget(sock)
        self.polled.clear()
        if self.afd is not None:
            kernel32.CloseHandle(self.afd)  # cancels what is left; packets drain in close
            self.afd = None


class _SocketSource(Source):
    fd_based = True
    userspace = True

    def __init__(
        self, engine: Engine, backend: IocpBackend, sockets: Sockets, other: Source
    ) -> None:
        super().__init__(engine)
        self.backend = backend
        self.sockets = sockets
        self.handle_source = other  # the same filter on descriptors that are no sockets

    def identify(self, ident: int) -> object:
        if is_crt_fd(ident):  # before any Winsock call: see base_socket
            return handles.identify(ident)
        return base_socket(ident)

    def attach(self, kn: Knote) -> None:
        if isinstance(kn.identity, handles.HandleId):
            kn.source = self.handle_source  # a pipe, file or console (handles.py)
            kn.source.attach(kn)
            return
        self.check_fflags(kn.sfflags)
        self.sockets.attach(kn)

    def check_fflags(self, fflags: int) -> None:
        pass

    def detach(self, kn: Knote) -> None:
        if kn.priv is not None:
            self.sockets.detach(kn)

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        self.check_fflags(fflags)
        kn.sfflags, kn.sdata = fflags, data
        self.sockets.polled.discard(kn)
        self.sockets.changed(kn)

    def enable(self, kn: Knote) -> None:
        sock: _Sock = kn.priv.sock
        if all(other.disabled for other in sock.knotes.values() if other is not kn):
            # Story: with every knote of the socket disabled, no poll watched it, so
            # its sticky FIN/reset state may be stale, and the handle may even name a
            # new socket now: Windows reuses handle values, and an unpolled socket's
            # close is never seen (no AFD_POLL_LOCAL_CLOSE). A trio wait_kevent on a
            # new socket under the old number got the old one's EV_EOF (under load in
            # Wine, half the runs). So the state is learnt again: select and MSG_PEEK
            # at the next scan, and the poll armed now, which AFD completes at once
            # with DISCONNECT or ABORT while they hold.
            sock.eof = sock.abort = False
            sock.err = 0
        self.sockets.changed(kn)

    def disable(self, kn: Knote) -> None:
        self.sockets.polled.discard(kn)
        self.sockets.changed(kn)

    def clear(self, kn: Knote) -> None:
        kn.priv.last = (kn.data, bool(kn.oflags & _EOF))
        kn.fflags = kn.data = 0
        self.sockets.changed(kn)

    def event(self, kn: Knote) -> bool:
        st: _KnState = kn.priv
        sock = st.sock
        if sock.dead:
            return False
        probe = self.sockets.probe(sock)
        if probe is None:
            self.sockets.drop_all(sock)  # closed under the knote: BSD dropped it then
            return False
        ready, data, eof, saturated = self.evaluate(kn, sock, *probe)
        kn.oflags = _EOF if eof else 0
        kn.fflags = sock.err if eof else 0
        kn.data = data
        if ready and kn.flags & _CLEAR and st.last is not None:
            if (data, eof) == st.last:  # nothing new since the last report
                ready = False
                saturated = True
            elif data < st.last[0] and eof == st.last[1]:
                st.last = (data, eof)  # the reader consumed some: a new baseline
                ready = False
                saturated = True
        if not ready:
            if not (data or eof):
                st.last = None
            if saturated:
                self.sockets.polled.add(kn)
            else:
                self.sockets.polled.discard(kn)
            self.sockets.changed(kn)
            return False
        self.sockets.polled.discard(kn)
        return True

    def evaluate(
        self, kn: Knote, sock: _Sock, r: bool, w: bool, x: bool
    ) -> tuple[bool, int, bool, bool]:
        """(ready, data, eof, saturated): saturated = not ready, yet a poll would fire."""
        raise NotImplementedError


class ReadSource(_SocketSource):
    filter = Filter.READ

    def evaluate(
        self, kn: Knote, sock: _Sock, r: bool, w: bool, x: bool
    ) -> tuple[bool, int, bool, bool]:
        if sock.listener:
            return r, 1 if r else 0, False, False  # Windows cannot count the backlog
        n = self.sockets.nread(sock)
        if n < 0:
            return False, 0, False, False
        if x and not sock.abort:
            sock.abort = True  # a failed connect; its error comes with the AFD packet
        if sock.stream and r and n == 0 and not (sock.eof or sock.abort):
            self.sockets.peek_eof(sock)
        eof = sock.stream and (sock.eof or sock.abort)
        ready = (n > 0 or eof) if sock.stream else (r or n > 0)
        if ready and not eof and kn.sfflags & _LOWAT and n < max(1, kn.sdata):
            return False, n, False, True
        return ready, n, eof, False


class WriteSource(_SocketSource):
    filter = Filter.WRITE

    def check_fflags(self, fflags: int) -> None:
        if fflags & _LOWAT:
            raise OSError(errno.ENOTSUP, "NOTE_LOWAT on WRITE: Winsock has no SO_SNDLOWAT")

    def evaluate(
        self, kn: Knote, sock: _Sock, r: bool, w: bool, x: bool
    ) -> tuple[bool, int, bool, bool]:
        if sock.listener:
            return False, 0, False, False  # a listener is never writable (C-47)
        if x and not sock.abort:
            sock.abort = True  # a failed connect; its error comes with the AFD packet
        eof = sock.abort
        return w or eof, sock.sndbuf, eof, False
