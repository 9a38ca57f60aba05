"""``backend_info()``: which backend a queue would use here, and how each filter works."""

from __future__ import annotations

import dataclasses
import sys

from ._backends import choose, make_backend
from ._event import Filter


@dataclasses.dataclass(frozen=True)
class FilterInfo:
    """How one filter is provided: ``mechanism`` (None when unsupported) and why."""

    filter: Filter
    supported: bool
    mechanism: str | None
    why: str


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    backend: str
    chosen_by: str
    platform: str
    filters: tuple[FilterInfo, ...]

    def filter(self, f: Filter | int) -> FilterInfo:
        return next(i for i in self.filters if i.filter == f)


def backend_info(backend: str | None = None, *, io_uring: bool | None = None) -> BackendInfo:
    """Describe the backend that ``Queue(backend, io_uring=...)`` would use (probing it)."""
    name, chosen_by = choose(backend)
    impl = make_backend(name, io_uring)
    try:
        mech = impl.mechanisms()
    finally:
        impl.close()
    filters = []
    for f in Filter:
        if f in mech:
            m, why = mech[f]
            filters.append(FilterInfo(f, True, m, why))
        else:
            filters.append(FilterInfo(f, False, None, f"not provided by the {name} backend"))
    return BackendInfo(name, chosen_by, sys.platform, tuple(filters))
