"""The knote: one registration, keyed by (ident, filter) in one queue (spec §1.2)."""

from __future__ import annotations

from typing import Any

from ._core import C_LAYOUT, KnoteBase
from ._event import Flag

#: Bits of ``flags`` that are actions, never stored on a knote (spec §1.2).
ACTION_FLAGS = int(
    Flag.ADD | Flag.DELETE | Flag.ENABLE | Flag.DISABLE | Flag.FORCEONESHOT | Flag.KEEPUDATA
)
#: Bits of ``flags`` a knote keeps from its creating change, whatever later changes say.
PERSISTENT_FLAGS = int(Flag.ONESHOT | Flag.CLEAR | Flag.RECEIPT | Flag.DISPATCH)
_DISABLE = int(Flag.DISABLE)
_NODATA = int(Flag.NODATA)


#: the fields of a knote: its ``__slots__``, or, under speedups, the C layout of
#: ``KnoteBase`` (kevents/_cffi/knote.c, D76), which lists the same names
FIELDS = (
    "alive",
    "data",
    "disabled",
    "ext",
    "fflags",
    "filter",
    "flags",
    "forced",
    "ident",
    "identity",
    "nodata",
    "oflags",
    "priv",
    "queued",
    "sdata",
    "sfflags",
    "source",
    "token",
    "udata",
)

#: the fields that hold only ints and True/False: in the C layout they are C fields
#: (``long long``, ``char``: kevents/_cffi/knote.c, D86), which refuse anything else, and
#: the same code stores the same values in the ``__slots__`` of the Python layout
SCALARS = (
    "alive",
    "data",
    "disabled",
    "fflags",
    "flags",
    "forced",
    "nodata",
    "oflags",
    "queued",
    "sdata",
    "sfflags",
    "token",
)


class Knote(KnoteBase):
    """State of one registration (the FreeBSD shape, spec §1.2).

    ``sfflags``/``sdata`` are the caller's input (unit, note mask, low-water mark);
    ``fflags``/``data`` are what the next event carries; ``oflags`` are output-only
    flag bits a filter sets (EOF). ``priv`` and ``token`` belong to the source.
    """

    __slots__ = () if C_LAYOUT else FIELDS

    def __init__(
        self, ident: int, filt: int, flags: int, fflags: int, data: int, udata: Any
    ) -> None:
        self.ident = ident
        self.filter = filt
        flags = int(flags)
        self.flags = flags & PERSISTENT_FLAGS
        self.sfflags = int(fflags)
        self.sdata = int(data)
        self.fflags = 0
        self.data = 0
        self.oflags = 0
        self.udata = udata
        self.ext: Any = None
        self.disabled = bool(flags & _DISABLE)
        #: EV_NODATA (kevents, D78): fixed by the creating change, never on output
        self.nodata = bool(flags & _NODATA)
        self.queued = False
        #: EV_FORCEONESHOT: delivered once as it is, without re-checking the condition
        self.forced = False
        self.alive = True
        self.identity: object = None
        self.source: Any = None
        self.token = 0
        self.priv: Any = None

    def __repr__(self) -> str:
        return f"<Knote ident={self.ident} filter={self.filter} flags={self.flags:#x}>"
