"""EVFILT_AIO on Windows: overlapped ReadFile/WriteFile completing on the queue's port.

Story (design note §1.7): I/O only completes on a port for a handle opened with
FILE_FLAG_OVERLAPPED, and Python's files are not. ``ReOpenFile`` (Vista+) gives a
private overlapped *twin* of the caller's handle (same file, own mode); the twin, never
the caller's handle, is associated with the port, because association is permanent and
exclusive per handle. Twins are cached per descriptor and identity-checked against the
current OS handle of that descriptor at each request (descriptor numbers are reused).

Overlapped handles have no file pointer: the offset goes in OVERLAPPED.Offset/OffsetHigh.
A call that returns TRUE (cache hits, extending NTFS writes...) still queues a packet,
because FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is not set: one code path. A call that
fails with anything but ERROR_IO_PENDING queues nothing and completes the request at
once. End of file arrives either so (ERROR_HANDLE_EOF) or, as Wine 8 does, as a packet
with STATUS_END_OF_FILE: both are a 0-byte read, as on BSD.

The OVERLAPPED and the pinned buffer (``ffi.from_buffer`` over a memoryview export, so a
bytearray cannot be resized meanwhile) belong to the backend's op registry until the
packet is dequeued, even after EV_DELETE (CancelIoEx only *asks*) or close (which
cancels and drains the port). FlushFileBuffers has no overlapped form: fsync runs on a
helper thread that posts its result to the port.
"""

from __future__ import annotations

import concurrent.futures
import errno
import sys
from typing import TYPE_CHECKING, Any

from ... import _aio
from ..._aio import Request, finish
from ..._knote import Knote
from . import Op
from ._ffi import (
    ERROR_HANDLE_EOF,
    ERROR_IO_PENDING,
    FILE_FLAG_OVERLAPPED,
    FILE_SHARE_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    INVALID_HANDLE_VALUE,
    STATUS_CANCELLED,
    STATUS_END_OF_FILE,
    ffi,
    kernel32,
    ntdll,
    ntstatus_error,
    winerror,
)

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import IocpBackend

assert sys.platform == "win32" or TYPE_CHECKING


#: FILE_READ_DATA, and FILE_WRITE_DATA | FILE_APPEND_DATA, in a handle's access mask
_READ_DATA = 0x0001
_WRITE_DATA = 0x0002 | 0x0004
_OBJECT_BASIC_INFORMATION = 0  # PUBLIC_OBJECT_BASIC_INFORMATION: Attributes, GrantedAccess


def _access_of(handle: Any) -> int:
    """GENERIC_READ/GENERIC_WRITE as ``handle`` was granted them.

    Story: ReOpenFile checks the new access against the file's ACL and sharing, not
    against the handle it starts from, so a twin opened read-write from a read-only
    descriptor could write where the descriptor cannot (an aio_write on an O_RDONLY fd
    succeeded). The handle's granted access comes from NtQueryObject (documented in
    winternl.h; implemented by Wine 8).
    """
    info = ffi.new("uint32_t[14]")  # 56 bytes: Attributes, GrantedAccess, counts...
    status = ntdll.NtQueryObject(handle, _OBJECT_BASIC_INFORMATION, info, 56, ffi.NULL)
    if status < 0:
        raise ntstatus_error(status, "NtQueryObject")
    granted = int(info[1])
    access = (GENERIC_READ if granted & _READ_DATA else 0) | (
        GENERIC_WRITE if granted & _WRITE_DATA else 0
    )
    if not access:
        raise OSError(errno.EBADF, "the descriptor can neither read nor write")
    return access


def _os_handle(fd: int) -> int:
    import msvcrt

    try:
        return int(msvcrt.get_osfhandle(fd))  # type: ignore[attr-defined,unused-ignore]
    except OSError as exc:
        raise OSError(errno.EBADF, "bad file descriptor") from exc


class AioSource(_aio.AioSource):
    def __init__(self, engine: Engine, backend: IocpBackend) -> None:
        super().__init__(engine)
        self.backend = backend
        self.inflight: dict[int, tuple[Knote, Op | None]] = {}
        #: fd -> (the OS handle it had, its overlapped twin)
        self.twins: dict[int, tuple[int, Any]] = {}
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None

    def detach(self, kn: Knote) -> None:
        entry = self.inflight.pop(kn.ident, None)
        if entry is None:
            return
        req: Request = kn.priv
        req.orphan = True
        _, op = entry
        if op is not None:
            self.backend.cancel(op)  # the packet still comes; it unpins
        elif req.future is not None and req.future.cancel():
            req.unpin()

    def _twin(self, fd: int) -> Any:
        """The overlapped twin of ``fd``'s handle, with no more access than ``fd`` has."""
        handle = _os_handle(fd)
        cached = self.twins.get(fd)
        if cached is not None:
            if cached[0] == handle:
                return cached[1]
            kernel32.CloseHandle(cached[1])  # the descriptor now names another file
            del self.twins[fd]
        src = ffi.cast("void *", handle)
        twin = kernel32.ReOpenFile(src, _access_of(src), FILE_SHARE_ALL, FILE_FLAG_OVERLAPPED)
        if twin == INVALID_HANDLE_VALUE or twin == ffi.NULL:
            raise winerror("ReOpenFile")
        try:
            self.backend.associate(twin, "CreateIoCompletionPort(AIO twin)")
        except OSError:
            kernel32.CloseHandle(twin)
            raise
        self.twins[fd] = (handle, twin)
        return twin

    def submit(self, op: str, fd: int, buffer: Any, offset: int, udata: Any) -> Knote:
        kn = self.new_request(op, buffer, udata)
        req: Request = kn.priv
        view = req.view
        self.inflight[kn.ident] = (kn, None)
        try:
            if offset < 0 or fd < 0:
                raise OSError(errno.EINVAL if offset < 0 else errno.EBADF, "bad offset or fd")
            if op == "fsync":
                self._fsync(kn, fd)
                return kn
            twin = self._twin(fd)
            assert view is not None
            if view.nbytes > 0xFFFFFFFF:
                raise OSError(errno.EINVAL, "AIO request larger than 4 GiB")
            req.cdata = ffi.from_buffer(view, require_writable=op == "read")
            ov = ffi.new("OVERLAPPED *")
            ov.Offset = offset & 0xFFFFFFFF
            ov.OffsetHigh = offset >> 32
            o = Op(ov, ov, twin, self._done)
            # the packet's op holds both (a knote -> request -> knote cycle would leave
            # the pins to the cyclic GC, which may release the view before the cdata)
            o.keep = (req, kn)
            self.inflight[kn.ident] = (kn, o)
            self.backend.start(o)
            fn = kernel32.ReadFile if op == "read" else kernel32.WriteFile
            ok = fn(twin, req.cdata, view.nbytes, ffi.NULL, ov)
            if not ok:
                code, _ = ffi.getwinerror()
                if code != ERROR_IO_PENDING:
                    self.backend.unstart(o)  # failed synchronously: no packet comes
                    if code == ERROR_HANDLE_EOF:
                        self._complete(kn, 0)
                    else:
                        self._complete(kn, -(winerror(None, code).errno or errno.EIO))
        except OSError as exc:
            self._complete(kn, -(exc.errno or errno.EIO))
        return kn

    def _fsync(self, kn: Knote, fd: int) -> None:
        handle = _os_handle(fd)
        if self.pool is None:
            self.pool = concurrent.futures.ThreadPoolExecutor(2, "kevents-aio-fsync")
        token = 0

        def run() -> None:
            ok = kernel32.FlushFileBuffers(ffi.cast("void *", handle))
            res = 0 if ok else (winerror().errno or errno.EIO)
            self.backend.post(token, res)

        def posted(res: int) -> None:
            self.backend.posted.pop(token, None)
            if kn.ident in self.inflight:
                self._complete(kn, -res if res else 0)

        token = self.backend.new_token(posted)
        kn.priv.future = self.pool.submit(run)

    def _done(self, op: Op, status: int, nbytes: int) -> None:
        req, kn = op.keep
        req.unpin()
        if req.orphan:
            return
        if status >= 0 or status == STATUS_END_OF_FILE:
            res = nbytes if status >= 0 else 0
        elif status == STATUS_CANCELLED:
            res = -errno.ECANCELED
        else:
            res = -(ntstatus_error(status).errno or errno.EIO)
        self._complete(kn, res)

    def _complete(self, kn: Knote, res: int) -> None:
        if self.inflight.pop(kn.ident, None) is None:
            return
        finish(self.engine, kn, res)

    def close(self) -> None:
        for kn, op in list(self.inflight.values()):
            kn.priv.orphan = True
            if op is not None:
                self.backend.cancel(op)
        self.inflight.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        for _, twin in self.twins.values():
            kernel32.CloseHandle(twin)  # cancels what is left; close() drains the packets
        self.twins.clear()
