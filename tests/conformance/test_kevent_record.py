"""KEvent, the change and event record, behaves as the NamedTuple it is, whichever
``__new__`` builds it (the C one under speedups, event.c; the NamedTuple's own with
``KEVENTS_SPEEDUPS=0``): fields, defaults, keywords, errors, subclasses, copies."""

from __future__ import annotations

import copy
import pickle

import pytest

from kevents import Filter, Flag, KEvent


def test_defaults_and_fields() -> None:
    ev = KEvent(3)
    assert ev == (3, Filter.READ, Flag.ADD, 0, 0, None, None)
    assert ev.filter is Filter.READ and ev.flags is Flag.ADD
    assert type(ev) is KEvent and isinstance(ev, tuple)
    udata = object()
    ev = KEvent(4, Filter.TIMER, Flag.ADD | Flag.ONESHOT, 0, 60, udata, "x")
    assert ev == (4, -7, 17, 0, 60, udata, "x") and ev.udata is udata
    assert ev.ident == 4 and ev.data == 60 and ev.ext == "x"


def test_keywords() -> None:
    assert KEvent(ident=5) == KEvent(5)
    assert KEvent(5, data=9, filter=Filter.WRITE) == (5, -2, 1, 0, 9, None, None)
    assert KEvent(udata="u", ident=1, ext=2, fflags=3, flags=4) == (1, -1, 4, 3, 0, "u", 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KEvent(), "missing 1 required positional argument: 'ident'"),
        (lambda: KEvent(filter=1), "missing 1 required positional argument: 'ident'"),
        (lambda: KEvent(1, 2, 3, 4, 5, 6, 7, 8), "takes from 2 to 8 positional arguments"),
        (lambda: KEvent(1, nope=2), "unexpected keyword argument 'nope'"),
        (lambda: KEvent(1, ident=2), "multiple values for argument 'ident'"),
        (lambda: KEvent(1, Filter.READ, flags=2, **{"flags": 3}), "multiple values"),
        (lambda: KEvent(1, -1, filter=-2), "multiple values for argument 'filter'"),
    ],
)
def test_bad_arguments(make: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()  # type: ignore[operator]


def test_not_a_kevent_class() -> None:
    with pytest.raises(TypeError):
        KEvent.__new__(int, 1)  # type: ignore[type-var]


def test_subclass_copies_and_replace() -> None:
    class Mine(KEvent):  # type: ignore[misc]
        __slots__ = ()

    ev = Mine(7, Filter.USER, udata="m")
    assert type(ev) is Mine and ev == (7, -11, 1, 0, 0, "m", None)
    plain = KEvent(8, Filter.WRITE, Flag.ADD | Flag.CLEAR, 0, 5, ["u"])
    for twin in (copy.copy(plain), copy.deepcopy(plain), pickle.loads(pickle.dumps(plain))):
        assert twin == plain and type(twin) is KEvent
    assert plain._replace(data=6) == (8, -2, 33, 0, 6, ["u"], None)
    assert KEvent._make(range(7)) == tuple(range(7))
    assert plain._asdict()["udata"] == ["u"]
