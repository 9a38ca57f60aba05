"""What the collector sees of a knote and of a _Reg with the C layout (knote.c, D86):
every field that may hold an object is visited. A knote's ints and bools (SCALARS) are
C fields, which take ints and True/False only; a _Reg's fields that hold only ints,
True/False and None (REG_SCALARS) are not visited, a rule that
tests/conformance/_differential.py checks on every _Reg both implementations make."""

from __future__ import annotations

import gc
import sys

import pytest

from kevents._core import C_LAYOUT
from kevents._knote import FIELDS, SCALARS, Knote

pytestmark = pytest.mark.skipif(not C_LAYOUT, reason="the C layout (speedups) is not loaded")


def _visited(obj: object, fields: tuple[str, ...]) -> set[str]:
    marks = {name: [name] for name in fields}  # a container per field, each its own
    for name, mark in marks.items():
        setattr(obj, name, mark)
    seen = {id(o) for o in gc.get_referents(obj)}
    return {name for name, mark in marks.items() if id(mark) in seen}


def test_a_knote_visits_its_object_fields_and_its_scalars_are_c_fields() -> None:
    kn = Knote(3, -1, 0, 0, 0, None)
    objects = tuple(f for f in FIELDS if f not in SCALARS)
    assert set(SCALARS) < set(FIELDS)
    assert _visited(kn, objects) == set(objects)
    assert type(kn) in gc.get_referents(kn)  # a heap type's instance visits its type
    for name in SCALARS:
        value = getattr(kn, name)
        assert type(value) in (int, bool), name
        with pytest.raises(TypeError):
            setattr(kn, name, [name])  # never a container: nothing there is visited
        setattr(kn, name, value)
    kn.token = (1 << 63) - 1  # the 64-bit range: tokens are 63 bits, data 64
    kn.data = -(1 << 63)
    assert (kn.token, kn.data) == ((1 << 63) - 1, -(1 << 63))
    kn.queued = True
    assert kn.queued is True


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux READ/WRITE _Reg")
def test_a_reg_visits_its_source_only() -> None:
    from kevents._backends.linux.read_write import REG_FIELDS, REG_SCALARS, _Reg

    st = _Reg(None, 0, None)  # type: ignore[arg-type]
    assert _visited(st, REG_FIELDS) == {"source"} == set(REG_FIELDS) - set(REG_SCALARS)
