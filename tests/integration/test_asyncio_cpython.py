"""CPython's own asyncio event-loop tests, run against kevents' loop (issue 7).

Each module runs twice in subprocesses, in the same pytest run: with asyncio's default
selector loop (the baseline) and with kevents' loop (see asyncio_cpython/runner.py).
Every test that passes with the default loop must pass with ours, except the ones
listed, with their reasons, in asyncio_cpython/expected.py.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "asyncio_cpython"
EXPECTED: dict[str, str] = runpy.run_path(str(HERE / "expected.py"))["EXPECTED"]
ROOT = Path(__file__).parents[2]
MODULES = [
    "test_events",
    "test_base_events",
    "test_sock_lowlevel",
    "test_subprocess",
    "test_streams",
    "test_server",
    "test_sendfile",
    "test_unix_events",
]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="compares with the epoll loop (Linux)"
)


def _run(mode: str, module: str, tmp: Path) -> dict[str, dict[str, str]]:
    out = tmp / f"{module}.{mode}.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "adapters")]))
    proc = subprocess.run(
        [sys.executable, str(HERE / "runner.py"), mode, module, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if not out.exists():
        pytest.fail(
            f"{module} ({mode}) did not finish: rc={proc.returncode}\n{proc.stderr[-3000:]}"
        )
    result: dict[str, dict[str, str]] = json.loads(out.read_text())
    return result


@pytest.mark.parametrize("module", MODULES)
def test_cpython_asyncio_module(module: str, tmp_path: Path) -> None:
    try:
        __import__(f"test.test_asyncio.{module}")
    except ImportError:
        pytest.skip(f"this Python has no test.test_asyncio.{module}")
    with ThreadPoolExecutor(2) as pool:
        default, ours = pool.map(lambda mode: _run(mode, module, tmp_path), ("default", "kevents"))
    base, got = default["outcomes"], ours["outcomes"]
    assert got, "no test ran"
    assert set(got) == set(base), "both runs must run the same tests"
    regressions = {
        name: ours["details"].get(name, got[name])
        for name, outcome in base.items()
        if outcome == "pass" and got[name] != "pass" and name not in EXPECTED
    }
    assert not regressions, "pass with asyncio's loop, not with kevents':\n" + "\n".join(
        f"{name}:\n{detail}" for name, detail in regressions.items()
    )
    stale = [name for name in EXPECTED if base.get(name) == "pass" and got.get(name) == "pass"]
    assert not stale, f"listed as expected failures but pass now: {stale}"
