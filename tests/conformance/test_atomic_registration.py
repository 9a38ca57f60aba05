"""A registration is atomic with respect to other Python threads (issue 20 item 3, D46):
from the start of a change list to the kernel registration of each knote, the GIL is
not released where the calls are short, so a file change another thread makes right
after control() starts is reported, as with CPython's select.kqueue."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

import kevents
from kevents import Filter, Flag, KEvent, NoteVnode, _core
from kevents._platforms import status


@pytest.fixture
def long_switch_interval() -> Iterator[None]:
    # no forced GIL hand-over in the middle of a registration (a loaded machine can
    # stretch one past the default 5 ms): only a release by kevents itself would let
    # the other thread in
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_change_right_after_control_starts_is_reported(
    backend: str,
    kq: kevents.Queue,
    tmp_path,
    long_switch_interval: None,  # type: ignore[no-untyped-def]
) -> None:
    kind, note = status("registration atomic for other threads", backend)
    c_core = _core._speedups is not None and os.environ.get("KEVENTS_SPEEDUPS") != "0"
    if kind == "unsupported" or (kind == "differs" and not c_core):
        pytest.skip(note)
    for i in range(20):
        path = tmp_path / f"f{i}"
        path.write_bytes(b"")
        fd = os.open(path, os.O_RDONLY)
        started = threading.Event()

        class Ident:
            """The change's ident: control() resolves it first, then registers."""

            def fileno(self) -> int:
                started.set()  # noqa: B023 - the writer may run from here on, given the GIL
                return fd  # noqa: B023

        def writer() -> None:
            started.wait()  # noqa: B023 - each thread ends within its iteration
            with open(path, "ab") as f:  # noqa: B023
                f.write(b"x")

        t = threading.Thread(target=writer)
        t.start()
        try:
            kq.control([KEvent(Ident(), Filter.VNODE, Flag.ADD | Flag.CLEAR, NoteVnode.WRITE)], 0)
        finally:
            t.join()
        got = kq.control(None, 4, 5)
        os.close(fd)
        assert [(ev.filter, ev.fflags & NoteVnode.WRITE) for ev in got] == [
            (Filter.VNODE, NoteVnode.WRITE)
        ], f"iteration {i}: {got}"
