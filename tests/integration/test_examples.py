"""Every example runs by itself, ends within seconds and exits 0 (libuv's CI-sample idea).
An example that needs a framework that is not installed is skipped, saying which."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parents[2] / "examples").glob("*.py"))
NEEDS = {"trio": "trio", "asyncio": "kevents_asyncio"}
#: examples written for POSIX, and why they cannot run on Windows as they are
POSIX_ONLY = {
    "asyncio_supervisor": "SIGHUP/SIGTERM reload and stop, and renaming a watched file",
    "asyncio_tutorial": "SIGHUP/SIGTERM, sent by a POSIX shell",
    "nest_queue": "Queue.fileno() (a completion port is not a pollable descriptor)",
    "prefork_server": "SO_REUSEPORT balancing, and SIGHUP/SIGTERM forwarded to workers",
    "sigterm_shutdown": "SIGTERM (Windows raises only console events: SIGINT/SIGBREAK)",
    "supervisor": "SIGHUP/SIGTERM and process descriptors (pidfd)",
    "tail_follow": "under Wine 8 the follower stalls after 3 lines (not yet understood)",
    "trio_supervisor": "SIGHUP/SIGTERM",
    "trio_tutorial": "SIGHUP/SIGTERM, sent by a POSIX shell",
    "tutorial": "SIGHUP/SIGTERM, sent by a POSIX shell",
    "wait_any_pid": "a POSIX shell's background job",
}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: pathlib.Path) -> None:
    if sys.platform == "win32" and path.stem in POSIX_ONLY:
        pytest.skip(f"POSIX example: {POSIX_ONLY[path.stem]}")
    for prefix, module in NEEDS.items():
        if path.stem.startswith(prefix) and importlib.util.find_spec(module) is None:
            pytest.skip(f"{path.name} needs {module}, which is not installed")
    proc = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip(), "an example should say what it did"
