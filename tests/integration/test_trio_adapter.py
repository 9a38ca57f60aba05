"""kevents_trio: Trio-style waits on every kqueue filter, cancellation, closing, threads
and guest mode."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import pytest

trio = pytest.importorskip("trio")
import kevents_trio as kt  # noqa: E402

from kevents import Filter, Flag, KEvent, NoteVnode  # noqa: E402


def test_wait_process_exit_child_and_not_reaped() -> None:
    async def main() -> None:
        p = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])
        st = await kt.wait_process_exit(p.pid)
        assert st.known and st.exitcode == 5
        assert p.wait(5) == 5  # the status is still there for the parent

    trio.run(main)


def test_wait_process_exit_gone_pid() -> None:
    async def main() -> None:
        with pytest.raises(ProcessLookupError):
            await kt.wait_process_exit(2**31 - 1)

    trio.run(main)


def test_cancellation_removes_the_registration() -> None:
    async def main() -> None:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
        with trio.move_on_after(0.05) as scope:
            await kt.wait_process_exit(p.pid)
        assert scope.cancelled_caught
        q = kt._shared()
        assert (p.pid, int(Filter.PROC)) not in q._waiters
        with pytest.raises(FileNotFoundError):  # deleted by the cancellation
            q.kq.control([KEvent(p.pid, Filter.PROC, Flag.DELETE)], 0)
        p.wait(5)

    trio.run(main)


def test_two_tasks_two_filters_of_one_ident() -> None:
    async def main() -> None:
        async with kt.open_queue() as q:
            import socket

            a, b = socket.socketpair()
            with a, b:
                got: dict[str, KEvent] = {}

                async def wait(name: str, change: KEvent) -> None:
                    got[name] = await q.wait_kevent(change)

                async with trio.open_nursery() as n:
                    n.start_soon(wait, "read", KEvent(b, Filter.READ))
                    n.start_soon(wait, "write", KEvent(b, Filter.WRITE))
                    await trio.sleep(0.05)
                    a.send(b"x")
                assert got["read"].filter == Filter.READ and got["read"].data == 1
                assert got["write"].filter == Filter.WRITE

    trio.run(main)


def test_general_stream_and_user_event_from_a_thread() -> None:
    async def main() -> None:
        async with kt.open_queue() as q:
            q.register(KEvent(7, Filter.USER, Flag.ADD | Flag.CLEAR))
            threading.Thread(target=lambda: (time.sleep(0.05), q.trigger(7, data=42))).start()
            with trio.fail_after(5):
                ev = await q.__anext__()
            assert (ev.ident, ev.data) == (7, 42)

    trio.run(main)


def test_closed_queue_wakes_waiters_with_closed_resource_error() -> None:
    async def main() -> None:
        async with kt.open_queue() as q:
            q.register(KEvent(1, Filter.USER, Flag.ADD | Flag.CLEAR))
            errors: list[BaseException] = []

            async def waiter() -> None:
                try:
                    await q.wait_kevent(KEvent(2, Filter.USER, Flag.ADD | Flag.CLEAR))
                except trio.ClosedResourceError as exc:
                    errors.append(exc)

            async with trio.open_nursery() as n:
                n.start_soon(waiter)
                await trio.sleep(0.05)
                q.close()
            assert len(errors) == 1
            with pytest.raises(trio.ClosedResourceError):
                await q.__anext__()

    trio.run(main)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGUSR1/SIGUSR2 are POSIX signals")
def test_signal_receiver_keeps_counts() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            """
import os, signal, trio, kevents_trio as kt
async def main():
    async with kt.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as rx:
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        seen = {}
        with trio.fail_after(5):
            async for sig, count in rx:
                seen[sig] = seen.get(sig, 0) + count
                if seen.get(signal.SIGUSR1) == 3 and seen.get(signal.SIGUSR2) == 1:
                    break
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # restored
    print("ok")
trio.run(main)
""",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_file_changes_and_aio(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"")

    async def main() -> None:
        async def writer() -> None:
            await trio.sleep(0.05)
            with open(path, "ab") as f:
                f.write(b"hello")

        async with trio.open_nursery() as n:
            n.start_soon(writer)
            notes = await kt.wait_file_change(str(path))
        assert notes & NoteVnode.WRITE
        fd = os.open(path, os.O_RDWR)
        try:
            buf = bytearray(5)
            assert await kt.aio_read(fd, buf, 0) == 5 and buf == b"hello"
            assert await kt.aio_write(fd, b"HE", 0) == 2
        finally:
            os.close(fd)
        with pytest.raises(OSError):
            await kt.aio_read(999_999, bytearray(1), 0)

    trio.run(main)


@pytest.mark.skipif(
    sys.platform == "win32", reason="VNODE on directories (table: VNODE directories)"
)
def test_file_changes_iterator() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            seen = []
            async with trio.open_nursery() as n:

                async def watch() -> None:
                    async for ev in kt.file_changes(d, NoteVnode.WRITE):
                        seen.append(ev.fflags)
                        if len(seen) == 2:
                            return

                n.start_soon(watch)
                await trio.sleep(0.05)
                for name in ("a", "b"):
                    open(os.path.join(d, name), "w").close()
                    await trio.sleep(0.05)
            assert seen == [NoteVnode.WRITE, NoteVnode.WRITE]

    trio.run(main)


def test_cancel_at_every_await_point(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_bytes(b"x")

    async def main() -> None:
        fd = os.open(tmp_path / "f", os.O_RDONLY)
        try:
            for delay in (0, 0.001, 0.01):
                with trio.move_on_after(delay):
                    await kt.wait_kevent(KEvent(3, Filter.TIMER, Flag.ADD, data=10_000))
                with trio.move_on_after(delay):
                    await kt.aio_read(fd, bytearray(1), 0)
            assert not kt._shared()._waiters
        finally:
            os.close(fd)

    trio.run(main)


def test_guest_mode() -> None:
    import asyncio

    queues: list[kt.TrioQueue] = []

    async def trio_main() -> int:
        p = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(2)"])
        st = await kt.wait_process_exit(p.pid)
        p.wait(5)
        queues.append(kt._shared())
        return st.exitcode or 0

    async def host() -> int:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        trio.lowlevel.start_guest_run(
            trio_main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=lambda outcome: done.set_result(outcome.unwrap()),
        )
        return await done

    assert asyncio.run(host()) == 2
    # closed by the run itself, not later by the garbage collector (issue 15.4)
    assert queues[0].kq.closed


def test_queues_are_closed_when_the_run_or_block_ends() -> None:
    seen: list[kt.TrioQueue] = []

    async def main() -> None:
        async with kt.open_queue() as q:
            seen.append(q)
        assert q.kq.closed  # at the block's end, not at the next collection
        await kt.wait_kevent(KEvent(1, Filter.TIMER, Flag.ADD, data=1))
        seen.append(kt._shared())

    trio.run(main)
    assert seen[1].kq.closed


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(
            "clear",
            marks=pytest.mark.skipif(
                sys.platform == "win32",
                reason="iocp: a drain and an equal refill between two checks is no "
                "edge (table: EV_CLEAR on sockets; DISPATCH is exact)",
            ),
        ),
        "dispatch",
    ],
)
def test_busy_exchange_routes_each_event_to_its_task(mode: str) -> None:
    """Tasks collect events for each other before parking (issue 14): every event
    still reaches the task of its key, once, in order."""
    import socket

    HOPS = 200 if sys.platform != "win32" else 20  # a worker-thread round trip a hop

    async def main() -> None:
        async with kt.open_queue() as q:
            a, b = socket.socketpair()
            with a, b:
                seen: dict[int, int] = {a.fileno(): 0, b.fileno(): 0}

                async def side(sock: socket.socket, hops: int) -> None:
                    key = (sock.fileno(), int(Filter.READ))
                    flag = Flag.CLEAR if mode == "clear" else Flag.DISPATCH
                    q.register(KEvent(sock, Filter.READ, Flag.ADD | flag))
                    stream = q.events(key)
                    for _ in range(hops):
                        ev = await stream.__anext__()
                        assert (ev.ident, ev.filter) == (sock.fileno(), Filter.READ)
                        assert sock.recv(64) == b"x"
                        seen[sock.fileno()] += 1
                        if mode == "dispatch":
                            q.register(KEvent(sock, Filter.READ, Flag.ENABLE))
                        sock.send(b"x")
                    await stream.aclose()

                with trio.fail_after(20):
                    async with trio.open_nursery() as n:
                        n.start_soon(side, b, HOPS)
                        n.start_soon(side, a, HOPS)
                        await trio.sleep(0.01)
                        a.send(b"x")
                assert seen == {a.fileno(): HOPS, b.fileno(): HOPS}

    trio.run(main)


def test_a_cancelled_wait_takes_no_event() -> None:
    async def main() -> None:
        async with kt.open_queue() as q:
            q.register(KEvent(5, Filter.USER, Flag.ADD | Flag.CLEAR))
            q.trigger(5, data=1)
            stream = q.events((5, int(Filter.USER)))
            with trio.CancelScope() as scope:
                scope.cancel()
                await stream.__anext__()  # cancelled before it collects anything
            assert scope.cancelled_caught
            # not lost with the cancelled task's waiter: with no task waiting for its
            # key, the event reaches the general stream
            with trio.fail_after(5):
                ev = await q.__anext__()
            assert (ev.ident, ev.data) == (5, 1)

    trio.run(main)


def test_warning_free() -> None:
    """Issue 16.3: the Trio adapter under -W error::DeprecationWarning."""
    code = """
import subprocess, sys, trio, kevents_trio as kt
from kevents import Filter, Flag, KEvent
async def main():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    assert (await kt.wait_process_exit(p.pid)).exitcode == 0
    p.wait()
    async with kt.open_queue() as q:
        ev = await q.wait_kevent(KEvent(1, Filter.TIMER, Flag.ADD, data=1))
        assert ev.filter == Filter.TIMER
    print("ok")
trio.run(main)
"""
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_wait_kevent_again_on_a_descriptor() -> None:
    """Issue 14: waiting again on the same READ key re-enables the registration; a
    descriptor closed and its number reused meanwhile still gets a fresh one; a
    cancelled wait leaves nothing registered."""
    import socket

    async def main() -> None:
        async with kt.open_queue() as q:
            a, b = socket.socketpair()
            fd = b.fileno()
            for i in range(3):
                a.send(b"x")
                with trio.fail_after(5):
                    ev = await q.wait_kevent(KEvent(b, Filter.READ))
                assert (ev.ident, ev.data) == (fd, 1), i
                b.recv(1)
            assert (fd, int(Filter.READ)) in q._disabled  # kept, disabled, for the next
            a.close()
            b.close()
            c, d = socket.socketpair()  # one of them takes fd's number again
            with c, d:
                reused, other = (c, d) if c.fileno() == fd else (d, c)
                if sys.platform != "win32":  # Windows does not hand out the lowest handle
                    assert reused.fileno() == fd
                fd = reused.fileno()
                other.send(b"yz")
                with trio.fail_after(5):
                    ev = await q.wait_kevent(KEvent(reused, Filter.READ))
                assert (ev.ident, ev.data) == (fd, 2)
                reused.recv(2)
                with trio.move_on_after(0.05) as scope:
                    await q.wait_kevent(KEvent(reused, Filter.READ))
                assert scope.cancelled_caught and (fd, int(Filter.READ)) not in q._disabled
                with pytest.raises(FileNotFoundError):  # deleted by the cancellation
                    q.kq.control([KEvent(fd, Filter.READ, Flag.DELETE)], 0)

    trio.run(main)


def test_wait_kevent_with_nodata_beside_a_counting_wait() -> None:
    """D78: a caller who never reads ``data`` (as with trio.lowlevel.wait_readable)
    passes Flag.NODATA; a counting wait on the same queue still gets FreeBSD's data,
    and the re-enabled NODATA registration stays quiet."""
    import socket

    from kevents._platforms import status

    async def main() -> None:
        async with kt.open_queue() as q:
            zero = status("READ/WRITE data with Flag.NODATA", q.kq.backend)[0] != "yes"
            a, b = socket.socketpair()
            c, d = socket.socketpair()
            with a, b, c, d:
                for i in range(3):  # the first ADDs, then ENABLEs of the kept knotes
                    a.send(b"xyz")
                    d.send(b"12345")
                    with trio.fail_after(5):
                        quiet = await q.wait_kevent(KEvent(b, Filter.READ, Flag.NODATA))
                        counted = await q.wait_kevent(KEvent(c, Filter.READ))
                    assert quiet.data == (0 if zero else 3), i
                    assert not quiet.flags & Flag.NODATA
                    assert counted.data == 5, i
                    b.recv(3)
                    c.recv(5)

    trio.run(main)


def test_wait_kevent_again_keeps_udata_and_lowat() -> None:
    """The re-enabled registration is the caller's change: its udata, and its
    NOTE_LOWAT mark, as at the first wait (a bare ENABLE replaced both)."""
    import socket

    from kevents import NoteRW

    async def main() -> None:
        async with kt.open_queue() as q:
            a, b = socket.socketpair()
            with a, b:
                change = KEvent(b, Filter.READ, Flag.ADD, NoteRW.LOWAT, 3, udata="mine")
                a.send(b"abc")
                with trio.fail_after(5):
                    ev = await q.wait_kevent(change)  # the ADD
                assert ev.udata == "mine"
                b.recv(3)
                for i in range(3):  # the ENABLEs of the kept registration
                    got: list[KEvent] = []

                    async def wait() -> None:
                        got.append(await q.wait_kevent(change))  # noqa: B023

                    a.send(b"x")
                    with trio.fail_after(5):
                        async with trio.open_nursery() as n:
                            n.start_soon(wait)
                            await trio.sleep(0.05)
                            assert not got, i  # below the mark: no event
                            a.send(b"yy")
                    assert (got[0].ident, got[0].data, got[0].udata) == (b.fileno(), 3, "mine")
                    b.recv(3)

    trio.run(main)
