"""EVFILT_READ and EVFILT_WRITE on Windows descriptors that are not sockets: pipes
(anonymous and named), console input, regular files and character devices.

The ident is a CRT descriptor (``os.pipe()``, ``subprocess.PIPE``'s ``.fileno()``,
``open()``, ``sys.stdin``); its handle (``msvcrt.get_osfhandle``) and the handle's kind
are its identity, so a descriptor closed and reopened on another object is a new knote
(D13). As everywhere on this backend the wake-up only enqueues; ``event`` re-checks the
object at copy-out, so ``data`` is exact and stale readiness is never reported.

What each kind is and how it wakes the port:

* regular file: BSD's vnode semantics (spec §5.1, D14, D15): READ is ready while the
  offset differs from the size, ``data = size - offset`` (negative past EOF); WRITE is
  always ready with ``data`` 0. A file at EOF is re-checked every ``POLL_NS`` (Linux has
  inotify for this; ReadDirectoryChangesW reports size changes only at the cache flush
  on real Windows, so a re-check is both simpler and more prompt there);
* character device (NUL, a console screen buffer, a serial port): always ready, ``data``
  0, as poll(2) says of such devices on Linux;
* console input: waitable (signalled while input records are queued), so a
  :class:`~._waits.HandleWait` on a duplicate of the handle wakes the port, no thread
  per console; ``data`` is the number of input records
  (GetNumberOfConsoleInputEvents), which counts key-up, mouse and focus records too;
* pipe, READ: ``data`` is PeekNamedPipe's byte count; EV_EOF when the other end is gone
  (ERROR_BROKEN_PIPE; any other PeekNamedPipe failure, e.g. a server end with no client,
  is also EOF, as a FIFO without writers is on BSD; with data left, the pipe's state is
  FILE_PIPE_CLOSING_STATE). The wake-up is a *zero-byte read*,
  which completes when data arrives or the writer closes and consumes nothing (libuv's
  trick). It is issued on kevents' own duplicate of the handle, so the program's
  handle and its close are untouched:

  - a pipe opened overlapped (FILE_FLAG_OVERLAPPED: asyncio's pipes, a named pipe
    made so): an overlapped zero-byte ReadFile whose event has its low bit set (so no
    packet goes to a completion port the program may have associated the handle
    with), and a HandleWait on that event: no thread;
  - an anonymous pipe (os.pipe, subprocess: CreatePipe, which cannot be overlapped):
    Windows offers no asynchronous wait on such a handle, so a helper thread per knote
    blocks in a synchronous zero-byte ReadFile and posts to the port when it returns
    (table row "READ on anonymous pipes"). It is cancelled with CancelSynchronousIo.
    Pitfall (real Windows): I/O on a synchronous handle is serialised per file object,
    so PeekNamedPipe would block behind our own pending read: ``event`` never peeks
    while the read is pending (the pipe is then known to be empty);

* pipe, WRITE: NtQueryInformationFile(FilePipeLocalInformation): ``data`` is
  WriteQuotaAvailable, EV_EOF when the pipe is no longer connected (the reader closed).
  A full pipe is re-checked every ``POLL_NS`` (no wake-up exists for "space freed").
  Wine 8 always reports a WriteQuotaAvailable of 0: there the pipe counts as writable
  with ``data`` = its buffer size (table row).

EV_CLEAR cannot be an edge where the wake-up is level (a zero-byte read on a pipe that
holds data completes at once): as for sockets, a knote whose data was reported is then
re-checked every ``POLL_NS`` and reports again when ``data`` grows or EOF appears.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from ..._event import Filter, Flag, NoteRW
from ..._knote import Knote
from .._contract import Source
from ._ffi import (
    ERROR_IO_PENDING,
    FILE_MODE_INFORMATION,
    FILE_PIPE_CONNECTED_STATE,
    FILE_PIPE_LOCAL_INFORMATION,
    FILE_SYNCHRONOUS_IO_ALERT,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_TYPE_CHAR,
    FILE_TYPE_DISK,
    FILE_TYPE_PIPE,
    STATUS_PENDING,
    THREAD_TERMINATE,
    ffi,
    kernel32,
    ntdll,
    optional,
    winerror,
)
from ._waits import HandleWait, duplicate

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING

FILE, CHAR, CONSOLE, PIPE_SYNC, PIPE_ASYNC = range(5)
_PIPES = (PIPE_SYNC, PIPE_ASYNC)
_CLEAR = int(Flag.CLEAR)
_EOF = int(Flag.EOF)
_LOWAT = int(NoteRW.LOWAT)
#: the re-check period of files at EOF, full pipes and reported EV_CLEAR knotes
POLL_NS = 20_000_000
_CANCEL_TRIES = 100  # CancelSynchronousIo retries (10 ms apart) before a reader is left
#: Wine 8's FilePipeLocalInformation has WriteQuotaAvailable 0 always (see the story)
_WINE = optional(ntdll, "wine_get_version") is not None

#: blocks an overlapped read may still write into when it could not be cancelled
_LEAKED: list[Any] = []


class HandleId(NamedTuple):
    """The identity of a non-socket descriptor: its handle's kind and value."""

    kind: int
    handle: int


def _osfhandle(fd: int) -> int:
    import msvcrt

    return int(msvcrt.get_osfhandle(fd))  # type: ignore[attr-defined,unused-ignore]


def is_crt_fd(fd: int) -> bool:
    try:
        _osfhandle(fd)
    except (OSError, OverflowError):
        return False
    return True


def identify(fd: int) -> HandleId:
    """Classify the handle behind CRT descriptor ``fd`` (OSError EBADF when not open)."""
    h = _osfhandle(fd)
    hp = ffi.cast("void *", h)
    ftype = kernel32.GetFileType(hp)
    if ftype == FILE_TYPE_DISK:
        return HandleId(FILE, h)
    if ftype == FILE_TYPE_CHAR:
        n = ffi.new("uint32_t *")
        console = kernel32.GetConsoleMode(hp, n) and kernel32.GetNumberOfConsoleInputEvents(hp, n)
        return HandleId(CONSOLE if console else CHAR, h)
    if ftype == FILE_TYPE_PIPE:
        return HandleId(PIPE_SYNC if _synchronous(hp) else PIPE_ASYNC, h)
    raise OSError(errno.ENOTSUP, "READ/WRITE: a handle of unknown type")


def _synchronous(h: Any) -> bool:
    """Whether ``h`` was opened for synchronous I/O (FileModeInformation)."""
    iosb = ffi.new("IO_STATUS_BLOCK *")
    mode = ffi.new("uint32_t *")
    if ntdll.NtQueryInformationFile(h, iosb, mode, 4, FILE_MODE_INFORMATION) != 0:
        return True  # cannot tell: never issue overlapped I/O on it
    return bool(mode[0] & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT))


def _peek(h: Any) -> int:
    """Bytes readable from pipe ``h``, or -1 when the pipe has no writer (or failed)."""
    avail = ffi.new("uint32_t *")
    if not kernel32.PeekNamedPipe(h, ffi.NULL, 0, ffi.NULL, avail, ffi.NULL):
        return -1
    return int(avail[0])


def _pipe_info(h: Any) -> Any:
    """FilePipeLocalInformation of pipe ``h``, or None when the pipe is not connected
    (the other end closed: FILE_PIPE_CLOSING_STATE) or the query failed."""
    iosb = ffi.new("IO_STATUS_BLOCK *")
    info = ffi.new("FILE_PIPE_LOCAL_INFORMATION *")
    size = ffi.sizeof("FILE_PIPE_LOCAL_INFORMATION")
    st = ntdll.NtQueryInformationFile(h, iosb, info, size, FILE_PIPE_LOCAL_INFORMATION)
    if st != 0 or info.NamedPipeState != FILE_PIPE_CONNECTED_STATE:
        return None
    return info


def _write_space(h: Any) -> int:
    """Free bytes in pipe ``h``'s outbound buffer, or -1 when it is not connected."""
    info = _pipe_info(h)
    if info is None:
        return -1
    if _WINE and info.WriteQuotaAvailable == 0:
        return int(info.OutboundQuota)
    return int(info.WriteQuotaAvailable)


# -- the wake-ups of pipe readers ------------------------------------------------------------


class _ThreadReader(threading.Thread):
    """A synchronous pipe: a thread blocked in a zero-byte ReadFile on our duplicate."""

    def __init__(self, backend: IocpBackend, handle: Any, token: int) -> None:
        super().__init__(name="kevents-pipe-read", daemon=True)
        self.backend = backend
        self.handle = handle
        self.token = token
        self.go = threading.Event()
        self.lock = threading.Lock()
        self.reading = False
        self.stop = False
        self.start()
        self.thread = kernel32.OpenThread(THREAD_TERMINATE, 0, self.native_id or 0)

    def pending(self) -> bool:
        with self.lock:
            return self.reading

    def read(self) -> None:
        """Start a zero-byte read (its return posts the token); no-op while one runs."""
        with self.lock:
            if self.reading or self.stop:
                return
            self.reading = True
        self.go.set()

    def run(self) -> None:
        n = ffi.new("uint32_t *")
        try:
            while True:
                self.go.wait()
                self.go.clear()
                with self.lock:
                    if self.stop:
                        return
                kernel32.ReadFile(self.handle, ffi.NULL, 0, n, ffi.NULL)
                with self.lock:
                    self.reading = False
                    if self.stop:
                        return
                self.backend.post(self.token)
        finally:
            kernel32.CloseHandle(self.handle)

    def close(self) -> None:
        with self.lock:
            self.stop = True
            reading = self.reading
        self.go.set()
        if self.thread == ffi.NULL:
            return
        if reading:
            # Story: CancelSynchronousIo only cancels a read already issued; the thread
            # may be between its stop check and ReadFile, so retry until it has left. A
            # thread that never leaves (the OS refused the cancel) ends at the next
            # write or close of the pipe's other end and closes its handle then.
            for _ in range(_CANCEL_TRIES):
                kernel32.CancelSynchronousIo(self.thread)
                self.join(0.01)
                if not self.is_alive():
                    break
        # not reading: the thread sees ``stop`` and leaves by itself; either way the
        # thread handle from OpenThread is ours to close (it was leaked when idle)
        kernel32.CloseHandle(self.thread)
        self.thread = ffi.NULL


class _OverlappedReader:
    """An overlapped pipe: a zero-byte overlapped ReadFile, its event waited on."""

    def __init__(self, backend: IocpBackend, handle: Any, on_done: Any) -> None:
        self.handle = handle
        self.event = kernel32.CreateEventW(ffi.NULL, 1, 0, ffi.NULL)
        if self.event == ffi.NULL:
            raise winerror("CreateEventW")
        self.ov = ffi.new("OVERLAPPED *")
        self.inflight = False

        def done() -> None:
            self.inflight = False
            on_done()

        try:
            self.wait = HandleWait(backend, duplicate(self.event, "DuplicateHandle"), done)
        except BaseException:
            kernel32.CloseHandle(self.event)
            raise

    def pending(self) -> bool:
        return self.inflight

    def read(self) -> bool:
        """Start a zero-byte read; False when it failed at once (EOF: re-check now)."""
        if self.inflight:
            return True
        kernel32.ResetEvent(self.event)
        ov = self.ov
        ov.Internal = ov.InternalHigh = ov.Offset = ov.OffsetHigh = 0
        # the low bit: no completion packet to a port the program associated the pipe with
        ov.hEvent = ffi.cast("void *", int(ffi.cast("uintptr_t", self.event)) | 1)
        n = ffi.new("uint32_t *")
        ok = kernel32.ReadFile(self.handle, ffi.NULL, 0, n, ov)
        if not ok and ffi.getwinerror()[0] != ERROR_IO_PENDING:
            return False
        self.inflight = True
        self.wait.arm()
        return True

    def close(self) -> None:
        if int(ffi.cast("int32_t", self.ov.Internal)) == STATUS_PENDING and self.inflight:
            kernel32.CancelIoEx(self.handle, self.ov)
            kernel32.WaitForSingleObject(self.event, 1000)
            if int(ffi.cast("int32_t", self.ov.Internal)) == STATUS_PENDING:
                _LEAKED.append(self.ov)  # the kernel may still write into it
        self.wait.close()
        kernel32.CloseHandle(self.event)
        kernel32.CloseHandle(self.handle)


# -- the sources ----------------------------------------------------------------------------


class _State:
    __slots__ = ("h", "id", "last", "reader", "wait")

    def __init__(self, hid: HandleId) -> None:
        self.id = hid
        self.h = ffi.cast("void *", hid.handle)
        self.reader: _ThreadReader | _OverlappedReader | None = None
        self.wait: HandleWait | None = None  # console input
        self.last: tuple[int, bool] | None = None  # EV_CLEAR: what was last reported


class Handles:
    """What the READ and WRITE handle sources of one queue share: the re-check set."""

    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        self.engine = engine
        self.backend = backend
        self.polled: set[Knote] = set()
        backend.prewait.append(self.flush)

    def flush(self) -> int:
        """Before each wait (engine lock held): re-check the polled knotes."""
        recheck(self.engine, self.polled)
        return POLL_NS if self.polled else -1


def recheck(engine: Engine, polled: set[Knote]) -> None:
    """Re-run ``event`` for knotes that have no wake-up; queue those now ready."""
    for kn in list(polled):
        if not kn.alive or kn.disabled or kn.queued:
            polled.discard(kn)
        elif kn.source.event(kn):
            polled.discard(kn)
            engine.enqueue(kn)


class _HandleSource(Source):
    fd_based = True
    userspace = True

    def __init__(self, engine: Engine, backend: IocpBackend, handles: Handles) -> None:
        super().__init__(engine)
        self.backend = backend
        self.handles = handles

    def identify(self, ident: int) -> object:
        return identify(ident)

    def attach(self, kn: Knote) -> None:
        self.check_fflags(kn.sfflags)
        kn.priv = _State(kn.identity)  # type: ignore[arg-type]

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        self.check_fflags(fflags)  # refused before anything changes (D3)
        super().touch(kn, fflags, data, flags)

    def check_fflags(self, fflags: int) -> None:
        """NOTE_LOWAT is a socket's: a pipe, file or console refuses it on every change,
        as the Linux READ source does (WRITE: no SO_SNDLOWAT anywhere, D34)."""
        if fflags & _LOWAT:
            if self.filter == Filter.WRITE:
                raise OSError(errno.ENOTSUP, "NOTE_LOWAT on WRITE: Windows has no SO_SNDLOWAT")
            raise OSError(errno.EINVAL, "NOTE_LOWAT needs a socket")

    def detach(self, kn: Knote) -> None:
        self.handles.polled.discard(kn)
        st: _State | None = kn.priv
        if st is None:
            return
        kn.priv = None
        if st.reader is not None:
            st.reader.close()
        if st.wait is not None:
            st.wait.close()

    def disable(self, kn: Knote) -> None:
        self.handles.polled.discard(kn)

    def clear(self, kn: Knote) -> None:
        st: _State = kn.priv
        st.last = (kn.data, bool(kn.oflags & _EOF))
        kn.fflags = kn.data = 0
        if self.changes(st):
            self.handles.polled.add(kn)  # the wake-up is level: re-check for growth instead

    def changes(self, st: _State) -> bool:
        """Whether this kind's (data, eof) can change at all (else nothing to re-check)."""
        return st.id.kind != CHAR

    def event(self, kn: Knote) -> bool:
        st: _State = kn.priv
        try:
            same = _osfhandle(kn.ident) == st.id.handle
        except OSError:
            same = False
        if not same:  # closed (or reused) under the knote: BSD dropped it at close
            self.engine.drop(kn)
            return False
        self.handles.polled.discard(kn)
        got = self.evaluate(kn, st)
        if got is None:  # not ready; the wake-up (or a re-check) is armed
            st.last = None
            return False
        data, eof = got
        kn.oflags = _EOF if eof else 0
        kn.data = data
        last = st.last
        if (
            kn.flags & _CLEAR
            and last is not None
            and ((data, eof) == last or (data < last[0] and eof == last[1]))
        ):
            st.last = (data, eof)  # nothing new, or some consumed: the new baseline
            self.handles.polled.add(kn)
            return False
        return True

    def poll_later(self, kn: Knote) -> None:
        self.handles.polled.add(kn)

    def evaluate(self, kn: Knote, st: _State) -> tuple[int, bool] | None:
        """(data, eof) when ready; None after arming the wake-up (or the re-check)."""
        raise NotImplementedError


class HandleReadSource(_HandleSource):
    filter = Filter.READ

    def _wake(self, kn: Knote) -> None:
        if kn.alive:
            self.engine.enqueue(kn)

    def evaluate(self, kn: Knote, st: _State) -> tuple[int, bool] | None:
        kind = st.id.kind
        if kind == CHAR:
            return 0, False
        if kind == FILE:
            size = ffi.new("int64_t *")
            try:
                offset = os.lseek(kn.ident, 0, os.SEEK_CUR)
            except OSError:
                offset = 0
            data = int(size[0]) - offset if kernel32.GetFileSizeEx(st.h, size) else 0
            if data == 0:
                self.poll_later(kn)
                return None
            return data, False
        if kind == CONSOLE:
            n = ffi.new("uint32_t *")
            if not kernel32.GetNumberOfConsoleInputEvents(st.h, n):
                return 0, True  # the console went away
            if n[0]:
                return int(n[0]), False
            if st.wait is None:
                dup = duplicate(st.h, "DuplicateHandle(console)")
                st.wait = HandleWait(self.backend, dup, lambda: self._wake(kn))
            st.wait.arm()
            return None
        # a pipe
        if st.reader is None:
            dup = duplicate(st.h, "DuplicateHandle(pipe)")
            try:
                if kind == PIPE_SYNC:
                    token = self.backend.new_token(lambda nbytes: self._wake(kn))
                    st.reader = _ThreadReader(self.backend, dup, token)
                else:
                    st.reader = _OverlappedReader(self.backend, dup, lambda: self._wake(kn))
            except BaseException:
                if st.reader is None:
                    kernel32.CloseHandle(dup)
                raise
        if st.reader.pending():
            return None  # a zero-byte read is waiting: the pipe is empty (see the story)
        n = _peek(st.h)
        if n < 0:
            return 0, True
        if n > 0:  # BSD sets EV_EOF with data left once the writer is gone
            return n, _pipe_info(st.h) is None
        if isinstance(st.reader, _OverlappedReader):
            if not st.reader.read():
                self.engine.enqueue(kn)  # failed at once: the writer is gone, look again
        else:
            st.reader.read()
        return None

    def detach(self, kn: Knote) -> None:
        st: _State | None = kn.priv
        if st is not None and isinstance(st.reader, _ThreadReader):
            self.backend.posted.pop(st.reader.token, None)
        super().detach(kn)


class HandleWriteSource(_HandleSource):
    filter = Filter.WRITE

    def changes(self, st: _State) -> bool:
        return st.id.kind in _PIPES  # files and devices: always (0, no EOF)

    def evaluate(self, kn: Knote, st: _State) -> tuple[int, bool] | None:
        if st.id.kind not in _PIPES:
            return 0, False  # files and character devices: always writable, data 0
        space = _write_space(st.h)
        if space < 0:
            return 0, True
        if space == 0:
            self.poll_later(kn)
            return None
        return space, False
