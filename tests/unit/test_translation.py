"""Translation logic without kernel calls: constants, KEvent, timeouts, timer and USER
input, backend choice."""

from __future__ import annotations

import errno
import math

import pytest

from kevents import Filter, Flag, KEvent, NoteProc, NoteTimer, NoteUser, NoteVnode
from kevents._backends import choose
from kevents._engine import MAX_WAIT_NS, _materialise, timeout_to_ns
from kevents._filters.timer import _interval_ns
from kevents._filters.user import _apply_ctrl


def test_freebsd_numbers() -> None:  # D1, spec §2
    assert [
        int(f)
        for f in (
            Filter.READ,
            Filter.WRITE,
            Filter.AIO,
            Filter.VNODE,
            Filter.PROC,
            Filter.SIGNAL,
            Filter.TIMER,
            Filter.PROCDESC,
            Filter.USER,
            Filter.EMPTY,
        )
    ] == [-1, -2, -3, -4, -5, -6, -7, -8, -11, -13]
    assert (Flag.ONESHOT, Flag.CLEAR, Flag.RECEIPT, Flag.DISPATCH) == (0x10, 0x20, 0x40, 0x80)
    assert (Flag.ERROR, Flag.EOF, Flag.FORCEONESHOT, Flag.KEEPUDATA) == (
        0x4000,
        0x8000,
        0x100,
        0x200,
    )
    assert (NoteTimer.MSECONDS, NoteTimer.USECONDS, NoteTimer.NSECONDS) == (2, 4, 8)
    assert NoteUser.TRIGGER == 0x01000000 and NoteUser.FFCOPY == 0xC0000000
    assert NoteProc.EXIT == 0x80000000 and NoteVnode.RENAME == 0x20


def test_kevent_defaults_order_and_equality() -> None:
    ev = KEvent(3)
    assert (ev.filter, ev.flags, ev.fflags, ev.data, ev.udata) == (
        Filter.READ,
        Flag.ADD,
        0,
        0,
        None,
    )
    assert KEvent(1, Filter.READ) < KEvent(2, Filter.READ)
    assert KEvent(1, Filter.WRITE) < KEvent(1, Filter.READ)  # -2 < -1, as select.kevent
    assert KEvent(1, Filter.USER, 0, 0, 0, "u") == KEvent(1, Filter.USER, 0, 0, 0, "u")
    assert hash(KEvent(1)) == hash(KEvent(1))
    with pytest.raises(AttributeError):
        ev.ident = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("timeout", "ns"),
    [(None, None), (0, 0), (1, 10**9), (0.0000000001, 1), (1e-3, 1_000_000), (math.inf, None)],
)
def test_timeouts_round_up(timeout: float | None, ns: int | None) -> None:
    assert timeout_to_ns(timeout) == ns


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan")])
def test_bad_timeouts(bad: float) -> None:
    with pytest.raises(ValueError):
        timeout_to_ns(bad)


def test_huge_timeouts() -> None:
    assert timeout_to_ns(1e12) > MAX_WAIT_NS  # the engine waits in MAX_WAIT_NS steps
    assert timeout_to_ns(1e300) is None  # beyond any clock: forever
    assert timeout_to_ns(10**30) == 10**39


@pytest.mark.parametrize(
    ("fflags", "data", "oneshot", "expected"),
    [
        (0, 5, False, (5_000_000, False)),
        (NoteTimer.SECONDS, 2, False, (2 * 10**9, False)),
        (NoteTimer.USECONDS, 7, False, (7000, False)),
        (NoteTimer.NSECONDS, 9, True, (9, False)),
        (0, 0, False, (1_000_000, False)),
        (0, 0, True, (0, False)),
        (NoteTimer.ABSTIME, 0, True, (0, True)),
        (NoteTimer.SECONDS, 2**62, False, (2**62, False)),
    ],
)
def test_timer_input(fflags: int, data: int, oneshot: bool, expected: tuple[int, bool]) -> None:
    assert _interval_ns(fflags, data, oneshot) == expected


@pytest.mark.parametrize(
    ("fflags", "data"), [(NoteTimer.SECONDS | NoteTimer.MSECONDS, 1), (0x20, 1), (0, -1)]
)
def test_timer_input_errors(fflags: int, data: int) -> None:
    with pytest.raises(OSError) as info:
        _interval_ns(fflags, data, False)
    assert info.value.errno == errno.EINVAL


def test_user_ctrl_ops() -> None:
    assert _apply_ctrl(0, NoteUser.FFCOPY | 5) == 5
    assert _apply_ctrl(5, NoteUser.FFOR | 2) == 7
    assert _apply_ctrl(7, NoteUser.FFAND | 1) == 1
    assert _apply_ctrl(1, NoteUser.FFNOP | 0xFF) == 1
    assert _apply_ctrl(0, NoteUser.FFCOPY | NoteUser.TRIGGER | 3) == 3


def test_materialise_resolves_fileno_and_checks_types() -> None:
    class F:
        def fileno(self) -> int:
            return 7

    (ch,) = _materialise([KEvent(F())])  # type: ignore[arg-type]
    assert ch.ident == 7
    with pytest.raises(TypeError):
        _materialise([(1, -1)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        _materialise([KEvent(1, 40000)])


def test_choose_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEVENTS_BACKEND", "iocp")
    assert choose("linux") == ("linux", "explicit argument")
    assert choose(None)[0] == "iocp"
    monkeypatch.delenv("KEVENTS_BACKEND")
    assert choose(None)[1].startswith("probe")
