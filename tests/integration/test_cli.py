"""The ``kevents`` command: info, watch, demo and help."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest


def kevents_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kevents", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_help_is_complete() -> None:
    out = kevents_cli("--help").stdout
    assert all(word in out for word in ("info", "watch", "demo"))
    watch = kevents_cli("watch", "--help").stdout
    for opt in ("--pid", "--signal", "--timer", "--path", "--count", "--timeout"):
        assert opt in watch


def test_info() -> None:
    proc = kevents_cli("info")
    assert proc.returncode == 0 and "READ" in proc.stdout and "TIMER" in proc.stdout
    data = json.loads(kevents_cli("info", "--json").stdout)
    assert data["filters"]["USER"]["supported"] is True


def test_watch_timer_count() -> None:
    proc = kevents_cli("watch", "--timer", "20ms", "--count", "3")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(lines) == 3
    assert all(e["filter"] == "TIMER" and e["data"] >= 1 for e in lines)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGUSR1 (POSIX)")
def test_watch_pid_and_signal() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(4)"],
        stdin=subprocess.PIPE,
    )
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kevents",
            "watch",
            "--pid",
            str(child.pid),
            "--signal",
            "USR1",
            "--timer",
            "50ms",
            "--timeout",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None and child.stdin is not None
    # a first timer event says the watcher is registered (a sleep would race its start)
    events = [json.loads(watcher.stdout.readline())]
    watcher.send_signal(signal.SIGUSR1)
    while events[-1]["filter"] != "SIGNAL":
        events.append(json.loads(watcher.stdout.readline()))
    child.stdin.close()  # the child exits now; the watcher ends after its exit event
    out, _ = watcher.communicate(timeout=30)
    child.wait()
    events += map(json.loads, out.splitlines())
    assert watcher.returncode == 0
    by_filter = {e["filter"]: e for e in events}
    assert by_filter["SIGNAL"]["signal"] == "SIGUSR1" and by_filter["SIGNAL"]["data"] == 1
    assert events[-1]["filter"] == "PROC" and events[-1]["ident"] == child.pid
    # not the watcher's child: the status is known only if the parent reaped in time
    assert events[-1]["exit_status"] in (4, None)


def test_watch_path(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "f")
    open(path, "w").close()
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kevents",
            "watch",
            "--path",
            path,
            "--count",
            "1",
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    # write until the watcher has seen a write (it may start slowly: Wine, a busy CI)
    deadline = time.monotonic() + 20
    while watcher.poll() is None and time.monotonic() < deadline:
        with open(path, "a") as f:
            f.write("x")
        time.sleep(0.3)
    out, _ = watcher.communicate(timeout=30)
    (event,) = map(json.loads, out.splitlines())
    assert event["filter"] == "VNODE" and "WRITE" in event["notes"] and event["path"] == path


def test_watch_refused_registration_exits_2() -> None:
    proc = kevents_cli("watch", "--pid", str(2**31 - 1), "--timeout", "1")
    assert proc.returncode == 2 and "No such process" in proc.stderr


def refused(*args: str) -> str:
    """Run a refused command: exit 2, a single line on stderr, no traceback."""
    proc = kevents_cli(*args, "--timeout", "5")
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("kevents")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_refusals_are_one_line_exit_2(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "nonexistent")
    assert "No such file or directory" in refused("watch", "--path", missing)
    assert "nothing to watch" in refused("watch")
    for bad in (
        ("--signal", "NOPE"),
        ("--signal", "SIG_IGN"),
        ("--timer", "-1"),
        ("--timer", "1e30"),
        ("--timer", "soon"),
        ("--pid", "0"),
        ("--pid", str(2**64)),
        ("--count", "-1"),
        ("--timeout", "nan"),
    ):
        assert "error: argument" in refused("watch", *bad, "--timer", "1s")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, SIGSTOP and FIFOs are POSIX")
def test_posix_refusals_are_one_line_exit_2(tmp_path: os.PathLike[str]) -> None:
    assert "SIGKILL" in refused("watch", "--signal", "KILL")
    assert "SIGSTOP" in refused("watch", "--signal", "STOP")
    assert "cannot be watched" in refused("watch", "--signal", "999")
    fifo = os.path.join(tmp_path, "fifo")
    os.mkfifo(fifo)  # opening it for reading must not block: the VNODE change refuses it
    assert "VNODE" in refused("watch", "--path", fifo)


def test_info_refuses_an_unknown_backend() -> None:
    proc = kevents_cli("info", "--backend", "bogus")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("kevents info: ") and "bogus" in proc.stderr


def test_version() -> None:
    import kevents

    proc = kevents_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"kevents {kevents.__version__}"


def test_watch_pid_exits_when_the_process_exits() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    proc = kevents_cli("watch", "--pid", str(child.pid), "--timer", "100ms", timeout=60)
    child.wait()
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["filter"] == "PROC" and events[-1]["ident"] == child.pid
    assert "EXIT" in events[-1]["notes"]  # PROC notes by name, as VNODE ones
    assert sum(e["filter"] == "PROC" for e in events) == 1


def test_watch_pid_of_a_process_gone_before_the_watch() -> None:
    # its exit is ready at the first control() call, which also applies the changes:
    # that event used to be dropped, and the watch waited forever
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        while not _exited(child.pid):
            time.sleep(0.01)
        proc = kevents_cli("watch", "--pid", str(child.pid), timeout=60)
    finally:
        child.wait()
    assert proc.returncode == 0, proc.stderr
    (event,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert event["filter"] == "PROC" and "EXIT" in event["notes"]


def _exited(pid: int) -> bool:
    """Whether ``pid`` (a child not yet waited for) has exited, without reaping it."""
    if sys.platform == "win32":
        import ctypes

        h = ctypes.windll.kernel32.OpenProcess(0x00100000, 0, pid)  # SYNCHRONIZE
        try:
            return bool(h) and ctypes.windll.kernel32.WaitForSingleObject(h, 0) == 0
        finally:
            ctypes.windll.kernel32.CloseHandle(h)
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@pytest.mark.skipif(sys.platform == "win32", reason="SIGPIPE is POSIX")
def test_watch_into_a_closed_pipe_stops_quietly() -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kevents", "watch", "--timer", "5ms", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None and watcher.stderr is not None
    watcher.stdout.readline()
    watcher.stdout.close()  # the reader goes away, as `kevents watch | head -1` does
    err = watcher.stderr.read()
    assert watcher.wait(30) == 141 and err == ""


@pytest.mark.slow
@pytest.mark.skipif(
    sys.platform == "win32", reason="the demo drives itself with SIGHUP/SIGTERM (POSIX)"
)
def test_demo_runs_and_ends() -> None:
    proc = kevents_cli("demo", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "all workers stopped" in proc.stdout and "config file changed" in proc.stdout
