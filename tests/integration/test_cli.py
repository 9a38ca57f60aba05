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
        [sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(4)"]
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
            "--count",
            "2",
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    # The child's exit is the watcher's first event, and its knote was registered in the
    # same kevent call as the signal's: once it is printed, SIGUSR1 is counted, not fatal
    # (a fixed sleep lost that race on a loaded machine: the watcher died of SIGUSR1).
    assert watcher.stdout is not None
    first = watcher.stdout.readline()
    watcher.send_signal(signal.SIGUSR1)
    out, _ = watcher.communicate(timeout=30)
    child.wait()
    events = {e["filter"]: e for e in map(json.loads, [first, *out.splitlines()])}
    assert watcher.returncode == 0
    assert events["SIGNAL"]["signal"] == "SIGUSR1" and events["SIGNAL"]["data"] == 1
    # not the watcher's child: the status is known only if the parent reaped in time
    assert events["PROC"]["exit_status"] in (4, None)


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


@pytest.mark.slow
@pytest.mark.skipif(
    sys.platform == "win32", reason="the demo drives itself with SIGHUP/SIGTERM (POSIX)"
)
def test_demo_runs_and_ends() -> None:
    proc = kevents_cli("demo", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "all workers stopped" in proc.stdout and "config file changed" in proc.stdout
