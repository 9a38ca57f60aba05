"""Pipe and subprocess transports for the kevents loop on Windows.

asyncio's selector loop has none on Windows (``connect_read_pipe``,
``connect_write_pipe`` and ``subprocess_exec`` raise NotImplementedError there; only the
proactor loop has them, on overlapped named pipes it creates itself). kevents' READ and
WRITE work on ordinary pipes on Windows (D70), so these transports are readiness-based
like asyncio's Unix pipe transports, with one difference that makes blocking pipes safe:
a kevent carries the byte count. A READ event says how many bytes are buffered (``data``,
from PeekNamedPipe), so ``os.read`` of that many never blocks; a WRITE event says how
much the pipe's buffer can take (WriteQuotaAvailable), so a write of at most that many
never blocks. No descriptor is switched to non-blocking mode (Windows' PIPE_NOWAIT is a
legacy mode, and Wine 8 reports a full one as EINVAL).

A subprocess is ``subprocess.Popen`` with anonymous pipes, its exit a PROC knote (the
loop's ``watch_process_exit``): no thread waits for it (wait packets; helper threads
under Wine). Each of its pipes is read through a zero-byte read on a helper thread
(anonymous pipes cannot be overlapped: the platform table's "READ on anonymous pipes").
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from asyncio import base_subprocess, transports
from typing import Any

from kevents import Filter, Flag, KEvent

_READ, _WRITE = int(Filter.READ), int(Filter.WRITE)
_EOF = int(Flag.EOF)
_MAX_READ = 256 * 1024
_LEVEL, _IDLE = 1, 2  # the WRITE knote's modes (WritePipeTransport._watch)
# asyncio's private building blocks (as its own Unix pipe transports use them); typeshed
# describes neither, so they are typed Any here
_FlowControl: Any = transports._FlowControlMixin
_BaseSubprocess: Any = base_subprocess.BaseSubprocessTransport


class ReadPipeTransport(transports.ReadTransport):
    """Reads a pipe as READ events say how much it holds."""

    def __init__(self, loop: Any, pipe: Any, protocol: asyncio.BaseProtocol) -> None:
        super().__init__({"pipe": pipe})
        self._loop = loop
        self._pipe = pipe
        self._fd = pipe.fileno()
        self._protocol: Any = protocol
        self._closing = False
        self._paused = False
        # Story: the knote is added one callback later, and connect_read_pipe's waiter
        # resolves after that (asyncio's Unix transports keep the same order): an EOF
        # seen at the first wait is then handled after the caller has the transport
        # (asyncio's subprocess transport must know its pipe before it is lost)
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start)

    def _start(self) -> None:
        if not self._closing:
            self._loop.add_kevent(KEvent(self._fd, Filter.READ), self._ready)

    def _ready(self, ev: KEvent) -> None:
        if self._closing:
            return
        if ev.data > 0:
            try:
                data = os.read(self._fd, min(int(ev.data), _MAX_READ))
            except OSError as exc:
                self._fatal(exc)
                return
            if data:
                self._protocol.data_received(data)
                return
        if ev.flags & _EOF:
            self._closing = True
            self._loop.remove_kevent(self._fd, Filter.READ)
            self._loop.call_soon(self._protocol.eof_received)
            self._loop.call_soon(self._finish, None)

    def pause_reading(self) -> None:
        if not self._closing and not self._paused:
            self._paused = True
            self._loop.queue.control([KEvent(self._fd, Filter.READ, Flag.DISABLE)], 0)

    def resume_reading(self) -> None:
        if not self._closing and self._paused:
            self._paused = False
            self._loop.queue.control([KEvent(self._fd, Filter.READ, Flag.ENABLE)], 0)

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.remove_kevent(self._fd, Filter.READ)
            self._loop.call_soon(self._finish, None)

    def _fatal(self, exc: BaseException) -> None:
        if not self._closing:
            self._closing = True
            self._loop.remove_kevent(self._fd, Filter.READ)
            self._loop.call_soon(self._finish, exc)

    def _finish(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._pipe.close()


class WritePipeTransport(_FlowControl, transports.WriteTransport):  # type: ignore[misc]
    """Writes a pipe as WRITE events say how much it can take."""

    def __init__(self, loop: Any, pipe: Any, protocol: asyncio.BaseProtocol) -> None:
        _FlowControl.__init__(self, {"pipe": pipe}, loop)
        self._pipe = pipe
        self._fd = pipe.fileno()
        self._protocol: Any = protocol
        self._buffer = bytearray()
        self._closing = False
        self._mode = 0  # 0: no knote; _LEVEL: data to write; _IDLE: only watching EOF
        self._lost = False
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._watch, _IDLE)

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def write(self, data: Any) -> None:
        if self._closing or self._lost:
            return
        if data:
            self._buffer += data
            self._watch(_LEVEL)
            self._maybe_pause_protocol()

    def _watch(self, mode: int) -> None:
        """Story: with data to write, a level-triggered WRITE knote (each event says how
        much fits); idle, an EV_CLEAR one, which still reports the reader going away
        (the pipe no longer connected), as asyncio's Unix transport learns it from a
        reader on the pipe: a subprocess transport waits for every pipe to be lost."""
        if mode == self._mode or self._lost:
            return
        self._unwatch()
        flags = Flag.ADD | (Flag.CLEAR if mode == _IDLE else 0)
        self._loop.add_kevent(KEvent(self._fd, Filter.WRITE, flags), self._ready)
        self._mode = mode

    def _unwatch(self) -> None:
        if self._mode:
            self._mode = 0
            self._loop.remove_kevent(self._fd, Filter.WRITE)

    def _ready(self, ev: KEvent) -> None:
        if ev.flags & _EOF:  # the reader is gone
            lost = bool(self._buffer)
            self._buffer.clear()
            self._fail(BrokenPipeError("the pipe's reader is gone") if lost else None)
            return
        room = max(1, int(ev.data))
        if self._buffer:
            try:
                n = os.write(self._fd, self._buffer[:room])
            except OSError as exc:
                self._buffer.clear()
                self._fail(exc)
                return
            del self._buffer[:n]
            self._maybe_resume_protocol()
        if not self._buffer:
            if self._closing:
                self._unwatch()
                self._loop.call_soon(self._finish, None)
            else:
                self._watch(_IDLE)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._unwatch()
            self._loop.call_soon(self._finish, None)

    def abort(self) -> None:
        self._buffer.clear()
        self._unwatch()
        if not self._lost:
            self._closing = True
            self._loop.call_soon(self._finish, None)

    def _fail(self, exc: BaseException | None) -> None:
        self._unwatch()
        self._closing = True
        self._loop.call_soon(self._finish, exc)

    def _finish(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._unwatch()
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._pipe.close()


class SubprocessTransport(_BaseSubprocess):  # type: ignore[misc]
    def _start(
        self,
        args: Any,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        bufsize: int,
        **kwargs: Any,
    ) -> None:
        self._proc = subprocess.Popen(
            args,
            shell=shell,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            bufsize=bufsize,
            **kwargs,
        )


async def _connect(loop: Any, cls: type, protocol_factory: Any, pipe: Any) -> Any:
    protocol = protocol_factory()
    waiter = loop.create_future()
    transport = cls(loop, pipe, protocol)
    loop.call_soon(waiter.set_result, None)  # after the transport's own first callbacks
    await waiter
    return transport, protocol


async def connect_read_pipe(self: Any, protocol_factory: Any, pipe: Any) -> Any:
    """``loop.connect_read_pipe`` on Windows (a file object over a pipe)."""
    return await _connect(self, ReadPipeTransport, protocol_factory, pipe)


async def connect_write_pipe(self: Any, protocol_factory: Any, pipe: Any) -> Any:
    """``loop.connect_write_pipe`` on Windows."""
    return await _connect(self, WritePipeTransport, protocol_factory, pipe)


async def make_subprocess_transport(
    self: Any,
    protocol: Any,
    args: Any,
    shell: bool,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    bufsize: int,
    extra: Any = None,
    **kwargs: Any,
) -> Any:
    """The loop's ``_make_subprocess_transport`` on Windows: exit from a PROC knote."""
    waiter = self.create_future()
    transp = SubprocessTransport(
        self,
        protocol,
        args,
        shell,
        stdin,
        stdout,
        stderr,
        bufsize,
        waiter=waiter,
        extra=extra,
        **kwargs,
    )

    def exited(ev: KEvent) -> None:
        code = os.waitstatus_to_exitcode(int(ev.data))
        # one more turn, so the pipes' last data is read before the exit is seen
        self.call_soon(transp._process_exited, code)

    try:
        self.watch_process_exit(transp.get_pid(), exited)
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transp.close()
        await transp._wait()
        raise
    return transp
