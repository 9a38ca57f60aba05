"""A user's typed program over every public API of kevents, kevents.compat.select,
kevents_asyncio and kevents_trio (POSIX).

Two jobs (D59): ``mypy --strict`` and ``basedpyright`` (strict, tests/typing/
pyrightconfig.json) must accept it against the *installed* wheel, which proves the
annotations and the ``py.typed`` markers ship; and it runs: a READ/TIMER/USER/PROC/SIGNAL
round on a native queue, the same through compat.select, and the asyncio and Trio
adapters, each checked. ``assert_type`` pins what a user's checker infers (no ``Any``
where kevents knows better). .ci/artefact-test.sh runs and checks it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import assert_type

import kevents_asyncio
import kevents_trio
import trio
import trio.testing

import kevents
from kevents import (
    VNODE_CHANGES,
    BackendInfo,
    ExitStatus,
    Filter,
    FilterInfo,
    Flag,
    KEvent,
    NoteProc,
    NoteRW,
    NoteTimer,
    NoteUser,
    NoteVnode,
    Process,
    Queue,
    SigInfo,
    UnsupportedError,
    backend_info,
    pidfd_open,
    spawn,
)
from kevents.compat import select as kselect

PY = sys.executable
EXIT_7 = [PY, "-c", "import os; os._exit(7)"]


def native_round() -> set[str]:
    """One queue: a socket (passed as an object with fileno()), a one-shot timer, a user
    event, a child's exit and a signal; returns the filters seen."""
    info: BackendInfo = backend_info()
    read_info: FilterInfo = info.filter(Filter.READ)
    assert read_info.supported, read_info.why
    assert_type(info.backend, str)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # counted by the filter, as on BSD
    a, b = socket.socketpair()
    child = subprocess.Popen(EXIT_7)
    seen: set[str] = set()
    with Queue() as kq, a, b:
        assert_type(kq.backend, str)
        # A list literal passed to control() is checked against its parameter; an
        # unannotated variable mixing a socket and ints would be list[object] to mypy.
        errors = kq.control(
            [
                KEvent(b, Filter.READ, Flag.ADD, NoteRW.LOWAT, 1),
                KEvent(1, Filter.TIMER, Flag.ADD | Flag.ONESHOT, NoteTimer.MSECONDS, 5),
                KEvent(2, Filter.USER, Flag.ADD | Flag.CLEAR, udata="wake"),
                KEvent(child.pid, Filter.PROC, Flag.ADD, NoteProc.EXIT),
                KEvent(signal.SIGUSR1, Filter.SIGNAL, Flag.ADD),
            ],
            0,
        )
        assert errors == []
        a.send(b"ping")
        kq.control([KEvent(2, Filter.USER, Flag.KEEPUDATA, NoteUser.TRIGGER)], 0)
        os.kill(os.getpid(), signal.SIGUSR1)
        while len(seen) < 5:
            events = kq.control(None, 8, timeout=5.0)
            assert events, f"timed out; seen {sorted(seen)}"
            for ev in events:
                assert_type(ev, KEvent)
                assert_type(ev.ident, int)  # an event's ident is always the int
                name = Filter(ev.filter).name
                seen.add(name)
                if ev.filter == Filter.READ:
                    assert b.recv(ev.data) == b"ping"
                elif ev.filter == Filter.USER:
                    assert ev.udata == "wake"
                elif ev.filter == Filter.PROC:
                    status: ExitStatus = ExitStatus.from_kevent(ev)
                    assert status.exitcode in (7, None), status
                elif ev.filter == Filter.SIGNAL:
                    assert ev.data >= 1
                    if ev.ext is not None:
                        assert isinstance(ev.ext, SigInfo)
                        assert_type(ev.ext.pid, int)
        child.wait()
        aio_round(kq)
        assert not kq.closed
    assert kq.closed
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    return seen


def aio_round(kq: Queue) -> None:
    """Disk AIO: write, then read back, through one queue."""
    with tempfile.TemporaryFile() as f:
        fd = f.fileno()
        with kq.aio_batch():
            wid = kq.aio_write(fd, b"kevents", 0, udata="w")
        got = kq.control(None, 1, timeout=5.0)
        assert [(e.ident, e.filter, e.data) for e in got] == [(wid, Filter.AIO, 7)], got
        buf = bytearray(7)
        rid = kq.aio_read(fd, buf, 0)
        got = kq.control(None, 1, timeout=5.0)
        assert [(e.ident, e.data) for e in got] == [(rid, 7)] and buf == b"kevents", got
        kq.aio_fsync(fd)
        assert len(kq.control(None, 1, timeout=5.0)) == 1


def process_round() -> None:
    """kevents.spawn and pidfd_open: PROCDESC where process descriptors exist."""
    try:
        with spawn(EXIT_7) as proc, Queue() as kq:
            assert_type(proc, Process)
            assert_type(proc.pidfd, int)
            kq.control([KEvent(proc.pidfd, Filter.PROCDESC, Flag.ADD, NoteProc.EXIT)], 0)
            (ev,) = kq.control(None, 1, timeout=5.0)
            assert ExitStatus.from_kevent(ev).known
            fd = pidfd_open(os.getpid())
            os.close(fd)
    except UnsupportedError as exc:  # no pidfd here (not Linux 5.3+)
        print("PROCDESC:", exc)


def vnode_round() -> None:
    """A file change, through the vocabulary every adapter shares."""
    assert VNODE_CHANGES & NoteVnode.WRITE
    with tempfile.NamedTemporaryFile() as f, Queue() as kq:
        kq.control([KEvent(f.fileno(), Filter.VNODE, Flag.ADD | Flag.CLEAR, VNODE_CHANGES)], 0)
        f.write(b"x")
        f.flush()
        (ev,) = kq.control(None, 1, timeout=5.0)
        assert ev.fflags & NoteVnode.WRITE, ev


def compat_round() -> None:
    """BSD's select.kqueue API, unchanged."""
    kq = kselect.kqueue()
    try:
        ev = kselect.kevent(3, kselect.KQ_FILTER_USER, kselect.KQ_EV_ADD | kselect.KQ_EV_CLEAR)
        kq.control([ev], 0)
        kq.control([kselect.kevent(3, kselect.KQ_FILTER_USER, 0, kselect.KQ_NOTE_TRIGGER)], 0)
        (got,) = kq.control(None, 1, 5.0)
        assert_type(got, kselect.kevent)
        assert got.ident == 3 and got.filter == kselect.KQ_FILTER_USER, got
        assert isinstance(kq.fileno(), int)
    except kselect.error as exc:
        raise AssertionError(exc) from exc
    finally:
        kq.close()
    assert callable(kselect.install)  # install() would patch the select module: not here


async def _one_sigusr2(signals: AsyncIterator[tuple[int, int]]) -> None:
    """Send SIGUSR2 once; a receiver reports it once, with its count."""
    os.kill(os.getpid(), signal.SIGUSR2)
    async for signum, count in signals:
        assert (signum, count) == (signal.SIGUSR2, 1)
        return


async def _first_asyncio_change(path: str) -> KEvent:
    async for ev in kevents_asyncio.file_changes(path):
        assert_type(ev, KEvent)
        return ev
    raise AssertionError("file_changes() ended")


async def asyncio_main() -> str:
    """Every kevents_asyncio helper once, on the kevents loop."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, kevents_asyncio.KeventsEventLoop)
    assert isinstance(loop.queue, Queue)
    assert kevents_asyncio.WAKE_IDENT > 0
    ev = await kevents_asyncio.wait_kevent(KEvent(5, Filter.TIMER, Flag.ADD, data=1))
    assert_type(ev, KEvent)
    child = subprocess.Popen(EXIT_7)
    status = await kevents_asyncio.wait_process_exit(child.pid)
    assert_type(status, kevents_asyncio.ExitStatus)
    child.wait()
    async with kevents_asyncio.open_signal_receiver(signal.SIGUSR2) as signals:
        await _one_sigusr2(signals)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        with open(path, "wb") as f:
            waiter = asyncio.ensure_future(kevents_asyncio.wait_file_change(path))
            await asyncio.sleep(0)  # the task ran up to its wait: registered
            f.write(b"x")
            f.flush()
            notes = await asyncio.wait_for(waiter, 5.0)
            assert_type(notes, int)
            first = asyncio.ensure_future(_first_asyncio_change(path))
            await asyncio.sleep(0)  # the task ran up to its wait: registered
            f.write(b"y")
            f.flush()
            assert (await asyncio.wait_for(first, 5.0)).fflags & NoteVnode.WRITE
            fd = os.open(path, os.O_RDWR)
            try:
                assert await kevents_asyncio.aio_write(fd, b"abc", 0) == 3
                buf = bytearray(3)
                assert await kevents_asyncio.aio_read(fd, buf, 0) == 3 and buf == b"abc"
            finally:
                os.close(fd)
    selector = kevents_asyncio.KeventsSelector()
    selector.close()
    return "asyncio ok"


def asyncio_round() -> None:
    """Python 3.11 has no ``loop_factory``: kevents_asyncio.run works on every version."""
    assert_type(kevents_asyncio.run(asyncio_main()), str)
    loop = kevents_asyncio.new_event_loop()
    loop.close()
    assert isinstance(kevents_asyncio.EventLoopPolicy().new_event_loop(), asyncio.AbstractEventLoop)
    assert callable(kevents_asyncio.install)  # sets the policy: not done here


async def _first_trio_change(path: str) -> None:
    with trio.fail_after(5.0):
        async for ev in kevents_trio.file_changes(path):
            assert_type(ev, KEvent)
            assert ev.fflags & NoteVnode.WRITE, ev
            return


async def trio_main() -> str:
    """Every kevents_trio helper once."""
    ev = await kevents_trio.wait_kevent(KEvent(6, Filter.TIMER, Flag.ADD, data=1))
    assert_type(ev, KEvent)
    child = subprocess.Popen(EXIT_7)
    status = await kevents_trio.wait_process_exit(child.pid)
    assert_type(status, kevents_trio.ExitStatus)
    child.wait()
    async with kevents_trio.open_signal_receiver(signal.SIGUSR2) as signals:
        await _one_sigusr2(signals)
    async with kevents_trio.open_queue() as q:
        assert_type(q, kevents_trio.TrioQueue)
        q.register(KEvent(9, Filter.USER, Flag.ADD | Flag.CLEAR))

        async def trigger() -> None:  # runs once wait_kevent has registered and waits
            q.trigger(9)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trigger)
            got = await q.wait_kevent(KEvent(9, Filter.USER, Flag.ADD | Flag.CLEAR))
        assert got.ident == 9, got
        q.delete(9, Filter.USER)
        assert q.control([]) == []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        with open(path, "wb") as f:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(kevents_trio.wait_file_change, path)
                await trio.testing.wait_all_tasks_blocked()  # registered
                f.write(b"x")
                f.flush()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_first_trio_change, path)
                await trio.testing.wait_all_tasks_blocked()  # registered
                f.write(b"y")
                f.flush()
            fd = os.open(path, os.O_RDWR)
            try:
                assert await kevents_trio.aio_write(fd, b"abc", 0) == 3
                buf = bytearray(3)
                assert await kevents_trio.aio_read(fd, buf, 0) == 3 and buf == b"abc"
            finally:
                os.close(fd)
    return "trio ok"


def main() -> None:
    print("kevents", kevents.__version__, "from", os.path.dirname(kevents.__file__))
    print("native:", sorted(native_round()))
    process_round()
    vnode_round()
    compat_round()
    asyncio_round()
    print(trio.run(trio_main))
    print("user sample ok")


if __name__ == "__main__":
    main()
