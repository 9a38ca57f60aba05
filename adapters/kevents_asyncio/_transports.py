"""asyncio's socket transports, reading into one reused buffer per loop.

Story (issue 14): asyncio's stream and datagram transports read with
``sock.recv(256 KiB)`` / ``sock.recvfrom(256 KiB)``. CPython allocates the full 256 KiB
for the result and then shrinks it to the bytes received; the block is above glibc's
mmap threshold (128 KiB until a large free raises it), so every read is an ``mmap``, an
``mremap`` and a ``munmap``: six system calls a ping-pong hop instead of three, and most
of uvloop's lead. Here the transports read with ``recv_into`` / ``recvfrom_into`` into
one buffer the loop owns and hand the protocol ``bytes`` of exactly what arrived (the
only allocation per read). The protocol sees the same calls, with the same arguments
and the same errors, in the same order, as with asyncio's own transports; everything
else (writes, flow control, ``pause_reading``, half-close, ``sendfile``, buffered
protocols) is asyncio's code. One buffer per loop is safe: a loop reads one socket at a
time, and what the protocol gets is a copy.
"""

from __future__ import annotations

import asyncio.selector_events
from typing import Any

# asyncio's private transports; typeshed does not describe them
_sel: Any = asyncio.selector_events
_Socket: Any = _sel._SelectorSocketTransport
_Datagram: Any = _sel._SelectorDatagramTransport


class ReadBuffer:
    """The loop's read buffer, grown if a transport's ``max_size`` asks for more."""

    __slots__ = ("view",)

    def __init__(self, size: int = 256 * 1024) -> None:
        self.view = memoryview(bytearray(size))

    def get(self, size: int) -> memoryview:
        view = self.view
        if len(view) < size:
            view = self.view = memoryview(bytearray(size))
        return view


class SocketTransport(_Socket):  # type: ignore[misc]
    """asyncio's socket transport; a ``Protocol`` reads through the loop's buffer."""

    def __init__(self, loop: Any, sock: Any, protocol: Any, *args: Any, **kwargs: Any) -> None:
        self._kev_buffer: ReadBuffer = loop._kev_read_buffer
        super().__init__(loop, sock, protocol, *args, **kwargs)

    def _read_ready__data_received(self) -> None:
        if self._conn_lost:
            return
        size = self.max_size
        view = self._kev_buffer.get(size)
        try:
            n = self._sock.recv_into(view, size)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on socket transport")
            return
        if not n:
            self._read_ready__on_eof()
            return
        try:
            self._protocol.data_received(view[:n].tobytes())
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")


class DatagramTransport(_Datagram):  # type: ignore[misc]
    """asyncio's datagram transport, receiving through the loop's buffer."""

    def __init__(self, loop: Any, sock: Any, protocol: Any, *args: Any, **kwargs: Any) -> None:
        self._kev_buffer: ReadBuffer = loop._kev_read_buffer
        super().__init__(loop, sock, protocol, *args, **kwargs)

    def _read_ready(self) -> None:
        if self._conn_lost:
            return
        size = self.max_size
        view = self._kev_buffer.get(size)
        try:
            n, addr = self._sock.recvfrom_into(view, size)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._protocol.error_received(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
        else:
            self._protocol.datagram_received(view[:n].tobytes(), addr)
