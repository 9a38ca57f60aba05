"""The differential driver (issue 13, deliver 2): one seeded random program of change
lists and event traffic, applied step by step to two queues watching the same objects,
one on the C core and one on the Python engine (``KEVENTS_SPEEDUPS=0`` when it is
made), comparing every returned event and every error.

Both queues watch the same descriptors, so every event source is shared: socket and
pipe traffic, EOF, closed and reused descriptor numbers, USER triggers, TIMERs that are
due at once (an absolute time long past) or never (so timing cannot differ), child
exits (waited for before looking), file changes, and, when ``signals`` is set (only
in a child interpreter: dispositions are process-global), SIGUSR1 deliveries.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteTimer, NoteUser, NoteVnode

_FLAG_CHOICES = [
    Flag.ADD,
    Flag.ADD,
    Flag.ADD | Flag.CLEAR,
    Flag.ADD | Flag.ONESHOT,
    Flag.ADD | Flag.DISPATCH,
    Flag.ADD | Flag.DISABLE,
    Flag.ADD | Flag.RECEIPT,
    Flag.ADD | Flag.CLEAR | Flag.RECEIPT,
    Flag.ADD | Flag.ENABLE,
    Flag.DELETE,
    Flag.DELETE | Flag.RECEIPT,
    Flag.DELETE,
    Flag.ENABLE,
    Flag.DISABLE,
    Flag.ENABLE | Flag.DISABLE,  # EINVAL
    Flag.ADD | Flag.DELETE,  # EINVAL
    Flag.ADD | Flag.KEEPUDATA,  # EINVAL
    Flag.FORCEONESHOT,
    Flag.KEEPUDATA,
    Flag.ENABLE | Flag.KEEPUDATA,
    Flag.DISABLE | Flag.KEEPUDATA,
    Flag.ENABLE | 0x0400,  # no flag's bit: the C pass once took it for EV_KEEPUDATA
    Flag.ADD | Flag.NODATA,  # kevents' per-knote opt-out of data (D78)
    Flag.ADD | Flag.CLEAR | Flag.NODATA,
]


def _outcome(fn: Callable[[], list[KEvent]]) -> Any:
    try:
        return ("ok", [tuple(ev) for ev in fn()])
    except Exception as exc:  # every error is part of the comparison
        return ("error", type(exc).__name__, getattr(exc, "errno", None), str(exc))


class World:
    """The objects both queues watch, and the traffic that makes them fire."""

    def __init__(self, rng: random.Random, signals: bool) -> None:
        self.rng = rng
        self.signals = signals
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.pipes: list[tuple[int, int]] = []
        self.closed: list[int] = []  # numbers closed under their knotes (maybe reused)
        self.children: list[int] = []
        self.tmp = tempfile.TemporaryDirectory()
        self.files: list[int] = []
        for _ in range(3):
            self.pairs.append(socket.socketpair())
            r, w = os.pipe()
            self.pipes.append((r, w))
        for i in range(2):
            path = os.path.join(self.tmp.name, f"f{i}")
            with open(path, "wb") as f:
                f.write(b"abc")
            self.files.append(os.open(path, os.O_RDWR))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))

    def fds(self) -> list[int]:
        out = [s.fileno() for pair in self.pairs for s in pair if s.fileno() >= 0]
        out += [fd for pair in self.pipes for fd in pair]
        out += [*self.files, self.udp.fileno(), *self.closed]
        return out

    def ident(self, filt: int) -> Any:
        rng = self.rng
        if filt in (Filter.READ, Filter.WRITE, Filter.VNODE):
            if rng.random() < 0.05:
                return rng.choice([-1, 0x7FFFFFFF, 99999])
            if rng.random() < 0.03:
                return rng.choice(self.pairs)[1]  # a fileno() object: resolved first
            return rng.choice(self.fds())
        if filt == Filter.PROC:
            return rng.choice([*self.children, os.getpid(), 999999]) if self.children else 999999
        if filt == Filter.SIGNAL:
            return rng.choice([signal.SIGUSR1, signal.SIGUSR2, 0, 100])
        return rng.randrange(4)  # USER and TIMER idents, and bad filters

    def change(self) -> KEvent:
        rng = self.rng
        filters = [Filter.READ] * 4 + [Filter.WRITE] * 2 + [Filter.USER] * 2
        filters += [Filter.TIMER, Filter.VNODE, Filter.PROC, -99, Filter.EMPTY]
        if self.signals:
            filters.append(Filter.SIGNAL)
        filt = rng.choice(filters)
        flags = int(rng.choice(_FLAG_CHOICES))
        fflags, data = 0, 0
        if filt == Filter.USER:
            fflags = rng.choice(
                [0, NoteUser.TRIGGER, NoteUser.FFCOPY | 5, NoteUser.FFOR | 2, NoteUser.FFAND]
            )
            data = rng.randrange(3)
        elif filt == Filter.TIMER:
            # due at once and only once (an absolute time long past), never within the
            # test, or invalid: nothing here can race the clock
            if rng.random() < 0.5:
                fflags, data = int(NoteTimer.ABSTIME | NoteTimer.SECONDS), 1
            else:
                data = rng.choice([10**9, -1])
        elif filt == Filter.VNODE:
            fflags = rng.choice([NoteVnode.WRITE, NoteVnode.ATTRIB | NoteVnode.EXTEND, 0])
        elif filt == Filter.PROC:
            fflags = int(NoteProc.EXIT)
        elif filt == Filter.READ and rng.random() < 0.1:
            fflags, data = 1, rng.randrange(1, 4)  # NOTE_LOWAT (EINVAL off sockets)
        return KEvent(self.ident(filt), filt, flags, fflags, data, rng.randrange(3))

    def traffic(self) -> None:
        rng = self.rng
        what = rng.randrange(10)
        if what <= 2:
            a, b = rng.choice(self.pairs)
            if a.fileno() >= 0 and b.fileno() >= 0:
                with contextlib.suppress(OSError):
                    rng.choice([a, b]).send(b"x" * rng.randrange(1, 5))
        elif what == 3:
            for s in rng.choice(self.pairs):
                if s.fileno() >= 0:
                    with contextlib.suppress(OSError):
                        s.recv(2, socket.MSG_DONTWAIT)
        elif what == 4:
            r, w = rng.choice(self.pipes)
            os.write(w, b"y")
        elif what == 5:
            r, w = rng.choice(self.pipes)
            os.set_blocking(r, False)
            with contextlib.suppress(BlockingIOError):
                os.read(r, 1)
        elif what == 6 and len(self.pairs) > 1:
            # close one side (EOF for the peer), or the fd under its knotes (stale)
            a, b = self.pairs.pop(rng.randrange(len(self.pairs)))
            num = a.fileno()
            a.close()
            self.closed.append(num)
            self.pairs.append((socket.socket(), b))  # the number may be reused here
        elif what == 7:
            fd = rng.choice(self.files)
            os.write(fd, b"z")
        elif what == 8 and len(self.children) < 3:
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited before anyone looks
            self.children.append(pid)
        elif what == 9 and self.signals:
            os.kill(os.getpid(), signal.SIGUSR1)

    def close(self) -> None:
        for a, b in self.pairs:
            a.close()
            b.close()
        for r, w in self.pipes:
            os.close(r)
            os.close(w)
        for fd in self.files:
            os.close(fd)
        self.udp.close()
        for pid in self.children:
            os.waitpid(pid, 0)
        self.tmp.cleanup()


def make_pair(backend: str) -> tuple[kevents.Queue, kevents.Queue]:
    """(queue on the C core, queue on the Python engine)."""
    from kevents import _core

    if _core._speedups is None:
        raise RuntimeError("the C core is not loaded (KEVENTS_SPEEDUPS=0 or not built)")
    old = os.environ.get("KEVENTS_SPEEDUPS")
    qc = kevents.Queue(backend)
    os.environ["KEVENTS_SPEEDUPS"] = "0"
    try:
        qp = kevents.Queue(backend)
    finally:
        if old is None:
            del os.environ["KEVENTS_SPEEDUPS"]
        else:
            os.environ["KEVENTS_SPEEDUPS"] = old
    assert qc._engine.backend.fast_wait is not None  # type: ignore[union-attr]
    assert qp._engine.backend.fast_wait is None  # type: ignore[union-attr]
    return qc, qp


def _compat_pair(backend: str) -> tuple[Any, Any]:
    """(compat.select.kqueue on the C core, one on the Python engine), as make_pair."""
    from kevents.compat import select as compat

    old = os.environ.get("KEVENTS_SPEEDUPS")
    qc = compat.kqueue(_backend=backend)
    os.environ["KEVENTS_SPEEDUPS"] = "0"
    try:
        qp = compat.kqueue(_backend=backend)
    finally:
        if old is None:
            del os.environ["KEVENTS_SPEEDUPS"]
        else:
            os.environ["KEVENTS_SPEEDUPS"] = old
    return qc, qp


def _as_compat(ch: KEvent) -> Any:
    from kevents.compat import select as compat

    try:
        return compat.kevent(ch.ident, ch.filter, ch.flags, ch.fflags, ch.data, ch.udata)
    except (ValueError, OverflowError):
        return None  # refused by the constructor, the same way for both


def _compat_outcome(fn: Callable[[], list[Any]]) -> Any:
    try:
        return ("ok", [k._key() for k in fn()])
    except Exception as exc:
        return ("error", type(exc).__name__, getattr(exc, "errno", None), str(exc))


def _count_plain(q: kevents.Queue, stats: dict[str, int]) -> None:
    """Count the changes the C change-list pass applies for ``q`` (D77) in ``stats``."""
    engine: Any = q._engine
    apply_plain = engine._apply_plain

    def counting(changes: list[KEvent], start: int, state: Any) -> int:
        end: int = apply_plain(changes, start, state)
        stats["plain"] = stats.get("plain", 0) + end - start
        return end

    engine._apply_plain = counting


_REG_SCALAR_TYPES = (int, bool, type(None))


def _check_scalars(q: kevents.Queue) -> None:
    """D86: a knote's SCALARS hold ints and True/False, and a _Reg's REG_SCALARS (which
    the C layout's collector support never visits) ints, True/False and None,
    whichever implementation stored them."""
    from kevents._backends.linux.read_write import REG_SCALARS, _Reg
    from kevents._knote import SCALARS

    for kn in q._engine.knotes.values():  # type: ignore[union-attr]
        for name in SCALARS:
            value = getattr(kn, name)
            assert type(value) in (int, bool), f"{kn!r}.{name} = {value!r}"
        if isinstance(kn.priv, _Reg):
            for name in REG_SCALARS:
                value = getattr(kn.priv, name)
                assert type(value) in _REG_SCALAR_TYPES, f"{kn!r}.priv.{name} = {value!r}"


def run(
    seed: int,
    steps: int,
    backend: str = "linux",
    signals: bool = False,
    stats: dict[str, int] | None = None,
) -> int:
    """Run one program; raise AssertionError at the first difference. Returns how many
    control() calls were compared; ``stats["plain"]`` counts the changes the C pass
    applied."""
    rng = random.Random(seed)
    if signals:
        signal.signal(signal.SIGUSR1, lambda *a: None)
    world = World(rng, signals)
    qc, qp = make_pair(backend)
    if seed % 3 == 1:
        # the registration serial goes round early in the program: new_token and the C
        # pass's kev_rw_token check for a taken token only from then on
        for q in (qc, qp):
            q._engine.backend.serial = 0x7FFFFF - seed % 97  # type: ignore[union-attr]
    if stats is not None:
        _count_plain(qc, stats)
    kc, kp = _compat_pair(backend)
    compared = 0
    try:
        for step in range(steps):
            if rng.random() < 0.4:
                world.traffic()
                continue
            kind = rng.random()
            if kind < 0.45:
                changes: Any = None
            elif kind < 0.55:
                changes = []
            else:
                # short lists, and long ones (runs of plain changes for the C pass and
                # the io_uring batcher, broken by others)
                n = rng.randrange(1, 5) if rng.random() < 0.8 else rng.randrange(8, 40)
                changes = [world.change() for _ in range(n)]
            max_events = rng.choice([0, 1, 2, 8, 8, 64])
            # a wait whose room an internal record (inotify, timerfd...) took loops until
            # the deadline: with a real timeout, how often would depend on the load
            timeout = rng.choice([0, 0.0, 0.001]) if max_events == 64 else 0

            args = (changes, max_events, timeout)
            got_c = _outcome(lambda: qc.control(*args))  # noqa: B023 - called at once
            got_p = _outcome(lambda: qp.control(*args))  # noqa: B023
            compared += 1
            if got_c != got_p:
                raise AssertionError(
                    f"seed {seed} step {step}: control({changes}, {max_events}, {timeout})\n"
                    f"  C core: {got_c}\n  Python: {got_p}"
                )
            _check_scalars(qc)
            _check_scalars(qp)
            # the same call through compat.select (C route against the Python method)
            kchanges = None if changes is None else [_as_compat(ch) for ch in changes]
            if kchanges is not None and None in kchanges:
                continue
            kargs = (kchanges, max_events, timeout)
            got_c = _compat_outcome(lambda: kc.control(*kargs))  # noqa: B023
            got_p = _compat_outcome(lambda: kp.control(*kargs))  # noqa: B023
            if got_c != got_p:
                raise AssertionError(
                    f"seed {seed} step {step}: compat control({changes}, {max_events})\n"
                    f"  C core: {got_c}\n  Python: {got_p}"
                )
        return compared
    finally:
        qc.close()
        qp.close()
        kc.close()
        kp.close()
        world.close()


if __name__ == "__main__":
    for s in range(int(sys.argv[1]), int(sys.argv[2])):
        run(s, int(sys.argv[3]), signals=True)
    print("ok")
