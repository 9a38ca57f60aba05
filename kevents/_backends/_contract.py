"""The backend contract: what every OS backend provides to the kqueue engine.

The engine (``kevents._engine``) owns the kqueue semantics: the knote table, the flag
state machine, change-list errors, the ready list and the scan. A backend owns the
kernel objects. The shape is "arm -> one packet -> re-arm", which is what IOCP gives
natively (an AFD poll, a wait packet or a ReadDirectoryChangesW completes once and must
be re-issued), what epoll gives with EPOLLONESHOT, and what kqueue gives with
EV_DISPATCH; a level-triggered registration is one that the backend re-arms by itself
(epoll LT does it in the kernel, IOCP re-issues the poll before the next wait).

A backend provides:

* ``name``: ``"linux"``, ``"iocp"`` or ``"kqueue"`` (also the ``KEVENTS_BACKEND`` value);
* ``sources(engine)``: the filter table ``{Filter: Source}`` for this queue;
* ``fileno()``: a descriptor that polls readable while events are pending, or
  ``UnsupportedError`` where the OS has none (an I/O completion port is not a
  descriptor): then ``Queue.fileno()`` raises it too;
* ``prepare(wait_ns) -> wait_ns`` (optional): run under the engine lock right before
  each ``wait``, in the thread that will block; it issues the kernel requests that
  must come from that thread (IOCP: the AFD polls, which wepoll found are lost when
  another thread submits them) and returns the wait it may take (at most
  ``wait_ns``), so no change made afterwards by another thread can be missed: such a
  change wakes the waiter through ``set_pending`` or ``arm_timer``. epoll and kqueue
  arm in the kernel at change time and need no hook;
* ``wait(room, timeout_ns)``: block without the engine lock until the kernel has
  packets (at most ``room`` of them) or ``timeout_ns`` passes; returns a batch (falsy
  when empty) handed to ``translate``; raises ``InterruptedError`` on a signal;
* ``translate(batch, engine, out, room)``: under the engine lock, turn the packets into
  events appended to ``out`` (``engine.kernel_event`` applies ONESHOT/DISPATCH) or into knote
  activations (``engine.enqueue``) for sources that keep state in user space. A
  completion backend (IOCP) only enqueues: its packets say "look again", and the
  engine's scan re-checks each knote (``Source.event``) at copy-out, honouring
  ``max_events`` and never returning stale readiness;
* ``set_pending(on)``: make ``fileno()`` readable (or not) while the engine's ready
  list holds events the kernel does not know about, and wake a blocked ``wait``;
* ``arm_timer(deadline_ns)``: wake at this CLOCK_MONOTONIC deadline (-1: never);
* ``close()`` and ``forget()`` (the after-fork variant that releases descriptors
  without touching kernel state shared with the parent);
* ``begin_close()`` (optional): called by ``Engine.close`` before it drops the knotes,
  so a backend whose descriptors take every registration with them (epoll, inotify)
  skips the per-knote system calls;
* ``mechanisms()``: ``{Filter: (mechanism, why)}`` for ``backend_info()``.

A source (FreeBSD's ``filterops``) provides ``attach``, ``detach``, ``touch``,
``enable``, ``disable`` and, for state kept in user space (``userspace = True``),
``event`` (re-run at retrieval: BSD never returns stale readiness) and ``clear``
(reset after delivery with EV_CLEAR). ``Source`` below gives the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._knote import Knote

if TYPE_CHECKING:
    from .._engine import Engine
    from .._event import KEvent


class Source:
    """One kqueue filter on one backend; subclasses override what they need."""

    filter: int = 0
    #: ident is a descriptor: EBADF when it is not open, identity checked on each change.
    fd_based = False
    #: state lives in user space: the engine runs ``event`` after each change and scan.
    userspace = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def identify(self, ident: int) -> object:
        """Return the identity of the object ``ident`` names now (fd-based sources)."""
        raise NotImplementedError

    def attach(self, kn: Knote) -> None:
        """Arm a new knote; raise OSError to refuse it (the change gets EV_ERROR)."""

    def detach(self, kn: Knote) -> None:
        """Disarm a knote that is being deleted; never raises."""

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        """Apply a change to an existing knote (BSD: new input replaces the saved one)."""
        kn.sfflags = fflags
        kn.sdata = data

    def vouch(self, kn: Knote) -> bool:
        """Whether ``kn.ident`` still names the object of ``kn``, a knote registered
        without an identity (``kn.identity`` None), as the kernel itself answers it
        (D80). False: ask ``identify`` and compare, as for any knote (D13)."""
        return False

    def delete_checked(self, kn: Knote) -> int | None:
        """EV_DELETE of ``kn`` where the kernel itself can say whether ``kn.ident``
        still names the knote's object: 0 (it did; now disarmed) or an errno (EBADF:
        closed), and the engine drops the knote without ``identify``. None: ask
        ``identify`` as for any change (D44)."""
        return None

    def enable(self, kn: Knote) -> None:
        """Re-arm after EV_ENABLE."""

    def disable(self, kn: Knote) -> None:
        """Disarm after EV_DISABLE or an EV_DISPATCH delivery."""

    def event(self, kn: Knote) -> bool:
        """Re-evaluate the condition; update kn.fflags/kn.data; True when it holds."""
        return True

    def clear(self, kn: Knote) -> None:
        """Reset output state after a delivery with EV_CLEAR."""
        kn.fflags = 0
        kn.data = 0

    def close(self) -> None:
        """Release per-queue resources of this source."""

    def forget(self) -> None:
        """After fork, in the child: drop resources without touching shared kernel state."""

    def submit(self, op: str, fd: int, buffer: Any, offset: int, udata: Any) -> Knote:
        """Start an operation whose completion is this source's event (AIO only)."""
        raise OSError(95, "this filter takes no submissions")


class Backend(Protocol):
    name: str

    def sources(self, engine: Engine) -> dict[int, Source]: ...
    def fileno(self) -> int: ...
    # optional: def prepare(self, wait_ns: int) -> int
    # timeout_ns: a bound (0 polls), or _engine.FOREVER (negative): no bound
    def wait(self, room: int, timeout_ns: int) -> Any: ...
    def translate(self, batch: Any, engine: Engine, out: list[KEvent], room: int) -> None: ...
    def set_pending(self, on: bool) -> None: ...
    def arm_timer(self, deadline_ns: int) -> None: ...
    def close(self) -> None: ...
    def forget(self) -> None: ...
    def mechanisms(self) -> dict[int, tuple[str, str]]: ...
