"""The flag classes' ``|`` and ``&`` (a lookup in enum's own member table) give what
enum's operators give: the same member, of the same class, for every operand kind."""

from __future__ import annotations

import enum
import itertools

import pytest

from kevents import Flag, NoteProc, NoteRW, NoteTimer, NoteUser, NoteVnode

CLASSES = [Flag, NoteRW, NoteUser, NoteTimer, NoteProc, NoteVnode]


def _operands(cls: type[enum.IntFlag]) -> list[object]:
    members = list(cls.__members__.values())
    return [*members, members[0] | members[-1], 0, 1, 0x400, 0x10000, -1, True, NoteRW.LOWAT]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_as_enum(cls: type[enum.IntFlag]) -> None:
    # the twin: a plain enum.IntFlag with the same members, so enum's own operators
    twin = enum.IntFlag(cls.__name__, {n: m.value for n, m in cls.__members__.items()})  # type: ignore[misc]

    def mirror(x: object) -> object:
        return twin(int(x)) if type(x) is cls else x  # type: ignore[call-overload]

    for a, b in itertools.product(cls.__members__.values(), _operands(cls)):
        ta, tb = mirror(a), mirror(b)
        for ours, theirs in (
            (a | b, ta | tb),  # type: ignore[operator]
            (b | a, tb | ta),  # type: ignore[operator]
            (a & b, ta & tb),  # type: ignore[operator]
            (b & a, tb & ta),  # type: ignore[operator]
        ):
            assert int(ours) == int(theirs), (a, b)  # type: ignore[call-overload]
            assert type(ours).__name__ == type(theirs).__name__, (a, b)
            if type(ours) is cls:
                assert ours is cls(int(ours)), (a, b)  # enum's one member per value


def test_other_operands_still_refused() -> None:
    with pytest.raises(TypeError):
        Flag.ADD | 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        "x" & Flag.ADD  # type: ignore[operator]
