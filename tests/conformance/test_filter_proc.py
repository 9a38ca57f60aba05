"""EVFILT_PROC and EVFILT_PROCDESC (spec §5.6, §5.7, C-92..C-102, D18-D21)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, Queue
from kevents.testing import expect_no_events

EXIT = NoteProc.EXIT
PY = sys.executable


def child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PY, "-c", code])


def one(kq: Queue, timeout: float = 10) -> KEvent:
    got = kq.control(None, 4, timeout)
    assert len(got) == 1, got
    return got[0]


def test_child_exit_zero_not_reaped(kq: Queue) -> None:  # C-92
    p = child("pass")
    kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT)], 0)
    ev = one(kq)
    assert ev.fflags & EXIT and ev.fflags & NoteProc.EXITSTATUS
    assert ev.flags & Flag.EOF and ev.flags & Flag.ONESHOT and ev.data == 0
    assert p.wait(5) == 0  # kevents did not reap it
    with pytest.raises(FileNotFoundError):  # ONESHOT: gone after the exit event
        kq.control([KEvent(p.pid, Filter.PROC, Flag.DELETE)], 0)


@pytest.mark.skipif(
    sys.platform == "win32", reason="no signals on Windows (table: PROC exit status)"
)
def test_exit_code_and_signals(kq: Queue) -> None:  # C-93, C-94
    a = child("import os; os._exit(64)")
    b = child("import time; time.sleep(30)")
    c = child("import time; time.sleep(30)")
    kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT) for p in (a, b, c)], 0)
    b.send_signal(signal.SIGTERM)
    c.kill()
    got = {}
    while len(got) < 3:
        for ev in kq.control(None, 4, 10):
            got[ev.ident] = ev.data
    assert got[a.pid] == 64 << 8 and os.waitstatus_to_exitcode(got[a.pid]) == 64
    assert os.WIFSIGNALED(got[b.pid]) and os.WTERMSIG(got[b.pid]) == signal.SIGTERM
    assert os.WTERMSIG(got[c.pid]) == signal.SIGKILL
    for p in (a, b, c):
        p.wait(5)


@pytest.mark.skipif(sys.platform == "win32", reason="zombies and waitpid are POSIX")
def test_zombie_reports_at_once(kq: Queue) -> None:  # C-95, D18
    p = child("import os; os._exit(3)")
    while True:  # wait until it is a zombie, without reaping it
        try:
            if os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                break
        except ChildProcessError:
            break
        time.sleep(0.01)
    kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT)], 0)
    ev = one(kq, 2)
    assert os.waitstatus_to_exitcode(ev.data) == 3
    assert p.wait(5) == 3


def test_gone_pid_is_esrch(kq: Queue) -> None:  # C-96
    (ev,) = kq.control([KEvent(2**31 - 1, Filter.PROC, Flag.ADD, EXIT)], 1, 0)
    assert ev.flags & Flag.ERROR and ev.data == errno.ESRCH


def test_non_child(kq: Queue) -> None:  # C-97, D19
    p = subprocess.Popen(
        [
            PY,
            "-c",
            "import subprocess,sys; q=subprocess.Popen([sys.executable,'-c',"
            "'import time,os; time.sleep(0.3); os._exit(5)']); print(q.pid, flush=True); q.wait()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    grandchild = int(p.stdout.readline())
    kq.control([KEvent(grandchild, Filter.PROC, Flag.ADD, EXIT)], 0)
    ev = one(kq)
    assert ev.fflags & EXIT
    if ev.fflags & NoteProc.EXITSTATUS:  # known only once its parent reaped it
        assert os.waitstatus_to_exitcode(ev.data) == 5
    else:
        assert ev.data == 0
    p.wait(5)
    p.stdout.close()


def test_disable_drains(kq: Queue) -> None:  # C-98
    p = child("pass")
    kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT)], 0)
    time.sleep(0.3)  # it has exited (not reaped) and its event is queued
    kq.control([KEvent(p.pid, Filter.PROC, Flag.DISABLE)], 0)
    expect_no_events(kq)
    p.wait(5)


@pytest.mark.skipif(sys.platform == "win32", reason="NOTE_FORK/EXEC are unsupported on Windows")
def test_modify_arms_and_disarms(kq: Queue) -> None:  # C-99
    a = child("import time; time.sleep(0.3)")
    b = child("import time; time.sleep(0.3)")
    kq.control(
        [
            KEvent(a.pid, Filter.PROC, Flag.ADD, 0),
            KEvent(a.pid, Filter.PROC, Flag.ADD, EXIT),
            KEvent(b.pid, Filter.PROC, Flag.ADD, EXIT),
            KEvent(b.pid, Filter.PROC, Flag.ADD, 0),
        ],
        0,
    )
    ev = one(kq)
    assert ev.ident == a.pid
    expect_no_events(kq, 0.5)
    a.wait(5)
    b.wait(5)


@pytest.mark.skipif(sys.platform == "win32", reason="spawns 'true', a POSIX command")
@pytest.mark.slow
def test_many_children(kq: Queue) -> None:  # C-100
    procs = [subprocess.Popen(["true"]) for _ in range(200)]
    kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT) for p in procs], 0)
    seen = set()
    deadline = time.monotonic() + 30
    while len(seen) < 200 and time.monotonic() < deadline:
        seen.update(ev.ident for ev in kq.control(None, 256, 1))
    assert seen == {p.pid for p in procs}
    for p in procs:
        p.wait(5)


@pytest.mark.skipif(
    sys.platform == "win32", reason="NOTE_FORK/EXEC/TRACK are unsupported on Windows"
)
def test_fork_exec_track(kq: Queue) -> None:  # C-101, D20
    p = child("import os,time; time.sleep(0.3); os.spawnv(os.P_WAIT, '/bin/true', ['true'])")
    notes = EXIT | NoteProc.FORK | NoteProc.EXEC | NoteProc.TRACK
    got = kq.control([KEvent(p.pid, Filter.PROC, Flag.ADD, notes, udata="u")], 8, 0)
    if got and got[0].flags & Flag.ERROR:  # no proc connector here: never silently
        assert got[0].data == errno.ENOTSUP
        p.wait(5)
        return
    # (got may hold the child's exec of its program, under way at the ADD: D20)
    seen: dict[int, int] = {}
    children: dict[int, int] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not seen.get(p.pid, 0) & EXIT:
        for ev in got or kq.control(None, 8, 1):
            assert ev.udata == "u"
            seen[ev.ident] = seen.get(ev.ident, 0) | ev.fflags
            if ev.fflags & NoteProc.CHILD and not ev.fflags & EXIT:
                children[ev.ident] = ev.data  # the parent's pid
        got = []
    assert seen[p.pid] & NoteProc.FORK and seen[p.pid] & EXIT
    kids = [pid for pid, notes in seen.items() if notes & NoteProc.CHILD]
    assert len(kids) == 1, {pid - p.pid: hex(notes) for pid, notes in seen.items()}
    (grandchild,) = kids
    # data names the parent, unless the child's exit came in the same event (then data
    # is the exit status, as on FreeBSD)
    assert children.get(grandchild, p.pid) == p.pid
    assert seen[grandchild] & NoteProc.EXEC and seen[grandchild] & EXIT
    p.wait(5)


@pytest.mark.skipif(sys.platform == "win32", reason="no process descriptors on Windows")
def test_procdesc_with_spawn(kq: Queue) -> None:  # C-102
    with kevents.spawn([PY, "-c", "import os; os._exit(9)"]) as p:
        kq.control([KEvent(p.pidfd, Filter.PROCDESC, Flag.ADD, EXIT)], 0)
        ev = one(kq)
        assert ev.ident == p.pidfd and os.waitstatus_to_exitcode(ev.data) == 9
        assert p.wait(5) == 9


@pytest.mark.skipif(sys.platform == "win32", reason="no process descriptors on Windows")
def test_procdesc_closing_the_pidfd_drops_it(kq: Queue) -> None:
    p = kevents.spawn([PY, "-c", "import time; time.sleep(0.3)"])
    kq.control([KEvent(p.pidfd, Filter.PROCDESC, Flag.ADD, EXIT)], 0)
    kq.close_fd(p.pidfd)
    p.pidfd = -1
    expect_no_events(kq, 0.6)
    p.wait(5)


def test_exit_of_a_watched_pid_in_two_queues(kq: Queue, backend: str) -> None:
    p = child("pass")
    with Queue(backend=backend) as kq2:
        for q in (kq, kq2):
            q.control([KEvent(p.pid, Filter.PROC, Flag.ADD, EXIT)], 0)
        assert one(kq).ident == p.pid and one(kq2).ident == p.pid
    p.wait(5)
