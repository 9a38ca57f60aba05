"""What a queue has in the kernel, read from the kernel itself, to check it against the
queue's own tables: every epoll registration belongs to a knote or to one of kevents'
own descriptors ("no ghost"), and every internal registration is still there."""

from __future__ import annotations

import os
import sys
from typing import Any

from kevents import Filter, Queue


def linux_engine(q: Queue) -> Any:
    """The engine driving the Linux epoll sets behind ``q`` (through the kqueue
    translation layer too), or None on other backends."""
    if not sys.platform.startswith("linux"):
        return None
    eng: Any = q._engine
    backend = getattr(eng, "backend", None)
    if backend is not None and getattr(backend, "name", "") == "linux":
        return eng
    inner = getattr(getattr(getattr(eng, "kq", None), "_queue", None), "_engine", None)
    if inner is not None and getattr(inner.backend, "name", "") == "linux":
        return inner
    return None


def registrations(epfd: int) -> set[tuple[int, int]]:
    """(fd, token) of every registration in an epoll set, from /proc/self/fdinfo."""
    out = set()
    with open(f"/proc/self/fdinfo/{epfd}") as f:
        for line in f:
            if line.startswith("tfd:"):
                words = line.split()
                out.add((int(words[1]), int(words[5], 16)))
    return out


def problems(q: Queue) -> list[str]:
    """Ghost registrations (in the kernel, unknown to the queue) and lost internal ones;
    empty when the kernel and the queue agree (or on backends without epoll)."""
    eng = linux_engine(q)
    if eng is None or eng.closed:
        return []
    be = eng.backend
    main, inner = registrations(be.epfd), registrations(be.innerfd)
    internal = {(fd, token) for fd, (token, _) in be.internal.items()}
    knotes = {
        (kn.ident, kn.token): kn
        for kn in be.knotes.values()
        if kn.priv.registered and kn.alive and eng.knotes.get((kn.ident, kn.filter)) is kn
    }
    want_main = internal | {k for k, kn in knotes.items() if kn.filter == Filter.READ}
    want_inner = {k for k, kn in knotes.items() if kn.filter == Filter.WRITE}
    out = []
    for where, have, want in (("main", main, want_main), ("inner", inner, want_inner)):
        for fd, token in sorted(have - want):
            if fd == be.innerfd or token in be.zombies:
                continue  # the nested set itself; a DEL that failed on a closed fd (D13)
            out.append(f"ghost in the {where} epoll: fd {fd} ({_what(fd)}) token {token:#x}")
    for fd, token in sorted(internal - main):
        out.append(f"internal registration lost: fd {fd} ({_what(fd)}) token {token:#x}")
    for (ident, filt), kn in eng.knotes.items():
        if (
            kn.token in be.knotes
            and kn.priv.registered
            and (ident, kn.token) not in main | inner
            and _same_file(ident, kn.identity)  # else gone with its file (D13)
        ):
            out.append(f"knote ({ident}, {filt}) has no registration")
    return out


def _same_file(fd: int, identity: object) -> bool:
    from kevents._backends.linux.read_write import identify

    if identity is None:
        # the registration is the knote's identity (D80): without it in the kernel,
        # nothing says whether the fd still names the knote's file
        return False
    try:
        return identify(fd) == identity
    except OSError:
        return False


def _what(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "closed"
