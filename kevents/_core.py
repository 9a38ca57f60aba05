"""The base class of :class:`kevents.Queue`: its ``control()`` (D42).

``PyCore`` is the reference: ``Queue.control`` in Python, one call into the engine.
``kevents._speedups.Core`` (kevents/_cffi/queue.c) is its C twin, chosen at import
when the extension is built for this version and ``KEVENTS_SPEEDUPS`` is not ``0``:
it runs the steady state (no changes, nothing of the engine's own to merge) as one
``epoll_wait`` with events built in C, and calls ``PyCore.control`` for everything
else. A queue whose backend has no fast state (``KEVENTS_SPEEDUPS=0`` when it was made,
or a backend other than Linux) never takes the C path, even with the C base.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._event import HasFileno, KEvent
from ._version import __version__


class PyCore:
    """``Queue.control`` in Python (the reference implementation)."""

    __slots__ = ("_engine",)
    _engine: Any

    def control(
        self,
        changelist: Iterable[KEvent[int | HasFileno]] | None,
        max_events: int,
        timeout: float | None = None,
    ) -> list[KEvent]:
        """Apply ``changelist`` in order, then wait up to ``timeout`` seconds (None:
        forever) for at most ``max_events`` events.

        A change that fails yields an EV_ERROR entry (``data`` = errno) when there is
        room, and then no events are collected in this call; with no room it raises
        OSError and later changes are not applied. Signals interrupt the wait only to
        run Python handlers; the wait then resumes without re-applying changes.
        """
        engine = self._engine
        if engine is None:
            raise ValueError("I/O operation on closed kevents queue")
        result: list[KEvent] = engine.control(changelist, max_events, timeout)
        return result

    def _fast_setup(self, *state: Any) -> None:
        """No C path here: nothing to set up."""


def load_speedups() -> Any:
    """kevents._speedups when built for this version and not disabled, else None."""
    if os.environ.get("KEVENTS_SPEEDUPS", "1") == "0":
        return None
    try:
        from . import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    if __version__ != _speedups.VERSION:
        return None
    _speedups.setup(KEvent, PyCore.control)
    # the NamedTuple's __new__ in C: same signature, defaults and errors (event.c); its
    # signature stays readable (help(), the docs), which inspect takes from __new__
    KEvent.__signature__ = inspect.signature(KEvent)  # type: ignore[attr-defined]
    KEvent.__new__ = staticmethod(_speedups.kevent_new)  # type: ignore[method-assign]
    return _speedups


def route_compat(kqueue: type, kevent: type) -> None:
    """compat.select's hook (D42): with the C core loaded, ``kqueue.control`` runs its
    steady state in C (compat_select.c) and is the Python method otherwise."""
    if _speedups is not None:
        _speedups.route_compat(kqueue, kevent, _speedups.Core)


class PyEngineBase:
    """The Python twin of ``_speedups.EngineBase``: Engine's flags are plain attributes."""


class PySlots:
    """The Python twin of ``_speedups.KnoteBase``/``RegBase``/``TimerBase`` (D76): no layout of its
    own, so the subclass's ``__slots__`` are the fields."""

    __slots__ = ()


_speedups = load_speedups()
if TYPE_CHECKING:
    Core = PyCore
    EngineBase = PyEngineBase
    KnoteBase = PySlots
    RegBase = PySlots
    TimerBase = PySlots
    TimerSourceBase = object
    KeventBase = object
else:
    Core = PyCore if _speedups is None else _speedups.Core
    EngineBase = PyEngineBase if _speedups is None else _speedups.EngineBase
    KnoteBase = PySlots if _speedups is None else _speedups.KnoteBase
    RegBase = PySlots if _speedups is None else _speedups.RegBase
    TimerBase = PySlots if _speedups is None else _speedups.TimerBase
    #: TimerSource's seq and armed, as C fields under speedups (knote.c)
    TimerSourceBase = object if _speedups is None else _speedups.TimerSourceBase
    #: compat.select.kevent's struct kevent (compat_select.c)
    KeventBase = object if _speedups is None else _speedups.KeventBase
#: KnoteBase/RegBase hold the fields in C, so their subclasses' __slots__ are empty (D76)
C_LAYOUT = _speedups is not None
