"""kevents for asyncio: an event loop on a kevents queue, in one line.

    asyncio.run(main(), loop_factory=kevents_asyncio.new_event_loop)   # 3.12+
    kevents_asyncio.run(main())                                          # 3.11+

These are the entry points. ``install()`` and ``EventLoopPolicy`` (asyncio's policy
system) remain while Python has policies: deprecated with them from 3.14, gone with
them in 3.16.

The loop is asyncio's selector loop with kqueue semantics underneath (see ``_loop.py``
for what changes). Beyond asyncio, awaitable and cancellable: any process's exit
(:func:`wait_process_exit`), signals with counts (:func:`open_signal_receiver`), file
and directory changes (:func:`file_changes`, :func:`wait_file_change`), disk AIO
(:func:`aio_read`, :func:`aio_write`), and any raw registration (:func:`wait_kevent`,
``loop.add_kevent``). Uses only kevents' public API.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as _signal
import sys
import warnings
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from kevents import VNODE_CHANGES, ExitStatus, Filter, Flag, KEvent

from ._loop import WAKE_IDENT, KeventsEventLoop
from ._selector import KeventsSelector

#: Python 3.14 deprecates asyncio's event-loop policies; 3.16 removes them
_POLICIES_DEPRECATED = sys.version_info >= (3, 14)
_HAVE_POLICIES = sys.version_info < (3, 16)

__all__ = [
    "WAKE_IDENT",
    "ExitStatus",
    "KeventsEventLoop",
    "KeventsSelector",
    "aio_read",
    "aio_write",
    "file_changes",
    "new_event_loop",
    "open_signal_receiver",
    "run",
    "wait_file_change",
    "wait_kevent",
    "wait_process_exit",
]
if not _POLICIES_DEPRECATED:  # a star-import must not touch a deprecated name
    __all__ += ["EventLoopPolicy", "install"]

T = TypeVar("T")


def new_event_loop() -> KeventsEventLoop:
    """A new kevents event loop (``loop_factory`` for :func:`asyncio.run` on 3.12+)."""
    return KeventsEventLoop()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """:func:`asyncio.run` on a kevents event loop, on Python 3.11 and later."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


_POLICY_ADVICE = (
    "asyncio's event-loop policies are deprecated since Python 3.14 and go in 3.16; "
    "use kevents_asyncio.run(main()) or asyncio.run(main(), "
    "loop_factory=kevents_asyncio.new_event_loop)"
)


def _policy_class() -> type:
    # Story: the class is made on first use, not at import. On 3.14+ merely reading
    # asyncio.DefaultEventLoopPolicy warns, so a class statement at module level would
    # make ``import kevents_asyncio`` fail under -W error::DeprecationWarning. There
    # the base is taken by its private name, after the one warning of our own.
    global _policy
    if _policy is None:
        if not _POLICIES_DEPRECATED:
            base = asyncio.DefaultEventLoopPolicy
        elif sys.platform == "win32":  # pragma: no cover - Windows
            base = asyncio.windows_events._DefaultEventLoopPolicy  # type: ignore[attr-defined]
        else:
            base = asyncio.unix_events._DefaultEventLoopPolicy  # type: ignore[attr-defined]

        class EventLoopPolicy(base):  # type: ignore[misc, valid-type]
            """The default policy, making kevents loops (``asyncio.set_event_loop_policy``)."""

            def new_event_loop(self) -> KeventsEventLoop:
                return new_event_loop()

        EventLoopPolicy.__module__ = __name__
        _policy = EventLoopPolicy
    return _policy


_policy: type | None = None


def _deprecated_policies(missing: type[Exception]) -> None:
    if not _HAVE_POLICIES:
        raise missing(
            f"Python {sys.version_info[0]}.{sys.version_info[1]} has no event-loop policies"
        )
    if _POLICIES_DEPRECATED:
        warnings.warn(_POLICY_ADVICE, DeprecationWarning, stacklevel=3)


def __getattr__(name: str) -> Any:
    if name == "EventLoopPolicy":
        _deprecated_policies(AttributeError)
        return _policy_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def install() -> None:
    """Make kevents loops the default (as ``uvloop.install()``): sets the policy.
    Deprecated from Python 3.14 with asyncio's policies (gone in 3.16): use
    :func:`run` or ``loop_factory``. RuntimeError where Python has no policies."""
    _deprecated_policies(RuntimeError)
    policy = _policy_class()()
    if _POLICIES_DEPRECATED:
        asyncio.events._set_event_loop_policy(policy)  # type: ignore[attr-defined]
    else:
        asyncio.set_event_loop_policy(policy)


# -- extras ---------------------------------------------------------------------------


def _loop() -> KeventsEventLoop:
    loop = asyncio.get_running_loop()
    if not isinstance(loop, KeventsEventLoop):
        raise RuntimeError(
            "kevents_asyncio needs a kevents event loop "
            "(kevents_asyncio.run(main()) or loop_factory=kevents_asyncio.new_event_loop)"
        )
    return loop


async def _first_event(loop: KeventsEventLoop, subscribe: Any) -> KEvent:
    """``subscribe(callback)`` routes a registration's events to ``callback`` and
    returns the function that ends it; wait for the first event. Cancelling (or an
    error) ends the subscription."""
    fut: asyncio.Future[KEvent] = loop.create_future()

    def deliver(ev: KEvent) -> None:
        if not fut.done():
            fut.set_result(ev)

    unsubscribe = subscribe(deliver)
    try:
        return await fut
    finally:
        unsubscribe()


async def wait_kevent(change: KEvent) -> KEvent:
    """Register ``change`` (made ONESHOT) and return its first event. Cancellable:
    cancelling deletes the registration. Errors raise :class:`OSError`."""
    loop = _loop()
    change = change._replace(flags=int(change.flags) | Flag.ADD | Flag.ONESHOT)

    def subscribe(deliver: Any) -> Any:
        loop.add_kevent(change, deliver)
        return lambda: loop.remove_kevent(change.ident, change.filter)

    return await _first_event(loop, subscribe)


async def wait_process_exit(pid: int) -> ExitStatus:
    """Wait until process ``pid`` (any process, child or not) exits. kevents never
    reaps: a child's status remains for its own ``wait()``."""
    loop = _loop()
    ev = await _first_event(loop, lambda deliver: loop.watch_process_exit(pid, deliver))
    return ExitStatus.from_kevent(ev)


@contextlib.asynccontextmanager
async def open_signal_receiver(*signals: int) -> AsyncIterator[AsyncIterator[tuple[int, int]]]:
    """``async with open_signal_receiver(SIGTERM, SIGHUP) as signals:`` then
    ``async for signum, count in signals``. Counts are never lost: while the receiver
    is open the signals are ignored (as BSD programs do with kqueue) and counted by the
    SIGNAL filter; the previous handlers come back on exit."""
    if not signals:
        raise TypeError("open_signal_receiver needs at least one signal")
    loop = _loop()
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    previous: dict[int, Any] = {}
    try:
        for sig in signals:
            previous[sig] = _signal.signal(sig, _signal.SIG_IGN)
            loop.add_kevent(
                KEvent(sig, Filter.SIGNAL, Flag.ADD),
                lambda ev: queue.put_nowait((int(ev.ident), int(ev.data))),
            )

        async def receive() -> AsyncIterator[tuple[int, int]]:
            while True:
                yield await queue.get()

        yield receive()
    finally:
        for sig in previous:
            loop.remove_kevent(sig, Filter.SIGNAL)
        for sig, handler in previous.items():
            _signal.signal(sig, handler)


def _open_target(target: int | str) -> tuple[int, bool]:
    if isinstance(target, int):
        return target, False
    return os.open(target, os.O_RDONLY), True


async def wait_file_change(target: int | str, notes: int = VNODE_CHANGES) -> int:
    """Wait for the next change to a file or directory (an fd or a path); returns the
    NoteVnode bits that happened."""
    fd, owned = _open_target(target)
    try:
        ev = await wait_kevent(KEvent(fd, Filter.VNODE, Flag.CLEAR, notes))
    finally:
        if owned:
            os.close(fd)
    return int(ev.fflags)


async def file_changes(target: int | str, notes: int = VNODE_CHANGES) -> AsyncIterator[KEvent]:
    """Every change to a file or directory (an fd or a path), as VNODE events, until
    the caller stops iterating (or the file is deleted and the event says so)."""
    loop = _loop()
    queue: asyncio.Queue[KEvent] = asyncio.Queue()
    fd, owned = _open_target(target)
    try:
        loop.add_kevent(KEvent(fd, Filter.VNODE, Flag.CLEAR, notes), queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            loop.remove_kevent(fd, Filter.VNODE)
    finally:
        if owned:
            os.close(fd)


async def _aio(submit: Any) -> int:
    loop = _loop()
    rid = submit(loop.queue)

    def subscribe(deliver: Any) -> Any:
        loop.on_kevent(rid, Filter.AIO, deliver)
        # deleting a request in flight cancels it (its buffer stays pinned until the
        # kernel is done with it)
        return lambda: loop.remove_kevent(rid, Filter.AIO)

    ev = await _first_event(loop, subscribe)
    if ev.data < 0:
        raise OSError(ev.fflags, os.strerror(ev.fflags))
    return int(ev.data)


async def aio_read(fd: int, buffer: Any, offset: int) -> int:
    """Read into ``buffer`` at ``offset`` of ``fd`` through the queue's AIO (io_uring on
    Linux where available); returns the bytes read."""
    return await _aio(lambda kq: kq.aio_read(fd, buffer, offset))


async def aio_write(fd: int, buffer: Any, offset: int) -> int:
    """Write ``buffer`` at ``offset`` of ``fd`` through the queue's AIO; returns the
    bytes written."""
    return await _aio(lambda kq: kq.aio_write(fd, buffer, offset))
