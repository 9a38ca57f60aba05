"""Linux registration tokens across the serial's wrap (LinuxBackend.new_token, and
kev_rw_token in the C pass): until the 23-bit serial goes round no token can be taken,
so neither implementation looks; after it, a token still held is skipped. Run on the
C core and on the Python engine, one ADD at a time and as an io_uring batch."""

from __future__ import annotations

import os
import socket
import sys

import pytest

import kevents
from kevents import Filter, KEvent

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux tokens")

_TOP = 0x7FFFFF
_ROLE_READ = 1


def _queue(impl: str, io_uring: bool) -> kevents.Queue:
    from kevents import _core

    if impl == "c" and _core._speedups is None:
        pytest.skip("the C core is not loaded")
    old = os.environ.get("KEVENTS_SPEEDUPS")
    if impl == "python":
        os.environ["KEVENTS_SPEEDUPS"] = "0"
    try:
        q = kevents.Queue("linux", io_uring=io_uring)
    finally:
        if old is None:
            os.environ.pop("KEVENTS_SPEEDUPS", None)
        else:
            os.environ["KEVENTS_SPEEDUPS"] = old
    assert (q._engine.backend.fast_wait is not None) == (impl == "c")  # type: ignore[union-attr]
    return q


def _token(serial: int, fd: int) -> int:
    return (serial << 40) | (_ROLE_READ << 32) | fd


@pytest.mark.parametrize("impl", ["c", "python"])
@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "io_uring-batch"])
def test_a_held_token_is_skipped_after_the_wrap(impl: str, batched: bool) -> None:
    if batched and "batched" not in kevents.backend_info(io_uring=None).filter(Filter.READ).why:
        pytest.skip("no batched io_uring EPOLL_CTL here")
    pairs = [socket.socketpair() for _ in range(12)]
    q = _queue(impl, io_uring=batched)
    backend = q._engine.backend  # type: ignore[union-attr]
    try:
        first, rest = pairs[0], pairs[1:]
        backend.serial = _TOP - 1
        q.control([KEvent(first[0].fileno(), Filter.READ)], 0)
        # the last serial before the wrap: nothing has gone round yet
        assert (backend.serial, backend.wrapped) == (_TOP, False)
        # serial 0 (the wrap) for rest[0] is held: by an internal handler that never
        # fires (it is in no epoll set), as a token that outlived its fd would be
        held = _token(0, rest[0][0].fileno())
        backend.handlers[held] = lambda events: None
        changes = [KEvent(a.fileno(), Filter.READ, udata=i) for i, (a, _) in enumerate(rest)]
        if batched:
            q.control(changes, 0)
        else:
            for ch in changes:
                q.control([ch], 0)
        assert backend.wrapped is True
        # serial 0 skipped: rest[0] took 1, and the others the ones after it
        assert backend.serial == len(rest)
        assert backend.knotes.get(held) is None
        assert _token(1, rest[0][0].fileno()) in backend.knotes
        del backend.handlers[held]
        for _, b in pairs:
            b.send(b"x")
        got = q.control(None, 64, 1)
        assert sorted(ev.ident for ev in got) == sorted(a.fileno() for a, _ in pairs)
        assert sorted(ev.udata for ev in got if ev.udata is not None) == list(range(len(rest)))
    finally:
        q.close()
        for a, b in pairs:
            a.close()
            b.close()
