"""The docs agree with the code: every public name is documented, every file and function
the pages cite exists, every decision and environment variable is there, the usage
example runs, the platform table renders, and the site builds with warnings as errors."""

from __future__ import annotations

import html
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

import kevents
from kevents import _platforms
from kevents.testing import run_isolated

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

#: top-level documentation directives of the API reference (no indentation)
_DOCUMENTED = re.compile(
    r"^\.\. (?:auto(?:class|function|exception|data)|py:(?:class|function|exception|data))"
    r"::\s+([\w.]+)",
    re.M,
)
#: ``kevents/_engine.py: Engine.apply`` or ``tests/x.py::test_y`` (name optional)
_CITATION = re.compile(
    r"``((?:kevents|tests|examples|adapters|\.ci)/[^`:\s]*)(?:(?::\s*|::)([\w.]+))?``"
)


def test_every_public_name_is_in_the_api_reference() -> None:
    text = (DOCS / "reference" / "api.rst").read_text(encoding="utf-8")
    documented = {name.removeprefix("kevents.") for name in _DOCUMENTED.findall(text)}
    public = set(kevents.__all__) - {"__version__"}
    assert not public - documented, (
        f"not documented in docs/reference/api.rst: {public - documented}"
    )
    assert not documented - public, f"documented but not in kevents.__all__: {documented - public}"


def test_every_cited_file_and_name_exists() -> None:
    missing = []
    for page in PAGES:
        for path, name in _CITATION.findall(page.read_text(encoding="utf-8")):
            target = ROOT / path
            if not target.exists():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
                continue
            if not name:
                continue
            source = target.read_text(encoding="utf-8")
            last = re.escape(name.rsplit(".", 1)[-1])
            if target.suffix == ".py":
                defined = re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{last}\b", source, re.M)
                defined = defined or re.search(rf"^{last}\s*[:=]", source, re.M)
            else:
                defined = re.search(rf"\b{last}\s*\(", source)
            if not defined:
                missing.append(f"{page.relative_to(ROOT)}: {path}: {name}")
    assert not missing, "the docs cite what does not exist:\n" + "\n".join(missing)


def test_every_decision_has_an_entry() -> None:
    text = (DOCS / "decisions.rst").read_text(encoding="utf-8")
    labels = set(re.findall(r"^\.\. _d(\d+):$", text, re.M))
    last = max(map(int, labels))
    assert labels == {str(n) for n in range(1, last + 1)}, sorted(labels, key=int)
    for n in range(1, last + 1):
        assert re.search(rf"^D{n} · ", text, re.M), f"D{n} has a label but no entry"


def test_every_environment_variable_is_documented() -> None:
    used: set[str] = set()
    sources = [ROOT / "Makefile", *ROOT.glob(".ci/*")]
    for top in ("kevents", "tests", "examples", "adapters"):
        sources += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".c", ".h", ".sh")]
    for path in sources:
        if path.is_file():
            used |= set(re.findall(r"\bKEVENTS_[A-Z0-9_]+", path.read_text(errors="replace")))
    table = (DOCS / "design.rst").read_text(encoding="utf-8").split(".. _environment-variables:")[1]
    documented = set(re.findall(r"``(KEVENTS_[A-Z0-9_]+)``", table))
    assert used, "no environment variable found: the scan is broken"
    assert not used - documented, f"not in the design page's table: {used - documented}"


def test_usage_example_runs() -> None:
    text = (DOCS / "index.rst").read_text(encoding="utf-8")
    (block,) = re.findall(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.M)
    out = run_isolated(textwrap.dedent(block), timeout=60).stdout
    assert "READ: b'ping'" in out and "USER: wake-up" in out and "TIMER: expired" in out, out


def test_platform_table_rows_are_well_formed() -> None:
    for feature, row in _platforms.TABLE.items():
        for backend, (status, note) in row.items():
            assert backend in _platforms.BACKENDS, (feature, backend)
            assert status in ("yes", "differs", "unsupported"), (feature, status)
            assert note, f"{feature}/{backend}: every entry needs its explanation"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("sphinx")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    platforms = (tmp_path / "platforms.html").read_text(encoding="utf-8")
    for feature in _platforms.TABLE:
        assert html.escape(feature, quote=False) in platforms, f"row {feature!r} not rendered"
    api = (tmp_path / "reference" / "api.html").read_text(encoding="utf-8")
    for name in set(kevents.__all__) - {"__version__"}:
        assert f'id="kevents.{name}"' in api, f"kevents.{name} has no entry in the API page"
    decisions = (tmp_path / "decisions.html").read_text(encoding="utf-8")
    for n in range(1, 39):
        assert f'id="d{n}"' in decisions, f"D{n} has no anchor"
