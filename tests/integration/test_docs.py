"""The docs agree with the code: every public name is documented, the platform table
renders, and the whole site builds with warnings as errors."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import kevents
from kevents import _platforms

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def test_every_public_name_is_in_the_api_reference() -> None:
    text = (DOCS / "reference" / "api.rst").read_text()
    missing = [n for n in kevents.__all__ if n != "__version__" and n not in text]
    assert not missing, f"not in docs/reference/api.rst: {missing}"


def test_platform_table_rows_are_well_formed() -> None:
    for feature, row in _platforms.TABLE.items():
        for backend, (status, note) in row.items():
            assert backend in _platforms.BACKENDS, (feature, backend)
            assert status in ("yes", "differs", "unsupported"), (feature, status)
            assert note, f"{feature}/{backend}: every difference needs its explanation"


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
    page = (tmp_path / "platforms.html").read_text()
    assert "WRITE NOTE_LOWAT" in page and "unsupported" in page
