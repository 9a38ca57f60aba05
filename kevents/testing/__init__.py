"""Helpers for testing code that uses kevents (and for kevents' own tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable

from .._event import KEvent
from .._queue import Queue


def scaled(seconds: float) -> float:
    """An upper time bound of a test, stretched by KEVENTS_TEST_TIMEOUT_MULTIPLIER on slow
    machines (lower bounds are never stretched: events must never come early)."""
    return seconds * float(os.environ.get("KEVENTS_TEST_TIMEOUT_MULTIPLIER", "1"))


def open_fds() -> set[int] | None:
    """The set of open descriptors of this process, or None where it cannot be listed."""
    if sys.platform == "win32":
        return None  # no descriptor table to list (and Wine would show its own /proc)
    for d in ("/proc/self/fd", "/dev/fd"):
        try:
            return {int(x) for x in os.listdir(d)}
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return None


def collect(kq: Queue, timeout: float = 0.5, max_events: int = 64) -> list[KEvent]:
    """Return the events of the first non-empty wait within ``timeout``."""
    return kq.control(None, max_events, timeout)


def drain(kq: Queue, settle: float = 0.05) -> list[KEvent]:
    """Collect everything pending until the queue stays quiet for ``settle`` seconds."""
    out: list[KEvent] = []
    while True:
        got = kq.control(None, 64, settle)
        if not got:
            return out
        out.extend(got)


def expect_no_events(kq: Queue, wait: float = 0.1) -> None:
    got = kq.control(None, 16, wait)
    assert got == [], f"expected no events, got {got}"


def keys(events: Iterable[KEvent]) -> set[tuple[int, int]]:
    return {(ev.ident, ev.filter) for ev in events}


def run_isolated(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for process-global state: signals, fork,
    rlimits); raise AssertionError with its output when it fails."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"isolated run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def monotonic() -> float:
    return time.monotonic()
