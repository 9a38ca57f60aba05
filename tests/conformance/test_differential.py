"""The C core and the Python engine give the same answers (issue 13, deliver 2): seeded
random change lists and traffic on every filter, applied to one queue on each, every
returned event and error compared (the driver: _differential.py)."""

from __future__ import annotations

import sys

import pytest

from kevents import _core
from kevents.testing import run_isolated

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the C core is Linux's"),
    pytest.mark.skipif(
        _core._speedups is None, reason="the C core is not loaded (KEVENTS_SPEEDUPS=0)"
    ),
]

BACKENDS = ["linux", "linux-io_uring"]


def _run(backend: str, seeds: range, steps: int) -> None:
    from _differential import run

    if backend == "linux-io_uring":
        from kevents._backends.linux.io_uring import probe

        if not probe().batch:
            pytest.skip("io_uring batching (IORING_OP_EPOLL_CTL) is unavailable")
    compared = sum(run(seed, steps, backend) for seed in seeds)
    assert compared > len(seeds) * steps // 3


@pytest.fixture(autouse=True)
def _driver_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_events_and_errors(backend: str) -> None:
    _run(backend, range(6), 250)


def test_same_with_signals() -> None:
    # dispositions are process-global: a child interpreter
    here = __import__("pathlib").Path(__file__).parent
    out = run_isolated(
        f"import sys; sys.path.insert(0, {str(here)!r})\n"
        "import _differential\n"
        "for seed in range(3):\n"
        "    _differential.run(seed, 250, signals=True)\n"
        "print('ok')\n",
        timeout=120,
    ).stdout
    assert out.endswith("ok\n"), out


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_events_and_errors_long(backend: str) -> None:
    _run(backend, range(100, 160), 1000)
