"""EVFILT_USER, kept entirely in user space (portable; spec §5.10, §6.9).

No kernel object: a trigger bit and the 24 user flags live on the knote, and the
engine's ready list plus the backend's pending signal wake a waiter in another thread.
BSD semantics throughout: triggers are remembered while disabled (D28), every change
replaces ``data``, the user flags persist across deliveries and EV_CLEAR resets only
the trigger. One divergence, taken on purpose (D27): NOTE_TRIGGER in the creating
EV_ADD triggers at once, as on macOS.
"""

from __future__ import annotations

from .._backends._contract import Source
from .._event import Filter, Flag, NoteUser
from .._knote import Knote

_TRIGGER = int(NoteUser.TRIGGER)
_CTRL = int(NoteUser.FFCTRLMASK)
_MASK = int(NoteUser.FFLAGSMASK)
_AND = int(NoteUser.FFAND)
_OR = int(NoteUser.FFOR)
_COPY = int(NoteUser.FFCOPY)
_CLEAR = int(Flag.CLEAR)


def _apply_ctrl(current: int, fflags: int) -> int:
    op = fflags & _CTRL
    bits = fflags & _MASK
    if op == _AND:
        return current & bits
    if op == _OR:
        return current | bits
    if op == _COPY:
        return bits
    return current


class UserSource(Source):
    filter = Filter.USER
    userspace = True

    def attach(self, kn: Knote) -> None:
        kn.priv = bool(kn.sfflags & _TRIGGER)
        kn.fflags = _apply_ctrl(0, kn.sfflags)
        kn.data = kn.sdata

    def touch(self, kn: Knote, fflags: int, data: int, flags: int) -> None:
        if fflags & _TRIGGER:
            kn.priv = True
        kn.fflags = _apply_ctrl(kn.fflags, fflags)
        kn.data = data
        if flags & _CLEAR:
            kn.priv = False

    def event(self, kn: Knote) -> bool:
        return bool(kn.priv)

    def clear(self, kn: Knote) -> None:
        kn.priv = False
