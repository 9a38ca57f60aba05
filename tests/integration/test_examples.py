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


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: pathlib.Path) -> None:
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
