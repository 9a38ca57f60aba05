"""Change lists in O(1) system calls on Linux, through io_uring (issue 6).

Story: kqueue applies a whole change list in one kevent() call; epoll needs one
epoll_ctl per change. With io_uring (IORING_OP_EPOLL_CTL, Linux 5.6) a run of new
READ/WRITE registrations becomes one SQE per change, submitted and reaped a ring-full
at a time: 10,000 ADDs cost three io_uring_enter calls instead of 10,000 system calls.
No STATX: a registered knote needs no fstat identity (D80), and the kernel runs each
STATX in an io-wq worker thread, which made the batch four times slower than plain
epoll_ctl calls (6.18).

The results, and the errors, are exactly those of the one-at-a-time path: the engine
consumes them in change-list order through ``Engine._results``; a change that fails
with no room left in the event list stops the list there, and this module then removes
the registrations the kernel already made for the changes after it (``undo``), so
"later changes are not applied" holds. Only plain new registrations are batched (ADD
without DISABLE, FORCEONESHOT or KEEPUDATA, no NOTE_LOWAT, a key not yet in the
queue, no repeated key in the run); anything else, and any EPERM or
EEXIST answer, takes the ordinary path.
"""

from __future__ import annotations

import errno
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ..._event import Filter, Flag, KEvent
from ..._ffi import ffi, lib
from ..._knote import Knote
from .io_uring import Ring
from .read_write import _Reg, countable

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

#: shortest run worth a trip through the ring
MIN_RUN = 8
_RING_ENTRIES = 4096
_SLOW_FLAGS = int(Flag.DELETE | Flag.DISABLE | Flag.FORCEONESHOT | Flag.KEEPUDATA)
_ADD = int(Flag.ADD)
_NODATA = int(Flag.NODATA)  # rides in the token (D78): batchable like any other ADD
_RW = (Filter.READ, Filter.WRITE)
_FILTER = {int(f): f for f in _RW}


class Batcher:
    def __init__(self, backend: LinuxBackend) -> None:
        self.backend = backend
        self.ring: Ring | None = None

    def _ring(self) -> Ring:
        if self.ring is None:
            self.ring = Ring(_RING_ENTRIES)
        return self.ring

    def ring_address(self) -> int:
        """The ring, for the C pass that batches the same runs (linux_batch.c)."""
        return int(ffi.cast("uintptr_t", self._ring().ptr))

    def run_end(self, engine: Engine, changes: list[KEvent], start: int) -> int:
        """End (exclusive) of the run of batchable changes beginning at ``start``."""
        seen: set[tuple[int, int]] = set()
        knotes = engine.knotes
        epfd = self.backend.epfd
        owns = self.backend.owns
        end = start
        # an index walk: slicing changes[start:] here copied the rest of the list for
        # every change that is not batchable, O(n^2) over a long list (issue 13)
        for i in range(start, len(changes)):
            ch = changes[i]
            flags = int(ch.flags)
            key = (ch.ident, ch.filter)
            if (
                not flags & _ADD
                or flags & _SLOW_FLAGS
                or ch.filter not in _RW
                or ch.fflags
                or not 0 <= ch.ident <= 0x7FFFFFFF
                or ch.ident == epfd
                or owns(ch.ident)  # EBADF (D48), the ordinary path's to say
                or key in knotes
                or key in seen
            ):
                break
            seen.add(key)
            end += 1
        return end

    def results(
        self, engine: Engine, run: list[KEvent]
    ) -> Generator[tuple[KEvent, int], None, None]:
        """Register ``run`` through the ring, then yield (change, errno) in order,
        creating each knote as its result is consumed."""
        backend = self.backend
        rings = self._ring()
        ring = rings.ptr
        n = len(run)
        evs = ffi.new("char[]", lib.KEV_EPOLL_EVENT_SIZE * n)
        res = [0] * n
        tokens = []
        base: dict[int, int] = {f: engine.sources[f].base_events for f in _RW}  # type: ignore[attr-defined]
        prep_ctl = lib.kev_ring_prep_epoll_ctl
        add = lib.EPOLL_CTL_ADD
        room = rings.space()
        prepared = 0
        for i, ch in enumerate(run):
            read = ch.filter == Filter.READ
            role = lib.KEV_ROLE_READ if read else lib.KEV_ROLE_WRITE
            token = backend.new_token(ch.ident, role, bool(ch.flags & _NODATA))
            tokens.append(token)
            if room == prepared:
                self._drain(prepared, res)
                prepared = 0
                room = rings.space()
            prep_ctl(
                ring,
                backend.epfd if read else backend.innerfd,
                add,
                ch.ident,
                evs,
                i,
                base[ch.filter] | _mask(int(ch.flags)),
                token,
                i,
            )
            prepared += 1
        self._drain(prepared, res)
        done = 0
        try:
            for i, ch in enumerate(run):
                done = i + 1
                ctl_res = res[i]
                if ctl_res in (-errno.EPERM, -errno.EEXIST, -errno.EBADF):
                    # an object epoll refuses, a closed fd: the ordinary path decides
                    yield ch, engine._apply_one(ch)
                    continue
                if ctl_res < 0:
                    yield ch, -ctl_res
                    continue
                self._adopt(engine, ch, tokens[i])
                yield ch, 0
        except GeneratorExit:
            # the change list stopped (an error with no room): undo what the kernel
            # already registered for the changes after the one that stopped it
            for j in range(done, n):
                if res[j] == 0:
                    self._unregister(run[j], tokens[j])
            raise

    def _drain(self, prepared: int, res: list[int]) -> None:
        """Submit what is prepared and wait for all of it, in one io_uring_enter."""
        assert self.ring is not None
        if not prepared:
            return
        got = 0
        self.ring.submit(prepared)
        while got < prepared:
            done = self.ring.reap()
            if not done:
                self.ring.submit(prepared - got)
                continue
            for ud, r in done:
                res[ud] = r
            got += len(done)

    def _unregister(self, ch: KEvent, token: int) -> None:
        epfd = self.backend.epfd if ch.filter == Filter.READ else self.backend.innerfd
        lib.kev_epoll_ctl(epfd, lib.EPOLL_CTL_DEL, ch.ident, 0, 0)

    def _adopt(self, engine: Engine, ch: KEvent, token: int) -> None:
        """Create the knote of a change the kernel registered (as attach would; its
        registration is its identity, D80)."""
        src: Any = engine.sources[ch.filter]
        kn = Knote(ch.ident, _FILTER[ch.filter], ch.flags, ch.fflags, ch.data, ch.udata)
        kn.source = src
        kn.token = token
        st = kn.priv = _Reg(src, src.base_events | _mask(kn.flags), countable(kn.filter, None))
        st.registered = st.armed = True
        self.backend.knotes[token] = kn
        engine.knotes[(ch.ident, kn.filter)] = kn
        src.publish(kn)

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()
            self.ring = None


_CLEAR = int(Flag.CLEAR)
_ONESHOTS = int(Flag.ONESHOT | Flag.DISPATCH)


def _mask(flags: int) -> int:
    mask = 0
    if flags & _CLEAR:
        mask |= lib.EPOLLET
    if flags & _ONESHOTS:
        mask |= lib.EPOLLONESHOT
    return mask
