"""close() costs O(1) system calls, EV_DELETE no fstat (D44), and neither does a new
READ/WRITE registration or a re-add (D80), counted with strace where it is installed;
and either way, a close with many knotes leaves the objects usable and unwatched."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

import kevents
from kevents import Filter, Flag, KEvent
from kevents._core import load_speedups

COUNT = """
import os, socket, sys
import kevents
pairs = [socket.socketpair() for _ in range(500)]
q = kevents.Queue(backend={backend!r}, io_uring={backend!r} == 'linux-io_uring')
q.control([kevents.KEvent(pairs[0][0].fileno(), kevents.Filter.USER)], 0)  # imports
os.getppid()  # marker
q.control([kevents.KEvent(s.fileno(), f) for p in pairs for s in p
           for f in (kevents.Filter.READ, kevents.Filter.WRITE)], 0)
os.getppid()
q.control([kevents.KEvent(pairs[0][0].fileno(), kevents.Filter.READ)], 0)
os.getppid()
q.control([kevents.KEvent(pairs[0][0].fileno(), kevents.Filter.READ, kevents.Flag.DELETE)], 0)
os.getppid()
q.close()
os.getppid()
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux system calls")
@pytest.mark.parametrize("backend", ["linux", "linux-io_uring"])
def test_close_and_delete_system_calls(backend: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if backend == "linux-io_uring":
        from kevents._backends.linux.io_uring import probe

        if not probe().batch:
            pytest.skip("io_uring batching (IORING_OP_EPOLL_CTL) is unavailable")
    trace = tmp_path / "trace"
    subprocess.run(
        ["strace", "-qq", "-o", str(trace), sys.executable, "-c", COUNT.format(backend=backend)],
        check=True,
    )
    calls: list[list[str]] = [[]]
    for line in trace.read_text().splitlines():
        name = line.split("(", 1)[0]
        if name == "getppid":
            calls.append([])
        else:
            calls[-1].append(name)
    add, again, delete, close = calls[1:5]
    stat_calls = {"fstat", "newfstatat", "statx"}
    if backend == "linux-io_uring":
        assert "epoll_ctl" not in add and add.count("io_uring_enter") <= 10, add
        assert not stat_calls & set(add), add  # D80
    elif load_speedups() is not None:  # the C pass; the Python engine asks fstat first
        assert add.count("epoll_ctl") == 2000 and not stat_calls & set(add), add  # D80
        assert again == ["epoll_ctl"], again  # the MOD that re-arms it vouches for it
    assert delete == ["epoll_ctl"], delete  # no fstat
    assert "epoll_ctl" not in close and "inotify_rm_watch" not in close, close
    assert close.count("close") <= 4, close  # epoll, inner epoll, eventfd (+ ring)
    assert len(close) <= 7, close  # + the ring's 3 munmap when io_uring was used


def test_close_with_many_knotes_leaves_objects_alone(kq: kevents.Queue) -> None:
    pairs = [socket.socketpair() for _ in range(50)]
    try:
        kq.control([KEvent(a.fileno(), Filter.READ, Flag.ADD) for a, _ in pairs], 0)
        kq.close()
        for a, b in pairs:
            b.send(b"x")
            assert a.recv(1) == b"x"
        with kevents.Queue() as again:  # the same fds register anew in another queue
            again.control([KEvent(a.fileno(), Filter.READ) for a, _ in pairs], 0)
            assert len(again.control(None, 64, 0)) == 0
    finally:
        for a, b in pairs:
            a.close()
            b.close()
