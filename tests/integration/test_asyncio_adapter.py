"""kevents_asyncio: the loop's own behaviour and the extras (issue 7). CPython's suite
(test_asyncio_cpython.py) covers asyncio's behaviour on top of it."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import kevents
from kevents import Filter, Flag, KEvent, NoteVnode

kevents_asyncio = pytest.importorskip("kevents_asyncio")

PY = sys.executable
unix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")


@pytest.fixture(scope="module", autouse=True)
def _signal_eventfd() -> None:
    """kevents keeps one process-wide fd for signals once any SIGNAL knote existed (on
    Linux); open it before the per-test fd-leak check takes its first count."""
    if sys.platform != "win32":
        with kevents.Queue() as kq:
            kq.control([KEvent(signal.SIGWINCH, Filter.SIGNAL, Flag.ADD)], 0)


def run(coro: Any) -> Any:
    return kevents_asyncio.run(coro)


def test_run_uses_a_kevents_loop() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__name__

    assert run(main()) == "KeventsEventLoop"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="loop_factory is 3.12+")
def test_loop_factory_one_line() -> None:
    async def main() -> bool:
        return isinstance(asyncio.get_running_loop(), kevents_asyncio.KeventsEventLoop)

    assert asyncio.run(main(), loop_factory=kevents_asyncio.new_event_loop)


@pytest.mark.skipif(sys.version_info >= (3, 16), reason="Python 3.16 has no loop policies")
def test_policy_install() -> None:
    import warnings

    deprecated = sys.version_info >= (3, 14)  # with asyncio's policies (16.3)
    # the test's own access to the policy, without asyncio's warnings
    events: Any = asyncio.events
    get, put = (
        (events._get_event_loop_policy, events._set_event_loop_policy)
        if deprecated
        else (events.get_event_loop_policy, events.set_event_loop_policy)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = get()
        try:
            kevents_asyncio.install()
            loop = asyncio.new_event_loop()
            try:
                assert isinstance(loop, kevents_asyncio.KeventsEventLoop)
            finally:
                loop.close()
            assert kevents_asyncio.EventLoopPolicy().new_event_loop().close() is None
        finally:
            put(old)
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(ours) == (2 if deprecated else 0), [str(w.message) for w in caught]
    assert all(w.filename == __file__ and "loop_factory" in str(w.message) for w in ours)


_WARNING_FREE = """
import asyncio, os, signal, socket, subprocess, sys, tempfile
import kevents_asyncio
from kevents_asyncio import *  # names of deprecated things stay out of a star-import
from kevents import Filter, Flag, KEvent

async def main():
    loop = asyncio.get_running_loop()
    got = loop.create_future()
    if sys.platform != "win32":
        loop.add_signal_handler(signal.SIGUSR1, got.set_result, "signal")
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await got == "signal"
        loop.remove_signal_handler(signal.SIGUSR1)
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print(7)", stdout=subprocess.PIPE)
        assert (await p.communicate())[0].strip() == b"7" and p.returncode == 0
        p = subprocess.Popen([sys.executable, "-c", "pass"])
        assert (await kevents_asyncio.wait_process_exit(p.pid)).exitcode == 0
        p.wait()
    a, b = socket.socketpair()
    r, w = await asyncio.open_connection(sock=a)
    b.send(b"x")
    assert await r.read(1) == b"x"
    w.close()
    b.close()
    ev = await kevents_asyncio.wait_kevent(KEvent(1, Filter.TIMER, Flag.ADD, data=1))
    assert ev.filter == Filter.TIMER
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        open(path, "w").close()
        fut = asyncio.ensure_future(kevents_asyncio.wait_file_change(path))
        await asyncio.sleep(0.05)
        with open(path, "a") as f:
            f.write("x")
        await asyncio.wait_for(fut, 10)
    return "ok"

print(kevents_asyncio.run(main()))
if sys.version_info >= (3, 12):
    print(asyncio.run(main(), loop_factory=kevents_asyncio.new_event_loop))
"""


def test_entry_points_are_warning_free() -> None:
    """Issue 16.3: importing and running the adapter under -W error::DeprecationWarning
    (asyncio.iscoroutinefunction and the policies are deprecated from 3.14)."""
    proc = subprocess.run(
        [PY, "-X", "dev", "-W", "error::DeprecationWarning", "-c", _WARNING_FREE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = ["ok", "ok"] if sys.version_info >= (3, 12) else ["ok"]
    assert proc.stdout.split() == expected, proc.stderr


def test_wakeup_is_a_user_event_not_a_self_pipe() -> None:
    loop = kevents_asyncio.new_event_loop()
    try:
        assert loop._internal_fds == 0 and not hasattr(loop, "_ssock")
        fut = loop.create_future()
        threading.Timer(0.05, loop.call_soon_threadsafe, (fut.set_result, 7)).start()
        assert loop.run_until_complete(fut) == 7
        # many wake-ups before the loop runs cost one event (EV_CLEAR)
        for _ in range(1000):
            loop._write_to_self()
        got = loop.queue.control(None, 10, 0)
        assert [(ev.ident, ev.filter) for ev in got] == [(kevents_asyncio.WAKE_IDENT, Filter.USER)]
    finally:
        loop.close()
    assert loop.queue.closed
    loop._write_to_self()  # ignored once closed, as asyncio's self-pipe is


def test_one_trigger_per_loop_turn() -> None:
    """Issue 14: wake-ups between two turns of the loop cost one trigger (one system
    call); every callback still runs, and the next turn's wake-up triggers again."""
    loop = kevents_asyncio.new_event_loop()
    sent = []
    trigger = loop._wake

    def counting(*args: Any) -> Any:
        sent.append(args)
        return trigger(*args)

    loop._wake = counting
    try:
        ran: list[int] = []
        for i in range(1000):
            loop.call_soon_threadsafe(ran.append, i)
        assert len(sent) == 1
        loop.run_until_complete(asyncio.sleep(0))
        assert ran == list(range(1000))
        fut = loop.create_future()
        threading.Timer(0.05, loop.call_soon_threadsafe, (fut.set_result, 7)).start()
        assert loop.run_until_complete(asyncio.wait_for(fut, 10)) == 7  # not lost
        assert len(sent) == 2
    finally:
        loop.close()


def test_threadsafe_wakeups_from_many_threads() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        count = 0

        def bump() -> None:
            nonlocal count
            count += 1
            if count == 4000:
                done.set()

        def worker() -> None:
            for _ in range(1000):
                loop.call_soon_threadsafe(bump)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        await asyncio.wait_for(done.wait(), 10)
        for t in threads:
            t.join()
        return count

    assert run(main()) == 4000


def test_refused_connect_is_an_error() -> None:  # D39, found by CPython's suite
    async def main() -> None:
        import socket

        free = socket.create_server(("127.0.0.1", 0))
        addr = free.getsockname()
        free.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*addr)

    run(main())


@unix_only
def test_signal_handler_once_per_delivery_and_restored() -> None:
    before = signal.getsignal(signal.SIGUSR1)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGUSR1)  # delivered before kill returns
        await asyncio.sleep(0.05)
        assert loop.remove_signal_handler(signal.SIGUSR1)
        assert not loop.remove_signal_handler(signal.SIGUSR1)
        return got

    assert run(main()) == [1, 1, 1]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    signal.signal(signal.SIGUSR1, before)


@unix_only
def test_signal_handler_errors() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(TypeError):
            loop.add_signal_handler("x", print)
        with pytest.raises(ValueError):
            loop.add_signal_handler(0, print)
        with pytest.raises(RuntimeError):
            loop.add_signal_handler(signal.SIGKILL, print)

        async def coro() -> None:
            pass

        with pytest.raises(TypeError):
            loop.add_signal_handler(signal.SIGUSR1, coro)
        err: list[BaseException] = []

        def other_thread() -> None:
            try:
                loop.add_signal_handler(signal.SIGUSR2, print)
            except RuntimeError as exc:
                err.append(exc)

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert err

    run(main())
    assert signal.getsignal(signal.SIGKILL) == signal.SIG_DFL


@unix_only
def test_loop_close_removes_signal_handlers() -> None:
    loop = kevents_asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGUSR2, print)
    assert signal.getsignal(signal.SIGUSR2) not in (signal.SIG_DFL, signal.SIG_IGN)
    loop.close()
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL


@unix_only
def test_subprocess_exit_without_sigchld_handler_or_threads() -> None:
    sigchld = signal.getsignal(signal.SIGCHLD)

    async def main() -> tuple[int | None, bytes, int]:
        threads = threading.active_count()
        p = await asyncio.create_subprocess_exec(
            PY, "-c", "import sys; print('out'); sys.exit(7)", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await p.communicate()
        assert threading.active_count() == threads  # no child-watcher thread
        return p.returncode, out, threads

    code, out, _ = run(main())
    assert (code, out) == (7, b"out\n")
    assert signal.getsignal(signal.SIGCHLD) == sigchld


@unix_only
def test_subprocess_killed_by_signal() -> None:
    async def main() -> int | None:
        p = await asyncio.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
        p.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(p.wait(), 10)

    assert run(main()) == -signal.SIGTERM


@unix_only
def test_a_reaped_child_is_never_signalled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15.5 (CPython gh-127049): the pid is free once reaped, so no signal may go
    to it after the reap; a task signalling on every loop turn would find any turn
    that separates the reap from the returncode's publication."""
    reaped: set[int] = set()
    stray: list[tuple[int, int]] = []
    sent: list[int] = []
    real_waitpid, real_kill = os.waitpid, os.kill

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        got = real_waitpid(pid, options)
        if got[0]:
            reaped.add(got[0])
        return got

    def kill(pid: int, sig: int) -> None:
        if pid in reaped:
            stray.append((pid, sig))  # would have hit whoever holds the pid now
            return
        sent.append(pid)
        real_kill(pid, sig)

    monkeypatch.setattr(os, "waitpid", waitpid)
    monkeypatch.setattr(os, "kill", kill)

    async def main() -> list[int | None]:
        codes = []
        for script in ("pass", "import sys; sys.stdout.write('x'); sys.exit(3)"):
            p = await asyncio.create_subprocess_exec(PY, "-c", script, stdout=subprocess.PIPE)
            while p.returncode is None:
                p.send_signal(0)  # probes only: a live or zombie child ignores it
                await asyncio.sleep(0)
            p.send_signal(signal.SIGTERM)  # exited: nothing is sent, as with Popen
            p.kill()
            await p.communicate()
            codes.append(await p.wait())
            with pytest.raises(ProcessLookupError):  # the transport is closed now
                p.kill()
        return codes

    assert run(main()) == [0, 3]
    assert not stray, f"signals sent to reaped pids: {stray}"
    # both children reaped by the loop (not by Popen.poll behind its back), both
    # signalled while alive
    assert len(reaped) == 2 and len(set(sent)) == 2


@unix_only
def test_wait_process_exit_of_a_non_child() -> None:
    # the child of a helper process: not ours, still watched
    helper = subprocess.Popen(
        [
            PY,
            "-c",
            "import subprocess,sys; p=subprocess.Popen([sys.executable,'-c',"
            "'import time; time.sleep(0.3)']); print(p.pid, flush=True); p.wait()",
        ],
        stdout=subprocess.PIPE,
    )
    assert helper.stdout is not None
    pid = int(helper.stdout.readline())

    async def main() -> kevents.ExitStatus:
        return await asyncio.wait_for(kevents_asyncio.wait_process_exit(pid), 10)

    status = run(main())
    assert status.pid == pid
    if status.known:
        assert status.exitcode == 0
    helper.wait(10)
    helper.stdout.close()


def test_wait_process_exit_cancelled_deletes_registration() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(kevents_asyncio.wait_process_exit(os.getpid()), 0.05)
        assert not loop._kev_callbacks  # nothing left behind
        with pytest.raises(OSError):
            loop.queue.control([KEvent(os.getpid(), Filter.PROC, Flag.DELETE)], 0)

    run(main())


def test_wait_process_exit_bad_pid() -> None:
    async def main() -> None:
        with pytest.raises(OSError):
            await kevents_asyncio.wait_process_exit(0x7FFFFFF0)

    run(main())


@unix_only
def test_signal_receiver_counts() -> None:
    before = signal.getsignal(signal.SIGUSR2)

    async def main() -> tuple[int, int]:
        async with kevents_asyncio.open_signal_receiver(signal.SIGUSR2) as signals:
            for _ in range(5):
                os.kill(os.getpid(), signal.SIGUSR2)
            async for item in signals:
                return item  # type: ignore[no-any-return]
        raise AssertionError("unreachable")

    assert run(main()) == (signal.SIGUSR2, 5)
    assert signal.getsignal(signal.SIGUSR2) == before


def test_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    # Windows cannot delete a file that is open (the watch holds it): write only there
    deletes = sys.platform != "win32"

    async def main() -> list[int]:
        seen = []
        changes = kevents_asyncio.file_changes(str(path))
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, path.write_bytes, b"x")
        async for ev in changes:
            seen.append(ev.fflags)
            if not deletes or ev.fflags & NoteVnode.DELETE:
                break
            if len(seen) == 1:
                loop.call_later(0.05, path.unlink)
        await changes.aclose()
        return seen

    seen = run(asyncio.wait_for(main(), 10))
    assert seen[0] & NoteVnode.WRITE
    if deletes:
        assert seen[-1] & NoteVnode.DELETE


def test_aio_read_write(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT, 0o600)
    try:

        async def main() -> bytes:
            assert await kevents_asyncio.aio_write(fd, b"hello world", 0) == 11
            buf = bytearray(5)
            assert await kevents_asyncio.aio_read(fd, buf, 6) == 5
            return bytes(buf)

        assert run(main()) == b"world"
    finally:
        os.close(fd)


def test_aio_error_raises(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "ro", os.O_RDONLY | os.O_CREAT, 0o600)
    try:

        async def main() -> None:
            with pytest.raises(OSError):
                await kevents_asyncio.aio_write(fd, b"x", 0)

        run(main())
    finally:
        os.close(fd)


def test_raw_kevent_with_callback() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        ticks: list[int] = []
        done = asyncio.Event()

        def tick(ev: KEvent) -> None:
            ticks.append(ev.data)
            if len(ticks) == 3:
                done.set()

        loop.add_kevent(KEvent(1, Filter.TIMER, 0, 0, 10), tick)
        await asyncio.wait_for(done.wait(), 5)
        assert loop.remove_kevent(1, Filter.TIMER)
        assert not loop.remove_kevent(1, Filter.TIMER)
        with pytest.raises(ValueError):
            loop.add_kevent(KEvent(kevents_asyncio.WAKE_IDENT, Filter.USER), print)
        return ticks

    assert len(run(main())) == 3


def test_wait_kevent_user_from_thread() -> None:
    async def main() -> KEvent:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(kevents_asyncio.wait_kevent(KEvent(5, Filter.USER)))
        await asyncio.sleep(0.01)

        def trigger() -> None:
            time.sleep(0.02)
            loop.queue.control([KEvent(5, Filter.USER, 0, kevents.NoteUser.TRIGGER)], 0)

        threading.Thread(target=trigger).start()
        return await asyncio.wait_for(task, 5)

    ev = run(main())
    assert (ev.ident, ev.filter) == (5, Filter.USER)


def test_extras_need_a_kevents_loop() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="kevents event loop"):
            await kevents_asyncio.wait_process_exit(os.getpid())

    asyncio.run(main())


def test_closed_loop() -> None:
    loop = kevents_asyncio.new_event_loop()
    loop.close()
    loop.close()  # idempotent
    with pytest.raises(RuntimeError):
        loop.add_kevent(KEvent(1, Filter.USER), print)
    with pytest.raises(RuntimeError):
        loop.call_soon(print)


@unix_only
def test_wait_process_exit_of_own_subprocess_shares_the_knote() -> None:
    async def main() -> tuple[int, int | None]:
        p = await asyncio.create_subprocess_exec(PY, "-c", "import sys; sys.exit(4)")
        status = await asyncio.wait_for(kevents_asyncio.wait_process_exit(p.pid), 10)
        code = await asyncio.wait_for(p.wait(), 10)  # the transport saw it too
        return code, status.exitcode

    assert run(main()) == (4, 4)


def test_add_kevent_twice_is_refused() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_kevent(KEvent(9, Filter.USER), print)
        with pytest.raises(ValueError, match="already registered"):
            loop.add_kevent(KEvent(9, Filter.USER), print)
        loop.remove_kevent(9, Filter.USER)

    run(main())


@pytest.mark.skipif(sys.platform != "win32", reason="Windows console control events")
def test_signal_handler_for_console_events() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        loop.add_signal_handler(signal.SIGBREAK, got.append, 1)
        # what the C runtime's console handler does on Ctrl-Break (Wine cannot raise
        # one): it calls the signal's C handler, as raise() does; from another thread,
        # as the console's own thread would
        threading.Timer(0.05, signal.raise_signal, (signal.SIGBREAK,)).start()
        for _ in range(250):
            if got:
                break
            await asyncio.sleep(0.02)
        assert loop.remove_signal_handler(signal.SIGBREAK)
        return got

    assert run(main()) == [1]


@unix_only
def test_signal_handler_refused_while_a_receiver_watches() -> None:
    before = signal.getsignal(signal.SIGUSR2)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with kevents_asyncio.open_signal_receiver(signal.SIGUSR2):
            with pytest.raises(RuntimeError, match="another way"):
                loop.add_signal_handler(signal.SIGUSR2, print)
            assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN  # untouched

    run(main())
    assert signal.getsignal(signal.SIGUSR2) == before


class _Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: list[Any] = []
        self.eof = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> None:
        self.eof.set_result(None)


def test_socket_reads_use_the_loops_buffer() -> None:
    """Issue 14: a read allocates the bytes it hands over and nothing else (asyncio's
    own transports allocate 256 KiB per read); the protocol still gets bytes of its
    own, all of them, then EOF."""
    import socket
    import tracemalloc

    async def main() -> None:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        with a:
            transport, proto = await loop.connect_accepted_socket(_Collect, b)

            async def hops(first: int, last: int) -> None:
                for i in range(first, last):
                    await loop.sock_sendall(a, b"%d," % i)
                    while len(proto.chunks) <= i:  # one message in flight: one chunk
                        await asyncio.sleep(0)

            await hops(0, 20)  # warm up, then measure the steady state
            tracemalloc.start()
            try:
                await hops(20, 200)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 64 * 1024, f"{peak} bytes allocated at once while reading"
            big = os.urandom(1 << 20)  # more than the buffer: several reads
            await loop.sock_sendall(a, big)
            a.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(proto.eof, 10)
            assert all(type(c) is bytes for c in proto.chunks)
            got = b"".join(proto.chunks)
            assert got == b"".join(b"%d," % i for i in range(200)) + big
            transport.close()

    run(main())


def test_datagram_reads_use_the_loops_buffer() -> None:
    import socket

    class Datagrams(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.got.put_nowait((data, addr))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            Datagrams, local_addr=("127.0.0.1", 0)
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            target = transport.get_extra_info("sockname")
            for payload in (b"one", b"", b"x" * 60000, b"two"):
                s.sendto(payload, target)
                data, addr = await asyncio.wait_for(proto.got.get(), 10)
                assert (type(data), data, addr) == (bytes, payload, s.getsockname())
        transport.close()

    run(main())


def test_readers_skip_data_but_raw_kevents_keep_it() -> None:
    """D78: add_reader's knotes are made with Flag.NODATA (a selector hands out no
    data, and on Linux the count is a system call per event), while a raw registration
    on the same queue still gets FreeBSD's data."""
    import socket

    from kevents._platforms import status

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        c, d = socket.socketpair()
        with a, b, c, d:
            for s in (a, b, c, d):
                s.setblocking(False)
            read = loop.create_future()
            got = loop.create_future()
            loop.add_reader(a, lambda: read.done() or read.set_result(a.recv(64)))
            loop.add_kevent(KEvent(c.fileno(), Filter.READ), lambda ev: got.set_result(ev))
            b.send(b"12345")
            d.send(b"123")
            assert await asyncio.wait_for(read, 10) == b"12345"
            ev = await asyncio.wait_for(got, 10)
            loop.remove_reader(a)
            assert loop.remove_kevent(c.fileno(), Filter.READ)
            # what the queue does with the reader's knote, seen from the queue itself
            loop.add_reader(a, lambda: None)
            b.send(b"67")
            await asyncio.sleep(0)
            quiet = [e for e in loop.queue.control(None, 8, 1) if e.ident == a.fileno()]
            loop.remove_reader(a)
            return ev.data, quiet[0].data

    user, reader = run(main())
    assert user == 3
    with kevents.Queue() as kq:
        zero = status("READ/WRITE data with Flag.NODATA", kq.backend)[0] != "yes"
    assert reader == (0 if zero else 2)


def _counting_polls(loop: Any) -> list[Any]:
    """The loop's queue polls (select() calls that reach the queue), as their timeouts."""
    polls: list[Any] = []
    sel = loop._selector
    control = sel._control

    def counting(changes: Any, nevents: int, timeout: Any = None) -> Any:
        if changes is None:
            polls.append(timeout)
        return control(changes, nevents, timeout)

    sel._control = counting
    return polls


def test_a_streams_hop_polls_once() -> None:
    """Issue 14: the callbacks an I/O event schedules (the task a stream read wakes) run
    before the loop polls again, so a streams hop is one poll, not a blocking one and
    an empty one with timeout 0 (asyncio's order)."""
    import socket

    hops = 200
    loop = kevents_asyncio.new_event_loop()
    polls = _counting_polls(loop)

    async def pingpong() -> None:
        a, b = socket.socketpair()
        ra, wa = await asyncio.open_connection(sock=a)
        rb, wb = await asyncio.open_connection(sock=b)

        async def side(reader: Any, writer: Any) -> None:
            for _ in range(hops // 2):
                assert await reader.read(64) == b"x"
                writer.write(b"x")

        wa.write(b"x")
        del polls[:]
        await asyncio.gather(side(rb, wb), side(ra, wa))
        for w in (wa, wb):
            w.close()

    try:
        loop.run_until_complete(asyncio.wait_for(pingpong(), 30))
    finally:
        loop.close()
    assert hops <= len(polls) <= hops + 10, len(polls)  # (asyncio's order: 2 per hop)


def test_ready_callbacks_do_not_starve_io() -> None:
    """A callback that always reschedules itself cannot keep the loop from polling: at
    most one poll in two turns is skipped, so a ready socket is read within two turns,
    and a loop stepped once (call_soon(stop), run_forever) polls in that one turn."""
    import socket

    loop = kevents_asyncio.new_event_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    turns = [0]
    read_at: list[int] = []

    def spin() -> None:
        turns[0] += 1
        if turns[0] < 100:
            loop.call_soon(spin)
        else:
            loop.stop()

    def readable() -> None:
        b.recv(64)
        read_at.append(turns[0])
        if len(read_at) < 10:
            a.send(b"x")

    try:
        loop.add_reader(b, readable)
        a.send(b"x")
        loop.call_soon(spin)
        loop.run_forever()
        assert len(read_at) == 10, read_at
        gaps = [later - earlier for earlier, later in itertools.pairwise(read_at)]
        assert max(gaps) <= 2, read_at
        # the last turn polled and found the reader's event; a run stepped once still
        # polls (the first turn of a run never skips)
        a.send(b"x")
        read_at.clear()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert len(read_at) == 1
        loop.remove_reader(b)
    finally:
        a.close()
        b.close()
        loop.close()
