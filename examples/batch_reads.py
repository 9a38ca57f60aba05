"""Batch disk reads through the queue: start many reads at once, get each completion
as an AIO event, alongside anything else the loop waits for.

    python examples/batch_reads.py [FILE]   # default: a 4 MiB scratch file it writes

Reads are started inside ``with kq.aio_batch():`` so they reach the kernel together
(one io_uring_enter on Linux where io_uring is available; a thread pool otherwise, and
on macOS; overlapped ReadFile on Windows). Each completion is one event: ident = the
request id, data = bytes read (-1 with the errno in fflags on failure).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

import kevents
from kevents import Filter

BLOCK = 256 * 1024


def read_all(path: str) -> tuple[bytes, int]:
    """The file's SHA-256, read as concurrent blocks; and how many reads that took."""
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        with kevents.Queue() as kq:
            buffers: dict[int, tuple[int, bytearray]] = {}  # request id -> (offset, buffer)
            with kq.aio_batch():
                for offset in range(0, size, BLOCK):
                    buf = bytearray(min(BLOCK, size - offset))
                    buffers[kq.aio_read(fd, buf, offset, udata=offset)] = (offset, buf)
            blocks: dict[int, bytes] = {}
            while len(blocks) < len(buffers):
                for ev in kq.control(None, 64, timeout=30):
                    if ev.filter != Filter.AIO:
                        continue
                    if ev.data < 0:
                        raise OSError(ev.fflags, os.strerror(ev.fflags))
                    offset, buf = buffers[ev.ident]
                    blocks[offset] = bytes(buf[: ev.data])  # completions come in any order
    finally:
        os.close(fd)
    digest = hashlib.sha256()
    for offset in sorted(blocks):
        digest.update(blocks[offset])
    return digest.digest(), len(buffers)


def main(argv: list[str]) -> int:
    if argv:
        digest, reads = read_all(argv[0])
        print(f"{argv[0]}: {reads} reads, sha256 {digest.hex()}")
        return 0
    data = os.urandom(4 * 1024 * 1024 + 12345)  # not a multiple of the block size
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scratch.bin")
        with open(path, "wb") as f:
            f.write(data)
        digest, reads = read_all(path)
    ok = digest == hashlib.sha256(data).digest()
    print(f"{len(data)} bytes in {reads} concurrent reads: {'match' if ok else 'MISMATCH'}")
    print(f"AIO engine here: {kevents.backend_info().filter(Filter.AIO).mechanism}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
