"""``open_for_vnode``: a descriptor for ``Filter.VNODE`` that does not get in the way of
what it watches, on every OS."""

from __future__ import annotations

import os
import sys


def open_for_vnode(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of the file or directory ``path``, for ``Filter.VNODE``;
    close it with ``os.close`` (after the knote, or with ``Queue.close_fd``).

    It never blocks and is not inherited by child processes. macOS: ``O_EVTONLY``, so
    it does not keep a volume from being unmounted. Windows: ``os.open`` can open
    neither a directory nor a file that others may rename or delete; this descriptor
    shares reading, writing and deletion, so the watched file or directory can still be
    renamed and removed, and VNODE reports it (the platform table: "VNODE rename and
    delete"). FIFOs open at once too, and a VNODE change then refuses them (EINVAL).
    """
    if sys.platform == "win32":
        from ._backends.windows.vnode import open_shared

        return open_shared(path)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_EVTONLY", 0)
    return os.open(path, flags)
