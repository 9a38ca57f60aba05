"""The C core and the Python engine give the same answers (issue 13, deliver 2): seeded
random change lists and traffic on every filter, applied to one queue on each, every
returned event and error compared (the driver: _differential.py)."""

from __future__ import annotations

import sys

import pytest

from kevents import _core
from kevents.testing import run_isolated

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the C core is Linux's"),
    pytest.mark.skipif(
        _core._speedups is None, reason="the C core is not loaded (KEVENTS_SPEEDUPS=0)"
    ),
]

BACKENDS = ["linux", "linux-io_uring"]


def _run(backend: str, seeds: range, steps: int) -> None:
    from _differential import run

    if backend == "linux-io_uring":
        from kevents._backends.linux.io_uring import probe

        if not probe().batch:
            pytest.skip("io_uring batching (IORING_OP_EPOLL_CTL) is unavailable")
    stats: dict[str, int] = {}
    compared = sum(run(seed, steps, backend, stats=stats) for seed in seeds)
    assert compared > len(seeds) * steps // 3
    # the C change-list pass (D77) took part: plain changes went through it
    assert stats.get("plain", 0) > len(seeds) * 5


@pytest.fixture(autouse=True)
def _driver_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_events_and_errors(backend: str) -> None:
    _run(backend, range(6), 250)


def test_same_with_signals() -> None:
    # dispositions are process-global: a child interpreter
    here = __import__("pathlib").Path(__file__).parent
    out = run_isolated(
        f"import sys; sys.path.insert(0, {str(here)!r})\n"
        "import _differential\n"
        "for seed in range(3):\n"
        "    _differential.run(seed, 250, signals=True)\n"
        "print('ok')\n",
        timeout=120,
    ).stdout
    assert out.endswith("ok\n"), out


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_events_and_errors_long(backend: str) -> None:
    _run(backend, range(100, 160), 1000)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_change_lists(backend: str) -> None:
    """The C change-list pass (D77) against the Python engine, case by case: long runs
    of plain ADDs and DELETEs broken by every kind of change it hands over."""
    import errno
    import os
    import socket

    from _differential import _count_plain, _outcome, make_pair

    from kevents import Filter, Flag, KEvent

    if backend == "linux-io_uring":
        from kevents._backends.linux.io_uring import probe

        if not probe().batch:
            pytest.skip("io_uring batching (IORING_OP_EPOLL_CTL) is unavailable")
    qc, qp = make_pair(backend)
    pairs = [socket.socketpair() for _ in range(12)]
    r, w = os.pipe()
    f = os.open(__file__, os.O_RDONLY)
    # a closed number far above the lowest free one, so no fd opened later (a ring, an
    # inotify instance of either queue) lands on it: EBADF
    gone = os.dup2(r, 900)
    os.close(gone)
    R, W = Filter.READ, Filter.WRITE
    A, D = Flag.ADD, Flag.DELETE
    fds = [s.fileno() for p in pairs for s in p]
    lists: list[tuple[list[KEvent], int]] = [
        ([KEvent(fd, R, A, udata=i) for i, fd in enumerate(fds)], 0),
        ([KEvent(fd, W, A | Flag.CLEAR, udata=fd) for fd in fds], 4),
        # re-adds: persistent flags stay, udata changes; KEEPUDATA keeps it
        ([KEvent(fd, R, A | Flag.ONESHOT, udata="new") for fd in fds[:6]], 8),
        ([KEvent(fds[0], R, Flag.KEEPUDATA | Flag.ENABLE)], 8),
        # touches of existing knotes: disable, enable, with and without KEEPUDATA
        ([KEvent(fd, W, Flag.DISABLE, udata="off") for fd in fds[::2]], 8),
        ([KEvent(fd, W, Flag.ENABLE | Flag.KEEPUDATA, udata="x") for fd in fds], 8),
        ([KEvent(fd, W, Flag.DISABLE | Flag.KEEPUDATA) for fd in fds[1::3]], 8),
        ([KEvent(fd, W, Flag.ENABLE, udata="on") for fd in fds[::3]], 8),
        # bad and closed fds, ENOENT deletes, EINVAL flags, mixed with plain changes
        (
            [
                KEvent(r, R, A),
                KEvent(gone, R, A),
                KEvent(w, W, A | Flag.DISPATCH),
                KEvent(-1, R, A),
                KEvent(99999, W, A),
                KEvent(f, R, A),  # a regular file: user space (FileSource)
                KEvent(r, W, D),  # ENOENT
                KEvent(fds[1], R, A | Flag.DELETE),  # EINVAL
                KEvent(fds[1], R, D),
                KEvent(fds[2], R, D | Flag.RECEIPT),
                KEvent(fds[3], R, A | Flag.RECEIPT),
                KEvent(pairs[0][0], W, D),  # a fileno() object: Python's checks
            ],
            64,
        ),
        # EV_RECEIPT with less room than entries: the list stops there
        ([KEvent(fd, R, A | Flag.RECEIPT) for fd in fds[4:10]], 2),
        # an error without room raises; later changes are not applied
        ([KEvent(fds[10], R, D), KEvent(gone, R, A), KEvent(fds[11], R, D)], 0),
        ([KEvent(fd, R, D) for fd in fds] + [KEvent(fd, W, D) for fd in fds], 64),
        ([KEvent(fd, R, A) for fd in fds], 0),
    ]
    stats: dict[str, int] = {}
    _count_plain(qc, stats)
    try:
        for n, (changes, room) in enumerate(lists):
            got_c = _outcome(lambda: qc.control(changes, room, 0))  # noqa: B023
            got_p = _outcome(lambda: qp.control(changes, room, 0))  # noqa: B023
            assert got_c == got_p, f"list {n}"
            pairs[n % len(pairs)][1].send(b"x")
            got_c = _outcome(lambda: qc.control(None, 64, 0))
            got_p = _outcome(lambda: qp.control(None, 64, 0))
            assert sorted(map(repr, got_c[1])) == sorted(map(repr, got_p[1])), f"events {n}"
        # the error without room did raise, in both
        assert _outcome(lambda: qc.control([KEvent(gone, R, A)], 0))[2] == errno.EBADF
        assert stats["plain"] > len(fds)  # the DELETEs at least (ADDs: maybe the ring)
    finally:
        qc.close()
        qp.close()
        for a, b in pairs:
            a.close()
            b.close()
        for fd in (r, w, f):
            os.close(fd)
