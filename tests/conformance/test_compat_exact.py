"""compat.select gives CPython's result for every input (issue 16, D49, D50).

One table: each row is an input, the CPython versions it applies to, and what CPython's
select.kqueue/select.kevent answer on FreeBSD (the value, or the exception type, errno
and message, and the RuntimeWarnings). The rows were read from Modules/selectmodule.c,
Python/getargs.c, Python/structmember.c and Python/pytime.c of 3.11 to 3.15; the ones
this interpreter's test C API can answer are cross-checked against it below. Every row
runs on every backend (compat over each), on the running Python's rows only.
"""

from __future__ import annotations

import copy
import errno
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from kevents.compat import select as ks

V = sys.version_info[:2]
ALL = ((3, 11), (3, 99))
TO_3_12 = ((3, 11), (3, 12))
FROM_3_13 = ((3, 13), (3, 99))
TO_3_13 = ((3, 11), (3, 13))
TO_3_14 = ((3, 11), (3, 14))
FROM_3_15 = ((3, 15), (3, 99))
OUT_OF_RANGE = "integer value out of range"
TIME_RANGE = "timestamp out of range for C PyTime_t"
FROM_3_14 = ((3, 14), (3, 99))
U64 = 2**64 - 1
TRUNC_USHORT = "Truncation of value to unsigned short"
NEGATIVE = "Writing negative value into unsigned field"
NOT_ITERABLE = "changelist is not iterable"


class Index:
    """An int-like object that is not an int (``__index__`` only)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class FileLike:
    def __init__(self, fd: Any) -> None:
        self.fd = fd

    def fileno(self) -> Any:
        return self.fd


def assign(name: str, value: Any, start: int = 7) -> Callable[[Any], Any]:
    """Set one attribute of a kevent whose members all hold ``start``; report the
    member afterwards (CPython writes some members before it checks)."""

    def act(kq: Any) -> Any:
        ev = ks.kevent(start, start, start, start, start, start)
        try:
            setattr(ev, name, value)
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc), getattr(ev, name))
        return ("set", getattr(ev, name))

    return act


def fields(ev: Any) -> tuple[int, ...]:
    return (ev.ident, ev.filter, ev.flags, ev.fflags, ev.data, ev.udata)


def ctl(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    return lambda kq: kq.control(*args, **kwargs)


def triggered(timeout: Any) -> Callable[[Any], Any]:
    """control() with ``timeout`` while a USER event is due: returns at once."""

    def act(kq: Any) -> Any:
        kq.control([ks.kevent(1, ks.KQ_FILTER_USER, ks.KQ_EV_ADD | ks.KQ_EV_CLEAR)], 0)
        kq.control([ks.kevent(1, ks.KQ_FILTER_USER, 0, ks.KQ_NOTE_TRIGGER)], 0)
        return [(e.ident, e.filter) for e in kq.control(None, 1, timeout)]

    return act


def bad_fd_change(room: int) -> Callable[[Any], Any]:
    def act(kq: Any) -> Any:
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        got = kq.control([ks.kevent(r, ks.KQ_FILTER_READ)], room, 0)
        return [(e.flags & ks.KQ_EV_ERROR, e.data) for e in got]

    return act


def delete_unknown(room: int) -> Callable[[Any], Any]:
    def act(kq: Any) -> Any:
        got = kq.control([ks.kevent(99, ks.KQ_FILTER_USER, ks.KQ_EV_DELETE)], room, 0)
        return [(e.flags & ks.KQ_EV_ERROR, e.data) for e in got]

    return act


def raising_iterator(kq: Any) -> Any:
    def gen() -> Iterator[Any]:
        yield ks.kevent(1, ks.KQ_FILTER_USER)
        raise TypeError("from inside the iterator")

    return kq.control(gen(), 0)


def on_closed(*args: Any) -> Callable[[Any], Any]:
    def act(kq: Any) -> Any:
        kq.close()
        return kq.control(*args)

    return act


def closed_behind(kq: Any) -> Any:
    """close() after the descriptor was closed by someone else (3.15: gh-146205)."""
    os.close(kq.fileno())  # on Windows the token descriptor (D40)
    return kq.close()


def subclass(base: Any) -> Callable[[Any], Any]:
    def act(kq: Any) -> Any:
        return type("Sub", (base,), {})

    return act


# (id, action(kq), versions (first, last), expected): expected is ("=", value) or
# (exception type, message) or (exception type, message, errno); a 5th item lists the
# RuntimeWarnings, a 6th the DeprecationWarnings
Case = tuple[Any, ...]
# fmt: off
CASES: list[Case] = [
    # -- kevent(ident): PyLong_AsSize_t before 3.14, PyLong_AsNativeBytes after (gh-132987)
    ("ident -1", lambda kq: ks.kevent(-1), TO_3_13,
     (OverflowError, "can't convert negative value to size_t")),
    ("ident -1", lambda kq: ks.kevent(-1), FROM_3_14,
     (ValueError, "Cannot convert negative int")),
    ("ident 2**64", lambda kq: ks.kevent(2**64), TO_3_13,
     (OverflowError, "Python int too large to convert to C size_t")),
    ("ident 2**64", lambda kq: ks.kevent(2**64), FROM_3_14,
     (OverflowError, "Python int too large for C kqueue event identifier")),
    ("ident 2**64-1", lambda kq: ks.kevent(U64).ident, ALL, ("=", U64)),
    ("ident True", lambda kq: ks.kevent(True).ident, ALL, ("=", 1)),
    ("ident __index__", lambda kq: ks.kevent(Index(7)).ident, TO_3_13,
     (TypeError, "argument must be an int, or have a fileno() method.")),
    ("ident __index__", lambda kq: ks.kevent(Index(7)).ident, FROM_3_14, ("=", 7)),
    ("ident 1.5", lambda kq: ks.kevent(1.5), ALL,
     (TypeError, "argument must be an int, or have a fileno() method.")),
    ("ident fileno() 5", lambda kq: ks.kevent(FileLike(5)).ident, ALL, ("=", 5)),
    ("ident fileno() -1", lambda kq: ks.kevent(FileLike(-1)), ALL,
     (ValueError, "file descriptor cannot be a negative integer (-1)")),
    ("ident fileno() 'x'", lambda kq: ks.kevent(FileLike("x")), TO_3_14,
     (TypeError, "fileno() returned a non-integer")),
    ("ident fileno() 'x'", lambda kq: ks.kevent(FileLike("x")), FROM_3_15,
     (TypeError, f"{__name__}.FileLike.fileno() must return an int, not str")),
    ("ident fileno() 2**31", lambda kq: ks.kevent(FileLike(2**31)), ALL,
     (OverflowError, "Python int too large to convert to C int")),
    # -- the other arguments: "hHILK"
    ("filter 0x8000", lambda kq: ks.kevent(1, 0x8000), ALL,
     (OverflowError, "signed short integer is greater than maximum")),
    ("filter -0x8001", lambda kq: ks.kevent(1, -0x8001), ALL,
     (OverflowError, "signed short integer is less than minimum")),
    ("filter 2**63", lambda kq: ks.kevent(1, 2**63), ALL,
     (OverflowError, "Python int too large to convert to C long")),
    ("filter 'x'", lambda kq: ks.kevent(1, "x"), ALL,
     (TypeError, "'str' object cannot be interpreted as an integer")),
    ("filter __index__", lambda kq: ks.kevent(1, Index(-3)).filter, ALL, ("=", -3)),
    ("flags 0x10001 wraps", lambda kq: ks.kevent(1, 0, 0x10001).flags, TO_3_14, ("=", 1)),
    ("flags 0x10001 wraps", lambda kq: ks.kevent(1, 0, 0x10001).flags, FROM_3_15, ("=", 1),
     [], [OUT_OF_RANGE]),
    ("flags -1 wraps", lambda kq: ks.kevent(1, 0, -1).flags, ALL, ("=", 0xFFFF)),
    ("flags 1.5", lambda kq: ks.kevent(1, 0, 1.5), ALL,
     (TypeError, "'float' object cannot be interpreted as an integer")),
    ("fflags -1 wraps", lambda kq: ks.kevent(1, 0, 0, -1).fflags, ALL, ("=", 0xFFFFFFFF)),
    ("data 1.5", lambda kq: ks.kevent(1, data=1.5), ALL,
     (TypeError, "'float' object cannot be interpreted as an integer")),
    ("data 2**63", lambda kq: ks.kevent(1, data=2**63), ALL,
     (OverflowError, "int too big to convert")),
    ("data -2**63", lambda kq: ks.kevent(1, data=-(2**63)).data, ALL, ("=", -(2**63))),
    ("udata 's'", lambda kq: ks.kevent(1, udata="s"), ALL,
     (TypeError, "kevent() argument 6 must be int, not str")),
    ("udata '5'", lambda kq: ks.kevent(1, 0, 0, 0, 0, "5"), ALL,
     (TypeError, "kevent() argument 6 must be int, not str")),
    ("udata None", lambda kq: ks.kevent(1, udata=None), ALL,
     (TypeError, "kevent() argument 6 must be int, not None")),
    ("udata 1.5", lambda kq: ks.kevent(1, udata=1.5), ALL,
     (TypeError, "kevent() argument 6 must be int, not float")),
    ("udata -1 wraps", lambda kq: ks.kevent(1, udata=-1).udata, ALL, ("=", U64)),
    ("udata 2**64 wraps", lambda kq: ks.kevent(1, udata=2**64 + 3).udata, TO_3_14, ("=", 3)),
    ("udata 2**64 wraps", lambda kq: ks.kevent(1, udata=2**64 + 3).udata, FROM_3_15, ("=", 3),
     [], [OUT_OF_RANGE]),
    ("udata __index__", lambda kq: ks.kevent(1, udata=Index(5)), TO_3_13,
     (TypeError, "kevent() argument 6 must be int, not Index")),
    ("udata __index__", lambda kq: ks.kevent(1, udata=Index(5)).udata, FROM_3_14, ("=", 5)),
    ("defaults", lambda kq: fields(ks.kevent(3)), ALL, ("=", (3, -1, 1, 0, 0, 0))),
    ("no init: zeros", lambda kq: fields(ks.kevent.__new__(ks.kevent)), ALL,
     ("=", (0, 0, 0, 0, 0, 0))),
    ("no ident", lambda kq: ks.kevent(), ALL,
     (TypeError, "kevent() missing required argument 'ident' (pos 1)")),
    ("7 arguments", lambda kq: ks.kevent(1, 2, 3, 4, 5, 6, 7), ALL,
     (TypeError, "kevent() takes at most 6 arguments (7 given)")),
    ("unknown keyword", lambda kq: ks.kevent(1, bogus=2), ((3, 11), (3, 12)),
     (TypeError, "'bogus' is an invalid keyword argument for kevent()")),
    ("unknown keyword", lambda kq: ks.kevent(1, bogus=2), FROM_3_13,
     (TypeError, "kevent() got an unexpected keyword argument 'bogus'")),
    ("ident twice", lambda kq: ks.kevent(1, ident=2), ALL,
     (TypeError, "argument for kevent() given by name ('ident') and position (1)")),
    ("subclass kevent", subclass(ks.kevent), ALL,
     (TypeError, "type 'select.kevent' is not an acceptable base type")),
    # -- attributes: PyMemberDef T_ULONGLONG ident/udata, T_SHORT filter, T_USHORT
    # flags, T_UINT fflags, T_LONGLONG data
    ("filter = 'x'", assign("filter", "x"), ALL,
     ("=", ("raised", "TypeError", "'str' object cannot be interpreted as an integer", 7))),
    ("filter = 1.5", assign("filter", 1.5), ALL,
     ("=", ("raised", "TypeError", "'float' object cannot be interpreted as an integer", 7))),
    ("filter = 2**15", assign("filter", 2**15), ALL,
     ("=", ("set", -(2**15))), ["Truncation of value to short"]),
    ("filter = 2**64", assign("filter", 2**64), ALL,
     ("=", ("raised", "OverflowError", "Python int too large to convert to C long", 7))),
    ("flags = -1", assign("flags", -1), ALL, ("=", ("set", 0xFFFF)), [TRUNC_USHORT]),
    ("flags = True", assign("flags", True), ALL, ("=", ("set", 1))),
    ("fflags = -1", assign("fflags", -1), TO_3_12,
     ("=", ("set", 0xFFFFFFFF)), [NEGATIVE, "Truncation of value to unsigned int"]),
    ("fflags = -1", assign("fflags", -1), FROM_3_13, ("=", ("set", 0xFFFFFFFF)), [NEGATIVE]),
    ("fflags = __index__", assign("fflags", Index(5)), TO_3_12,
     ("=", ("set", 5)), [NEGATIVE]),
    ("fflags = __index__", assign("fflags", Index(5)), FROM_3_13, ("=", ("set", 5))),
    ("fflags = 2**32", assign("fflags", 2**32), ALL,
     ("=", ("set", 0)), ["Truncation of value to unsigned int"]),
    ("fflags = 2**64", assign("fflags", 2**64), TO_3_12,
     ("=", ("raised", "OverflowError", "Python int too large to convert to C long", 7))),
    ("fflags = 2**64", assign("fflags", 2**64), FROM_3_13,
     ("=", ("raised", "OverflowError", "Python int too large to convert to C unsigned long", 7))),
    ("data = 'x'", assign("data", "x"), TO_3_13,
     ("=", ("raised", "TypeError", "'str' object cannot be interpreted as an integer", -1))),
    ("data = 'x'", assign("data", "x"), FROM_3_14,
     ("=", ("raised", "TypeError", "'str' object cannot be interpreted as an integer", 7))),
    ("data = 2**63", assign("data", 2**63), TO_3_13,
     ("=", ("raised", "OverflowError", "int too big to convert", -1))),
    ("data = 2**63", assign("data", 2**63), FROM_3_14,
     ("=", ("raised", "OverflowError", "int too big to convert", 7))),
    ("udata = -1", assign("udata", -1), TO_3_12,
     ("=", ("raised", "OverflowError", "can't convert negative int to unsigned", U64))),
    ("udata = -1", assign("udata", -1), FROM_3_13, ("=", ("set", U64)), [NEGATIVE]),
    ("udata = 1.5", assign("udata", 1.5), TO_3_12,
     ("=", ("raised", "TypeError", "'float' object cannot be interpreted as an integer", U64))),
    ("udata = 1.5", assign("udata", 1.5), FROM_3_13,
     ("=", ("raised", "TypeError", "'float' object cannot be interpreted as an integer", 7))),
    ("udata = 2**64", assign("udata", 2**64), TO_3_12,
     ("=", ("raised", "OverflowError", "int too big to convert", U64))),
    ("udata = 2**64", assign("udata", 2**64), FROM_3_13,
     ("=", ("raised", "OverflowError", "int too big to convert", 7))),
    ("ident = 2**63", assign("ident", 2**63), ALL, ("=", ("set", 2**63))),
    ("del ident", lambda kq: delattr(ks.kevent(1), "ident"), ALL,
     (TypeError, "can't delete numeric/char attribute")),
    ("del data", lambda kq: delattr(ks.kevent(1), "data"), ALL,
     (TypeError, "can't delete numeric/char attribute")),
    ("new attribute", lambda kq: setattr(ks.kevent(1), "foo", 1), TO_3_12,
     (AttributeError, "'select.kevent' object has no attribute 'foo'")),
    ("new attribute", lambda kq: setattr(ks.kevent(1), "foo", 1), FROM_3_13,
     (AttributeError,
      "'select.kevent' object has no attribute 'foo' and no __dict__ for setting new attributes")),
    # -- repr and comparisons
    ("repr", lambda kq: repr(ks.kevent(5, -1, 1, 2, -1, 255)), ALL,
     ("=", "<select.kevent ident=5 filter=-1 flags=0x1 fflags=0x2 data=0xffffffffffffffff "
           "udata=0xff>")),
    ("udata compares signed", lambda kq: ks.kevent(1, udata=2**63) < ks.kevent(1, udata=0),
     ALL, ("=", True)),
    ("== other type", lambda kq: ks.kevent(1) == 1, ALL, ("=", False)),
    ("unhashable", lambda kq: hash(ks.kevent(1)), ALL, (TypeError, None)),
    ("pickle kevent", lambda kq: pickle.dumps(ks.kevent(1)), ALL,
     (TypeError, "cannot pickle 'select.kevent' object")),
    ("copy kevent", lambda kq: copy.copy(ks.kevent(1)), ALL,
     (TypeError, "cannot pickle 'select.kevent' object")),
    ("pickle kqueue", lambda kq: pickle.dumps(kq), ALL,
     (TypeError, "cannot pickle 'select.kqueue' object")),
    # -- control(changelist, maxevents, timeout=None, /)
    ("timeout False", triggered(False), ALL, ("=", [(1, ks.KQ_FILTER_USER)])),
    ("timeout True", triggered(True), ALL, ("=", [(1, ks.KQ_FILTER_USER)])),
    ("timeout __index__", triggered(Index(1)), ALL, ("=", [(1, ks.KQ_FILTER_USER)])),
    ("timeout -0.0", ctl(None, 1, -0.0), ALL, ("=", [])),
    ("timeout 1e-12", ctl(None, 1, 1e-12), ALL, ("=", [])),
    # up to 3.14 every conversion failure is this TypeError; 3.15 keeps OverflowError
    # and ValueError (gh-154836)
    ("timeout NaN", ctl(None, 1, float("nan")), TO_3_14,
     (TypeError, "timeout argument must be a number or None, got float")),
    ("timeout NaN", ctl(None, 1, float("nan")), FROM_3_15,
     (ValueError, "Invalid value NaN (not a number)")),
    ("timeout inf", ctl(None, 1, float("inf")), TO_3_14,
     (TypeError, "timeout argument must be a number or None, got float")),
    ("timeout inf", ctl(None, 1, float("inf")), FROM_3_15, (OverflowError, TIME_RANGE)),
    ("timeout 1e10 s", ctl(None, 1, 1e10), TO_3_14,
     (TypeError, "timeout argument must be a number or None, got float")),
    ("timeout 1e10 s", ctl(None, 1, 1e10), FROM_3_15, (OverflowError, TIME_RANGE)),
    ("timeout 2**63", ctl(None, 1, 2**63), TO_3_14,
     (TypeError, "timeout argument must be a number or None, got int")),
    ("timeout 2**63", ctl(None, 1, 2**63), FROM_3_15, (OverflowError, TIME_RANGE)),
    ("timeout '1'", ctl(None, 1, "1"), ALL,
     (TypeError, "timeout argument must be a number or None, got str")),
    ("timeout Decimal", triggered(Decimal(1)), TO_3_14,
     (TypeError, "timeout argument must be a number or None, got Decimal")),
    ("timeout Decimal", triggered(Decimal(1)), FROM_3_15, ("=", [(1, ks.KQ_FILTER_USER)])),
    ("timeout -1", ctl(None, 1, -1), ALL, (ValueError, "timeout must be positive or None")),
    ("timeout -1e-12", ctl(None, 1, -1e-12), ALL,
     (ValueError, "timeout must be positive or None")),
    ("maxevents 1.5", ctl(None, 1.5), ALL,
     (TypeError, "'float' object cannot be interpreted as an integer")),
    ("maxevents 2**31", ctl(None, 2**31), ALL,
     (OverflowError, "Python int too large to convert to C int")),
    ("maxevents -1", ctl(None, -1), ALL,
     (ValueError, "Length of eventlist must be 0 or positive, got -1")),
    ("maxevents __index__", ctl(None, Index(0)), ALL, ("=", [])),
    ("changelist 5", ctl(5, 0), ALL, (TypeError, NOT_ITERABLE)),
    ("changelist [1]", ctl([1], 0), ALL,
     (TypeError, "changelist must be an iterable of select.kevent objects")),
    ("changelist iterator raises", raising_iterator, ALL,
     (TypeError, "from inside the iterator")),
    ("one argument", ctl(None), ALL, (TypeError, "control expected at least 2 arguments, got 1")),
    ("four arguments", ctl(None, 1, 0, 0), ALL,
     (TypeError, "control expected at most 3 arguments, got 4")),
    ("keyword", ctl(None, 1, timeout=0), ALL,
     (TypeError, "kqueue.control() takes no keyword arguments")),
    ("closed fd, no room", bad_fd_change(0), ALL,
     (OSError, "[Errno 9] Bad file descriptor", errno.EBADF)),
    ("closed fd, room", bad_fd_change(1), ALL, ("=", [(ks.KQ_EV_ERROR, errno.EBADF)])),
    ("delete unknown, no room", delete_unknown(0), ALL,
     (FileNotFoundError, "[Errno 2] No such file or directory", errno.ENOENT)),
    ("delete unknown, room", delete_unknown(1), ALL, ("=", [(ks.KQ_EV_ERROR, errno.ENOENT)])),
    ("closed queue", on_closed(None, 1, 0), ALL,
     (ValueError, "I/O operation on closed kqueue object")),
    ("closed queue, bad maxevents", on_closed(None, "x"), ALL,
     (TypeError, "'str' object cannot be interpreted as an integer")),
    # -- kqueue itself
    ("kqueue(1)", lambda kq: ks.kqueue(1), ALL,
     (TypeError, "kqueue() takes no positional arguments")),
    ("kqueue(x=1)", lambda kq: ks.kqueue(x=1), ALL,
     (TypeError, "kqueue() takes no keyword arguments")),
    ("fromfd('x')", lambda kq: ks.kqueue.fromfd("x"), ALL,
     (TypeError, "'str' object cannot be interpreted as an integer")),
    ("fromfd()", lambda kq: ks.kqueue.fromfd(), ALL,
     (TypeError, "kqueue.fromfd() takes exactly one argument (0 given)")),
    ("fromfd(file)", lambda kq: ks.kqueue.fromfd(FileLike(kq.fileno())), ALL,
     (TypeError, "'FileLike' object cannot be interpreted as an integer")),
    ("subclass kqueue", subclass(ks.kqueue), ALL,
     (TypeError, "type 'select.kqueue' is not an acceptable base type")),
    ("context manager", lambda kq: hasattr(kq, "__enter__"), ALL, ("=", False)),
    ("close after the fd was closed", closed_behind, TO_3_14, ("=", None)),
    ("close after the fd was closed", closed_behind, FROM_3_15,
     (OSError, "[Errno 9] Bad file descriptor", errno.EBADF)),
]
# fmt: on


def _applies(versions: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    return versions[0] <= V <= versions[1]


ROWS = [pytest.param(c, id=c[0]) for c in CASES if _applies(c[2])]


def test_every_version_has_an_answer_for_every_input() -> None:
    """Each input id has exactly one row for each version from 3.11 to 3.15."""
    for minor in range(11, 16):
        ids = [c[0] for c in CASES if c[2][0] <= (3, minor) <= c[2][1]]
        assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
        assert set(ids) == {c[0] for c in CASES}, (minor, {c[0] for c in CASES} - set(ids))


@pytest.mark.parametrize("case", ROWS)
def test_cpython_result(case: Case, backend: str) -> None:
    name, act, _, expected = case[:4]
    want_warnings = list(case[4]) if len(case) > 4 else []
    want_deprecations = list(case[5]) if len(case) > 5 else []
    kq = ks.kqueue(_backend=backend)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = act(kq)
            except Exception as exc:
                if expected[0] == "=":
                    raise
                want_type, want_msg = expected[0], expected[1]
                assert type(exc) is want_type, (name, exc)
                if want_msg is not None:
                    assert str(exc) == want_msg, name
                if len(expected) > 2:
                    assert exc.errno == expected[2], name  # type: ignore[attr-defined]
                    assert exc.filename is None, name  # type: ignore[attr-defined]
            else:
                assert expected[0] == "=", (name, got)
                assert got == expected[1], name
        runtime = [str(w.message) for w in caught if w.category is RuntimeWarning]
        assert runtime == want_warnings, name
        deprecated = [str(w.message) for w in caught if w.category is DeprecationWarning]
        assert deprecated == want_deprecations, name
        for w in caught:
            if w.category in (RuntimeWarning, DeprecationWarning):
                assert w.filename == __file__, w  # at the line that assigns or calls
    finally:
        kq.close()


# -- cross-checks against this interpreter's own C helpers (where _testcapi has them) ---

_testcapi: Any
try:
    import _testcapi
except ImportError:
    _testcapi = None

VALUES: list[Any] = [
    0, 1, -1, True, 7, 2**15 - 1, 2**15, -(2**15) - 1, 2**16, 2**31, 2**32, 2**63 - 1,
    2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 2**70, -(2**70), 1.5, "5", None,
    Index(5), Index(-5), Index(2**64), Decimal(3),
]  # fmt: skip


def _outcome(f: Callable[[], Any]) -> tuple[Any, ...]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got: tuple[Any, ...] = ("ok", f())
        except Exception as exc:
            got = (type(exc).__name__, str(exc))
    return (*got, [str(w.message) for w in caught])


@pytest.mark.skipif(_testcapi is None, reason="this CPython has no _testcapi")
@pytest.mark.parametrize(
    ("member", "test_member"),
    [
        ("ident", "T_ULONGLONG"),
        ("filter", "T_SHORT"),
        ("flags", "T_USHORT"),
        ("fflags", "T_UINT"),
        ("data", "T_LONGLONG"),
        ("udata", "T_ULONGLONG"),
    ],
)
def test_members_match_this_cpythons_structmember(member: str, test_member: str) -> None:
    cls = getattr(_testcapi, "_test_structmembersType_OldAPI", None) or getattr(
        _testcapi, "_test_structmembersType", None
    )
    if cls is None:
        pytest.skip("this _testcapi has no struct member test type")
    for value in VALUES:
        ours = ks.kevent(7, 7, 7, 7, 7, 7)
        theirs = cls()
        setattr(theirs, test_member, 7)
        a = _outcome(lambda: setattr(ours, member, value))  # noqa: B023
        b = _outcome(lambda: setattr(theirs, test_member, value))  # noqa: B023
        assert (a, getattr(ours, member)) == (b, getattr(theirs, test_member)), value


@pytest.mark.skipif(_testcapi is None, reason="this CPython has no _testcapi")
@pytest.mark.parametrize(("position", "unit"), [(1, "h"), (2, "H"), (3, "I"), (4, "L"), (5, "K")])
def test_arguments_match_this_cpythons_getargs(position: int, unit: str) -> None:
    parse = getattr(_testcapi, f"getargs_{unit}")
    names = ("ident", "filter", "flags", "fflags", "data", "udata")
    for value in VALUES:
        args = [0, 0, 0, 0, 0, 0]
        args[position] = value
        a = _outcome(lambda: getattr(ks.kevent(*args), names[position]))  # noqa: B023
        b = _outcome(lambda: parse(value))  # noqa: B023
        if b[0] == "TypeError" and b[1].startswith("argument 1 "):
            # getargs names the function and the position: "kevent() argument 6 ..."
            b = (b[0], f"kevent() argument {position + 1} " + b[1][len("argument 1 ") :], b[2])
        assert a == b, value


def _pytime() -> Any:
    """This interpreter's _PyTime_FromSecondsObject, where a test module exports it."""
    found = getattr(_testcapi, "PyTime_FromSecondsObject", None)
    if found is None:
        try:
            import _testinternalcapi
        except ImportError:
            return None
        found = getattr(_testinternalcapi, "_PyTime_FromSecondsObject", None)
    return found


@pytest.mark.skipif(_pytime() is None, reason="no test module exports _PyTime_FromSecondsObject")
def test_timeouts_match_this_cpythons_pytime() -> None:
    from kevents.compat import _capi

    pytime = _pytime()
    round_timeout = 3  # _PyTime_ROUND_TIMEOUT (= ROUND_UP)
    extra = [0.5, -0.5, 1e-12, -1e-12, -0.0, 1e10, 1e300, float("inf"), float("nan")]
    for value in [*VALUES, *extra]:
        a = _outcome(lambda: _capi.seconds_to_ns(value))  # noqa: B023
        b = _outcome(lambda: pytime(value, round_timeout))  # noqa: B023
        assert a[0] == b[0], value  # the type: kqueue.control() replaces the TypeErrors
        if a[0] != "TypeError":
            assert a[1] == b[1], value  # the value, or the message 3.15 lets through


# -- an unclosed kqueue object (issue 20 item 2, D51) -----------------------------------


def test_unclosed_kqueue_closes_silently_when_collected(backend: str) -> None:
    """CPython's kqueue closes its descriptor in its finalizer, without a warning (the
    native kevents.Queue keeps its ResourceWarning: test_lifecycle.py)."""
    import gc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kq = ks.kqueue(_backend=backend)
        kq.control([ks.kevent(1, ks.KQ_FILTER_USER, ks.KQ_EV_ADD)], 0)
        fd = kq.fileno()
        del kq
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    with pytest.raises(OSError):
        os.fstat(fd)  # the queue (or its token descriptor, D40) is closed


def test_collected_alias_closes_the_queue_as_cpython(backend: str) -> None:
    """kqueue.fromfd() names the same descriptor: collecting that object closes it for
    both, as CPython's finalizer does (close(fd)); nothing warns."""
    import gc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kq = ks.kqueue(_backend=backend)
        alias = ks.kqueue.fromfd(kq.fileno())
        del alias
        gc.collect()
        with pytest.raises(OSError) as info:
            kq.control(None, 1, 0)
        assert info.value.errno == errno.EBADF
        assert not kq.closed
        if V >= (3, 15):  # gh-146205: closing a dead descriptor says so
            with pytest.raises(OSError):
                kq.close()
        kq.close()
        assert kq.closed
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
