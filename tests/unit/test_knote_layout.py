"""What the collector sees of a knote and of a _Reg with the C layout (knote.c, D86):
every field that may hold an object is visited, and the fields that hold only ints,
True/False and None (SCALARS, REG_SCALARS) are not. The driver that checks the second
half of that contract, on every knote both implementations make, is
tests/conformance/_differential.py."""

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


def test_a_knote_visits_every_field_but_its_scalars() -> None:
    kn = Knote(3, -1, 0, 0, 0, None)
    assert set(SCALARS) < set(FIELDS)
    assert _visited(kn, FIELDS) == set(FIELDS) - set(SCALARS)
    assert type(kn) in gc.get_referents(kn)  # a heap type's instance visits its type


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux READ/WRITE _Reg")
def test_a_reg_visits_its_source_only() -> None:
    from kevents._backends.linux.read_write import REG_FIELDS, REG_SCALARS, _Reg

    st = _Reg(None, 0, None)  # type: ignore[arg-type]
    assert _visited(st, REG_FIELDS) == {"source"} == set(REG_FIELDS) - set(REG_SCALARS)
