"""The kevents event loop: asyncio's selector loop with kqueue underneath.

What changes from :class:`asyncio.SelectorEventLoop`, and why:

* the selector is :class:`KeventsSelector` (one kevents queue per loop);
* ``call_soon_threadsafe`` wakes the loop by triggering a USER event, not by writing
  to a self-pipe: no socketpair, no byte to drain, and many wake-ups before the loop
  runs cost one event (EV_CLEAR);
* ``add_signal_handler`` registers a SIGNAL knote instead of ``signal.set_wakeup_fd``
  (which allows one fd per process): the callback runs once per delivery, as with
  asyncio, and several loops (or a loop and other kevents queues) can watch signals;
* subprocess exits come from a PROC knote on the child's pid: no SIGCHLD handler, no
  child-watcher thread, no ``waitpid(-1)`` that could steal other children's statuses;
  the loop reaps exactly the children it spawned, after their exit event;
* :meth:`add_kevent` / :meth:`remove_kevent` give raw access to the queue: any
  registration with a callback that receives its events;
* socket and datagram transports read into one buffer the loop owns, not into a fresh
  256 KiB block per read (``_transports.py``).

Everything else (the transports' other paths, servers, SSL, sendfile, Unix sockets,
pipes, timers) is asyncio's own code, running on this selector.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import logging
import os
import selectors
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteUser

from ._selector import SKIPPED, LoopSelector
from ._transports import DatagramTransport, ReadBuffer, SocketTransport

# asyncio's selector loop and the private parts it is built from; typeshed describes
# neither, so they are typed Any here.
_Base: Any
_unix: Any
if sys.platform == "win32":  # pragma: no cover - Windows
    _Base = asyncio.selector_events.BaseSelectorEventLoop
else:
    from asyncio import unix_events as _unix

    _Base = _unix._UnixSelectorEventLoop
_logger = logging.getLogger("asyncio")

#: the USER ident that wakes the loop; raw registrations may not use it
WAKE_IDENT = 0x7FFFFFFC
_WAKE_KEY = (WAKE_IDENT, int(Filter.USER))
_SIGNAL = int(Filter.SIGNAL)
# an fd event's selector mask and its slot in the key's (reader, writer) data
_ROLES = {
    int(Filter.READ): (selectors.EVENT_READ, 0),
    int(Filter.WRITE): (selectors.EVENT_WRITE, 1),
}
_ONESHOT = int(Flag.ONESHOT)
_TRIGGER = [KEvent(WAKE_IDENT, Filter.USER, 0, NoteUser.TRIGGER)]

KeventCallback = Callable[[KEvent], object]


def _sighandler_noop(signum: int, frame: object) -> None:
    """The Python-level handler while asyncio handles a signal (as asyncio does): the
    signal neither kills the process nor raises KeyboardInterrupt."""


class KeventsEventLoop(_Base):  # type: ignore[misc]
    """An asyncio event loop on a :class:`kevents.Queue`."""

    def __init__(self, queue: kevents.Queue | None = None) -> None:
        self._kev_callbacks: dict[tuple[int, int], KeventCallback] = {}
        self._exit_waiters: dict[int, list[KeventCallback]] = {}
        self._kev_read_buffer = ReadBuffer()
        self._wake_sent = False
        selector = LoopSelector(queue)
        self._queue = selector.queue
        super().__init__(selector)
        if not hasattr(self, "_signal_handlers"):  # Windows base class
            self._signal_handlers: dict[int, asyncio.Handle] = {}

    @property
    def queue(self) -> kevents.Queue:
        """The loop's kevents queue."""
        return self._queue

    # -- transports: one reused read buffer --------------------------------------------

    def _make_socket_transport(
        self,
        sock: Any,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: Any = None,
        server: Any = None,
        **kwargs: Any,  # 3.15: context
    ) -> Any:
        self._no_transport_yet(sock)
        return SocketTransport(self, sock, protocol, waiter, extra, server, **kwargs)

    def _make_datagram_transport(
        self, sock: Any, protocol: Any, address: Any = None, waiter: Any = None, extra: Any = None
    ) -> Any:
        self._no_transport_yet(sock)
        return DatagramTransport(self, sock, protocol, address, waiter, extra)

    def _no_transport_yet(self, sock: Any) -> None:
        # 3.12+ refuse a second transport on one fd (gh-89457); 3.11 has no such check
        ensure = getattr(self, "_ensure_fd_no_transport", None)
        if ensure is not None:
            ensure(sock)

    # -- waking the loop: a USER event, not a self-pipe -------------------------------

    def _make_self_pipe(self) -> None:
        self._queue.control([KEvent(WAKE_IDENT, Filter.USER, Flag.ADD | Flag.CLEAR)], 0)
        self._wake: Callable[..., object] | None = self._queue.control
        self._wake_sent = False

    def _close_self_pipe(self) -> None:
        self._wake = None

    def _write_to_self(self) -> None:
        # Called from any thread (call_soon_threadsafe) and from signal handlers' paths;
        # a closed loop ignores it, as asyncio's self-pipe does.
        #
        # Story (issue 14): one trigger per loop turn is enough. A trigger sent since
        # the loop last returned from select() is still pending in the queue (EV_CLEAR
        # merges the rest into it), so the loop's next select() returns at once and
        # runs every callback queued before it: later calls skip the system call until
        # _process_events clears the mark, which it does before the turn counts its
        # ready callbacks. A race between two threads costs one extra trigger, never
        # a lost one; a failed trigger clears the mark.
        if self._wake_sent:
            return
        wake = self._wake
        if wake is None:
            return
        self._wake_sent = True
        try:
            wake(_TRIGGER, 0)
        except (OSError, ValueError):
            self._wake_sent = False
            if self._debug:
                _logger.debug("Fail to wake up the event loop", exc_info=True)

    def _read_from_self(self) -> None:
        pass  # nothing to drain: the USER event is EV_CLEAR

    # -- events that are not fd readiness ----------------------------------------------

    def _process_events(self, event_list: list[Any]) -> None:
        # One pass over the queue's events (LoopSelector.select returns them as they
        # are): fd events schedule their reader/writer handles as asyncio's own
        # _process_events does; every other event goes to its kevent callback after
        # the fd events of the turn, in order.
        if event_list is SKIPPED:
            return  # no poll: a trigger sent before is still pending in the queue
        self._wake_sent = False  # select() returned: the next wake-up needs a trigger
        if not event_list:
            return
        if event_list[0].__class__ is not KEvent:
            super()._process_events(event_list)  # (key, mask) pairs: a stand-in selector
            return
        get = self._selector._fd_to_key.get
        append = self._ready.append
        others = None
        for ev in event_list:
            role = _ROLES.get(ev[1])  # ev.filter: the tuple index is the cheaper read
            if role is not None:
                key = get(ev[0])
                if key is not None:
                    mask, slot = role
                    if key.events & mask:
                        handle = key.data[slot]  # (reader, writer)
                        if handle is not None:
                            if not handle._cancelled:
                                append(handle)
                            elif slot == 0:
                                self._remove_reader(key.fileobj)
                            else:
                                self._remove_writer(key.fileobj)
                    continue
            if others is None:
                others = [ev]
            else:
                others.append(ev)
        if others is not None:
            self._kevent_callbacks(others)

    def run_forever(self) -> None:
        if isinstance(self._selector, LoopSelector):  # (tests may swap it)
            self._selector.fresh = False  # a run's first turn polls (LoopSelector.select)
        super().run_forever()

    def _kevent_callbacks(self, events: list[KEvent]) -> None:
        callbacks = self._kev_callbacks
        for ev in events:
            key = (ev.ident, ev.filter)
            if key == _WAKE_KEY:
                continue
            cb = callbacks.get(key)
            if cb is None:
                continue
            if ev.flags & _ONESHOT:
                del callbacks[key]  # delivered once: the queue has dropped it
            try:
                cb(ev)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.call_exception_handler(
                    {"message": f"Exception in kevent callback for {ev}", "exception": exc}
                )

    def add_kevent(self, change: KEvent, callback: KeventCallback) -> None:
        """Register ``change`` (EV_ADD implied) and call ``callback(event)`` in the loop
        for each of its events. A ONESHOT registration is forgotten after its event.
        Errors raise :class:`OSError` at once; a key the loop already routes (yours, a
        signal handler's, a watched process's) raises :class:`ValueError`. Modify a
        registration with ``loop.queue.control()``."""
        self._check_closed()
        key = (int(change.ident), int(change.filter))
        if key == _WAKE_KEY:
            raise ValueError(f"USER ident {WAKE_IDENT:#x} is reserved by the loop")
        if key in self._kev_callbacks:
            raise ValueError(f"{Filter(change.filter).name} {change.ident} is already registered")
        if key[1] in (Filter.READ, Filter.WRITE) and key[0] in self._selector._fd_to_key:
            raise ValueError(f"fd {change.ident} is registered with add_reader/add_writer")
        self._queue.control([change._replace(flags=int(change.flags) | Flag.ADD)], 0)
        self._kev_callbacks[key] = callback

    def on_kevent(self, ident: int, filt: int, callback: KeventCallback) -> None:
        """Route the events of a registration made another way (an AIO request id from
        ``loop.queue.aio_read``, say) to ``callback``; :meth:`remove_kevent` deletes it."""
        self._kev_callbacks[(int(ident), int(filt))] = callback

    def remove_kevent(self, ident: int, filt: int) -> bool:
        """Delete a registration made with :meth:`add_kevent`; False if there was none."""
        cb = self._kev_callbacks.pop((int(ident), int(filt)), None)
        if cb is None:
            return False
        if not self.is_closed():
            # already gone with its object (a closed fd, an exited process): fine
            with contextlib.suppress(OSError):
                self._queue.control([KEvent(ident, filt, Flag.DELETE)], 0)
        return True

    def watch_process_exit(self, pid: int, callback: KeventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` when process ``pid`` exits (its NOTE_EXIT event);
        returns a function that cancels. Any number of watchers share one PROC knote
        (subprocess transports and :func:`wait_process_exit` among them). OSError (ESRCH)
        if there is no such process."""
        waiters = self._exit_waiters.get(pid)
        if waiters is None:
            self.add_kevent(KEvent(pid, Filter.PROC, Flag.ADD, NoteProc.EXIT), self._exited)
            waiters = self._exit_waiters[pid] = []
        waiters.append(callback)

        def cancel() -> None:
            now = self._exit_waiters.get(pid)
            if now is not None and any(cb is callback for cb in now):
                now[:] = [cb for cb in now if cb is not callback]
                if not now:
                    del self._exit_waiters[pid]
                    self.remove_kevent(pid, Filter.PROC)

        return cancel

    def _exited(self, ev: KEvent) -> None:
        for cb in self._exit_waiters.pop(int(ev.ident), []):
            cb(ev)

    # -- signals through the SIGNAL filter ---------------------------------------------

    def _check_signal(self, sig: int) -> None:
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` in the loop once per delivery of ``sig``."""
        # inspect's test: asyncio.iscoroutinefunction is deprecated from 3.14
        if asyncio.iscoroutine(callback) or inspect.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers can only be added in the main thread")
        handle = asyncio.Handle(callback, args, self, None)
        if sig in self._signal_handlers:
            self._signal_handlers[sig] = handle
            return
        if (sig, _SIGNAL) in self._kev_callbacks:
            raise RuntimeError(f"sig {sig} is watched by this loop another way (add_kevent)")
        self._signal_handlers[sig] = handle
        try:
            # The disposition first, then the knote (on Linux, kevents' counting
            # handler goes on top of it and chains to it; D16).
            signal.signal(sig, _sighandler_noop)
            if hasattr(signal, "siginterrupt"):
                signal.siginterrupt(sig, False)
            self.add_kevent(KEvent(sig, Filter.SIGNAL), self._signal_event)
        except OSError as exc:
            del self._signal_handlers[sig]
            self._restore_signal(sig)
            if exc.errno in (errno.EINVAL, errno.EPERM, errno.ENOTSUP):
                raise RuntimeError(f"sig {sig} cannot be caught") from exc
            raise

    def _signal_event(self, ev: KEvent) -> None:
        sig = int(ev.ident)
        for _ in range(max(1, int(ev.data))):
            handle = self._signal_handlers.get(sig)
            if handle is None:
                return
            if handle._cancelled:
                self.remove_signal_handler(sig)
                return
            self._add_callback(handle)

    def remove_signal_handler(self, sig: int) -> bool:
        """Remove the handler of ``sig``; False if there was none."""
        self._check_signal(sig)
        if self._signal_handlers.pop(sig, None) is None:
            return False
        self.remove_kevent(sig, _SIGNAL)
        self._restore_signal(sig)
        return True

    @staticmethod
    def _restore_signal(sig: int) -> None:
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from exc
            raise

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if not sys.is_finalizing():
            for sig in list(self._signal_handlers):
                self.remove_signal_handler(sig)
        elif self._signal_handlers:
            warnings.warn(
                f"Closing the loop {self!r} on interpreter shutdown stage, "
                "skipping signal handlers removal",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
            self._signal_handlers.clear()
        self._kev_callbacks.clear()
        self._exit_waiters.clear()
        super().close()

    # -- subprocesses: exit through the PROC filter ------------------------------------

    if sys.platform == "win32":  # pragma: no cover - Windows: pipes by READ/WRITE (D75)
        from ._windows_pipes import connect_read_pipe, connect_write_pipe
        from ._windows_pipes import make_subprocess_transport as _make_subprocess_transport
    else:

        async def _make_subprocess_transport(
            self,
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
            waiter = self.create_future()
            transp = _SubprocessTransport(
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
            try:
                # An exited, unreaped child registers fine and reports at once.
                self.watch_process_exit(
                    transp.get_pid(), lambda ev: self.call_soon(self._child_exited, ev, transp)
                )
                await waiter
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                transp.close()
                await transp._wait()
                raise
            return transp

        def _child_exited(self, ev: KEvent, transp: Any) -> None:
            # Story (issue 15.5, CPython gh-127049): the pid is freed for reuse the
            # moment waitpid() reaps it, so reaping and publishing the returncode are
            # one step here, with no loop turn between them in which a task could call
            # proc.kill() on a pid the kernel may have given to another process. Until
            # this step the child is a zombie: a signal to it reaches nobody else. The
            # step runs one turn after the exit event, so the pipes' last data is read
            # before the exit is seen.
            pid = int(ev.ident)
            try:
                reaped, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                reaped, status = 0, 0  # reaped elsewhere: the event's status, if any
            if reaped == pid:
                code = os.waitstatus_to_exitcode(status)
            elif ev.fflags & NoteProc.EXITSTATUS:
                code = os.waitstatus_to_exitcode(int(ev.data))
            else:
                _logger.warning("Unknown child process pid %d, will report returncode 255", pid)
                code = 255
            transp._process_exited(code)


if sys.platform != "win32":

    class _SubprocessTransport(_unix._UnixSubprocessTransport):  # type: ignore[misc]
        """asyncio's transport, signalling only a child that is not reaped yet.

        asyncio 3.11/3.12 signal through ``Popen.send_signal``, whose ``poll()`` reaps
        the child behind the loop's back; 3.13 calls ``os.kill`` even after the
        returncode is known. Here a signal goes out only while the returncode is
        unknown, which (the loop reaps and publishes in one step) means the pid is
        still this child's. Once the transport is closed: ProcessLookupError, as
        asyncio's."""

        def send_signal(self, sig: int) -> None:
            self._check_proc()
            if self._returncode is not None:
                return  # reaped: the pid may be another process's now (as Popen)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, sig)

        def terminate(self) -> None:
            self.send_signal(signal.SIGTERM)

        def kill(self) -> None:
            self.send_signal(signal.SIGKILL)
