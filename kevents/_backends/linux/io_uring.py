"""io_uring on Linux: the one gate that decides whether it is used, and the ring itself.

Story: io_uring is an accelerator here, never a requirement. It is missing on old
kernels (ENOSYS), switched off by ``kernel.io_uring_disabled`` or by the default seccomp
profiles of Docker >= 25 and containerd (EPERM, moby/moby#46762), and may refuse setup
flags or locked memory (EINVAL, ENOMEM on < 5.12). Each of those means "not available"
and kevents falls back silently to epoll plus a thread pool; ``backend_info()`` says
which was chosen and why. The decision is made once per process, at the first queue
that asks, by ``decide()``: an explicit argument wins, then ``KEVENTS_IO_URING=0|1``,
then the probe (ring setup, then IORING_REGISTER_PROBE for every opcode we need). No
ring is created at import, and never with SQPOLL.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from typing import Any

from ..._errors import UnsupportedError, oserror
from ..._ffi import ffi, lib

#: opcodes the AIO filter needs (5.6+), and those batched change lists need (5.6+)
AIO_OPS = {
    "READ": lib.KEV_OP_READ,
    "WRITE": lib.KEV_OP_WRITE,
    "FSYNC": lib.KEV_OP_FSYNC,
    "ASYNC_CANCEL": lib.KEV_OP_ASYNC_CANCEL,
}
BATCH_OPS = {"EPOLL_CTL": lib.KEV_OP_EPOLL_CTL}
_REAP = 256


class Ring:
    """A minimal io_uring (kevents/_cffi/linux_uring.c); not thread-safe by itself."""

    def __init__(self, entries: int = 256) -> None:
        err = ffi.new("int *")
        ptr = lib.kev_ring_new(entries, err)
        if ptr == ffi.NULL:
            raise oserror(err[0], "io_uring_setup")
        self.ptr: Any = ptr
        self.fd: int = lib.kev_ring_fd(ptr)
        #: completions the CQ holds; more in flight would overflow it (see kev_ring_reap)
        self.cq_entries: int = lib.kev_ring_cq_entries(ptr)
        self._ud = ffi.new("uint64_t[]", _REAP)
        self._res = ffi.new("int32_t[]", _REAP)

    def supports(self, op: int) -> bool:
        ret = lib.kev_ring_probe(self.ptr, op)
        if ret < 0:
            raise oserror(-ret, "IORING_REGISTER_PROBE")
        return bool(ret)

    def space(self) -> int:
        return int(lib.kev_ring_space(self.ptr))

    def submit(self, wait_nr: int = 0) -> int:
        ret = lib.kev_ring_submit(self.ptr, wait_nr)
        if ret < 0:
            raise oserror(-ret, "io_uring_enter")
        return int(ret)

    def reap(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        while True:
            n = lib.kev_ring_reap(self.ptr, self._ud, self._res, _REAP)
            out.extend(zip(ffi.unpack(self._ud, n), ffi.unpack(self._res, n), strict=True))
            if n < _REAP:
                return out

    def close(self) -> None:
        if self.ptr is not None:
            lib.kev_ring_free(self.ptr)
            self.ptr = None
            self.fd = -1


@dataclasses.dataclass(frozen=True)
class Decision:
    """Whether this process uses io_uring for AIO and for change lists, and why."""

    aio: bool
    batch: bool
    reason: str


_NOT_AVAILABLE = {
    errno.ENOSYS: "the kernel has no io_uring (ENOSYS)",
    errno.EPERM: "io_uring is not permitted (EPERM: kernel.io_uring_disabled or seccomp)",
    errno.EINVAL: "io_uring refused the setup (EINVAL)",
    errno.ENOMEM: "io_uring could not lock its memory (ENOMEM: RLIMIT_MEMLOCK)",
}

_probed: Decision | None = None


def probe(open_ring: Callable[[int], Any] = Ring) -> Decision:
    """Try to set up a ring and ask the kernel for every opcode we need."""
    try:
        ring = open_ring(8)
    except OSError as exc:
        why = _NOT_AVAILABLE.get(exc.errno or 0, f"io_uring setup failed: {exc}")
        return Decision(False, False, why)
    try:
        missing_aio = [name for name, op in AIO_OPS.items() if not ring.supports(op)]
        missing_batch = [name for name, op in BATCH_OPS.items() if not ring.supports(op)]
    except OSError as exc:
        return Decision(False, False, f"io_uring opcode probe failed: {exc}")
    finally:
        ring.close()
    parts = []
    for what, missing in (("AIO", missing_aio), ("change lists", missing_batch)):
        if missing:
            parts.append(f"{what}: not used, kernel lacks {', '.join(missing)}")
        else:
            parts.append(f"{what}: used")
    return Decision(not missing_aio, not missing_batch, "io_uring probed; " + "; ".join(parts))


def decide(explicit: bool | None = None) -> Decision:
    """The one gate: explicit argument > KEVENTS_IO_URING > probe (cached per process)."""
    global _probed
    env = os.environ.get("KEVENTS_IO_URING", "")
    if explicit is False:
        return Decision(False, False, "io_uring disabled by the explicit argument")
    if explicit is None and env == "0":
        return Decision(False, False, "io_uring disabled by KEVENTS_IO_URING=0")
    if _probed is None:
        _probed = probe()
    if (explicit or env == "1") and not (_probed.aio or _probed.batch):
        raise UnsupportedError(f"io_uring was requested, but {_probed.reason}")
    return _probed
