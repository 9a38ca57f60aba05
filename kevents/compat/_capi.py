"""CPython's C-level conversions, as ``select.kevent`` and ``select.kqueue`` meet them.

``select`` is C code: its argument types, exceptions and messages are those of the C API
helpers it calls (``PyArg_ParseTupleAndKeywords`` format units, ``PyMemberDef`` setters,
``_PyTime_FromSecondsObject``, ``PyObject_AsFileDescriptor``). This module re-states
each helper in Python, for the version of CPython that is running, so that
:mod:`kevents.compat.select` answers every input as the stdlib would on BSD (decision
D49). Where CPython changed between 3.11 and 3.15 the version is named at the branch;
the rules were read from Modules/selectmodule.c, Python/getargs.c, Python/structmember.c
and Python/pytime.c of each version, and the ones the test C API exposes
(``_testcapi``) are cross-checked against it by tests/conformance/test_compat_exact.py.

Every setter writes where the C code writes and in the same order, so even the state a
failed conversion leaves behind is CPython's (3.11-3.13 store -1 into a ``long long``
member before they notice the error; 3.14 leaves it unchanged).
"""

from __future__ import annotations

import operator
import sys
import warnings
from typing import Any

VERSION = sys.version_info[:2]

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1

# -- the integer converters of Objects/longobject.c ---------------------------------------


def index(v: Any) -> int:
    """``PyNumber_Index``: int, a subclass (bool) or ``__index__``; TypeError otherwise."""
    return int(operator.index(v))


def as_long(v: Any) -> int:
    """``PyLong_AsLong`` (64-bit long, as on FreeBSD/amd64)."""
    i = index(v)
    if not _LONG_MIN <= i <= _LONG_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return i


def as_long_long(v: Any) -> int:
    """``PyLong_AsLongLong``."""
    i = index(v)
    if not _LONG_MIN <= i <= _LONG_MAX:
        raise OverflowError("int too big to convert")
    return i


def as_int(v: Any) -> int:
    """``_PyLong_AsInt`` / ``PyLong_AsInt`` (clinic's ``int`` converter)."""
    i = index(v)
    if not -(1 << 31) <= i < (1 << 31):
        raise OverflowError("Python int too large to convert to C int")
    return i


def as_size_t(v: int) -> int:
    """``PyLong_AsSize_t`` of an int."""
    if v < 0:
        raise OverflowError("can't convert negative value to size_t")
    if v > _U64:
        raise OverflowError("Python int too large to convert to C size_t")
    return int(v)


def as_file_descriptor(o: Any) -> int:
    """``PyObject_AsFileDescriptor``."""
    if isinstance(o, int):
        fd = _c_int(o)
    else:
        try:
            meth = o.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        fno = meth()
        if not isinstance(fno, int):
            if VERSION >= (3, 15):
                raise TypeError(
                    f"{fq_name(type(o))}.fileno() must return an int, not {fq_name(type(fno))}"
                )
            raise TypeError("fileno() returned a non-integer")
        fd = _c_int(fno)
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def fq_name(t: type) -> str:
    """``%T``: the type's fully qualified name, without "builtins." or "__main__."."""
    if t.__module__ in ("builtins", "__main__"):
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def _c_int(v: int) -> int:
    if not -(1 << 31) <= v < (1 << 31):
        raise OverflowError("Python int too large to convert to C int")
    return int(v)


# -- PyArg_ParseTupleAndKeywords format units (Python/getargs.c) ------------------------


def unit_h(v: Any) -> int:
    """``h``: signed short, range-checked."""
    i = as_long(v)
    if i < -0x8000:
        raise OverflowError("signed short integer is less than minimum")
    if i > 0x7FFF:
        raise OverflowError("signed short integer is greater than maximum")
    return i


def _bitwise(i: int, bits: int) -> int:
    """The bitwise units keep the low bits; 3.15 deprecates a value outside both the
    signed and the unsigned range of the C type (a DeprecationWarning at the caller)."""
    if VERSION >= (3, 15) and not -(1 << (bits - 1)) <= i < (1 << bits):
        # frames: _bitwise <- unit_* <- _kevent_init <- kevent.__init__ <- the call
        warnings.warn("integer value out of range", DeprecationWarning, stacklevel=5)
    return i & ((1 << bits) - 1)


def unit_H(v: Any) -> int:
    """``H``: unsigned short, no overflow check (the bits are kept, bpo-11973)."""
    return _bitwise(index(v), 16)


def unit_I(v: Any) -> int:
    """``I``: unsigned int, no overflow check."""
    return _bitwise(index(v), 32)


def unit_L(v: Any) -> int:
    """``L``: long long."""
    return as_long_long(v)


class ConvertError(TypeError):
    """A format unit refused the type: getargs prefixes "f() argument N " to it."""


def unit_K(v: Any) -> int:
    """``K``: unsigned long long, no overflow check. Only an int before 3.14; 3.14 also
    takes ``__index__`` (gh-132987)."""
    if isinstance(v, int):
        return _bitwise(int(v), 64)
    if VERSION >= (3, 14) and hasattr(type(v), "__index__"):
        return _bitwise(index(v), 64)
    raise ConvertError(f"must be int, not {'None' if v is None else tp_name(type(v))}")


_HEAPTYPE = 1 << 9


def tp_name(t: type) -> str:
    """A type's ``tp_name``, which getargs writes into its messages: "str", "Index" for
    a class defined in Python, but "decimal.Decimal" for a type defined in C."""
    name = t.__name__
    if t.__module__ == "builtins":
        return name
    if not t.__flags__ & _HEAPTYPE:
        return f"{t.__module__}.{name}"  # a static C type is declared "module.name"
    # a heap type: a Python class (tp_name is its __name__) or a C type made from a spec
    # (tp_name is the spec's dotted name); 3.13+ marks Python classes with
    # __firstlineno__, before that nearly every C type of the stdlib was static
    if VERSION >= (3, 13) and "__firstlineno__" not in t.__dict__:
        return f"{t.__module__}.{name}"
    return name


def unexpected_keyword(fname: str, key: str) -> TypeError:
    if VERSION >= (3, 13):
        return TypeError(f"{fname}() got an unexpected keyword argument '{key}'")
    return TypeError(f"'{key}' is an invalid keyword argument for {fname}()")


# -- PyMemberDef setters (Python/structmember.c) ------------------------------------------
#
# Each takes the value and a store(int) callback and calls store exactly where the C code
# writes the member. Warnings are RuntimeWarnings at the assigning frame, as WARN() does.


def _warn(msg: str) -> None:
    # frames: _warn <- setter <- kevent.__setattr__ <- the assignment
    warnings.warn(msg, RuntimeWarning, stacklevel=4)


def set_short(v: Any, store: Any) -> None:
    """``T_SHORT``: out-of-range values are truncated with a warning."""
    i = as_long(v)
    store(((i + 0x8000) & _U16) - 0x8000)
    if not -0x8000 <= i <= 0x7FFF:
        _warn("Truncation of value to short")


def set_ushort(v: Any, store: Any) -> None:
    """``T_USHORT``."""
    i = as_long(v)
    store(i & _U16)
    if not 0 <= i <= _U16:
        _warn("Truncation of value to unsigned short")


def set_uint(v: Any, store: Any) -> None:
    """``T_UINT``: negative values are accepted with a warning (for compatibility)."""
    if VERSION >= (3, 13):
        # gh-114388: __index__ first, one warning per case
        i = index(v)
        if i < 0:
            store(as_long(i) & _U32)
            _warn("Writing negative value into unsigned field")
        else:
            if i > _U64:
                raise OverflowError("Python int too large to convert to C unsigned long")
            store(i & _U32)
            if i > _U32:
                _warn("Truncation of value to unsigned int")
        return
    # PyLong_AsUnsignedLong takes only a non-negative int; anything else is retried
    # through PyLong_AsLong, stored, and warned about (a positive __index__ object too)
    if isinstance(v, int) and 0 <= v <= _U64:
        u = int(v)
        store(u & _U32)
    else:
        u = as_long(v) & _U64
        store(u & _U32)
        _warn("Writing negative value into unsigned field")
    if u > _U32:
        _warn("Truncation of value to unsigned int")


def set_long_long(v: Any, store: Any) -> None:
    """``T_LONGLONG``: before 3.14 the member is written (with -1) before the check."""
    try:
        i = as_long_long(v)
    except (TypeError, OverflowError):
        if VERSION < (3, 14):
            store(-1)
        raise
    store(i)


def set_ulong_long(v: Any, store: Any) -> None:
    """``T_ULONGLONG``."""
    if VERSION >= (3, 13):
        i = index(v)
        if i < 0:
            store(as_long(i) & _U64)
            _warn("Writing negative value into unsigned field")
        else:
            if i > _U64:
                raise OverflowError("int too big to convert")
            store(i)
        return
    # an int goes through PyLong_AsUnsignedLongLong, anything else PyLong_AsLong; the
    # result (-1 on error) is stored before the error is looked at
    if isinstance(v, int):
        if v < 0:
            store(_U64)
            raise OverflowError("can't convert negative int to unsigned")
        if v > _U64:
            store(_U64)
            raise OverflowError("int too big to convert")
        store(int(v))
        return
    try:
        i = as_long(v)
    except (TypeError, OverflowError):
        store(_U64)
        raise
    store(i & _U64)


# -- _PyTime_FromSecondsObject(_PyTime_ROUND_TIMEOUT) (Python/pytime.c) ------------------

_NS_MIN = float(-(1 << 63))


def seconds_to_ns(obj: Any) -> int:
    """Seconds to nanoseconds, rounded away from zero: a float, or an int (``bool``, an
    ``__index__`` object); 3.15 also takes any real number through ``__float__``
    (Decimal, Fraction). ValueError for NaN, OverflowError beyond a 64-bit nanosecond
    count, TypeError for any other type (up to 3.14 ``kqueue.control`` turns each of
    them into its own TypeError; 3.15 keeps the first two, gh-154836)."""
    if isinstance(obj, float):
        d = float.__float__(obj)  # PyFloat_AsDouble of a float reads the value itself
    elif VERSION >= (3, 15) and not hasattr(type(obj), "__index__"):
        if not hasattr(type(obj), "__float__"):
            raise TypeError(f"must be real number, not {type_name(obj)}")
        d = float(obj)
    else:
        sec = index(obj)  # PyLong_AsLongLong; its overflow is reported as pytime's
        ns = sec * 1_000_000_000
        if not _LONG_MIN <= ns <= _LONG_MAX:
            raise OverflowError(_TIME_RANGE_INT)
        return ns
    if d != d:
        raise ValueError("Invalid value NaN (not a number)")
    d *= 1e9
    if not _NS_MIN <= d < -_NS_MIN:
        raise OverflowError(_TIME_RANGE_FLOAT)
    return int(d) if d == int(d) else (int(d) + 1 if d > 0 else int(d) - 1)


if VERSION >= (3, 14):
    _TIME_RANGE_FLOAT = _TIME_RANGE_INT = "timestamp out of range for C PyTime_t"
else:
    _TIME_RANGE_FLOAT = "timestamp out of range for platform time_t"
    _TIME_RANGE_INT = "timestamp too large to convert to C " + (
        "PyTime_t" if VERSION >= (3, 13) else "_PyTime_t"
    )


def type_name(obj: Any) -> str:
    """``_PyType_Name``: the type's name after its last dot."""
    return type(obj).__name__.rpartition(".")[2]
