"""The README tells the truth: its Python snippets run (on every supported Python: the
suite runs on 3.11 too), its install lines name extras the package defines, and every
file it links exists."""

from __future__ import annotations

import os
import pathlib
import re
import tomllib

import pytest

from kevents.testing import run_isolated

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, re.M | re.S)

#: what each snippet prints, in order of appearance
EXPECTED = [
    ("READ b'ping'", "['READ', 'TIMER', 'USER']"),
    ("exit code 3",),
    ("exit code 3",),
]


def test_every_snippet_is_tested() -> None:
    assert len(BLOCKS) == len(EXPECTED), "a README snippet was added or removed"


@pytest.mark.parametrize("index", range(len(EXPECTED)), ids=["native", "asyncio", "trio"])
def test_snippet_runs(index: int) -> None:
    out = run_isolated(BLOCKS[index], timeout=60).stdout
    for line in EXPECTED[index]:
        assert line in out.splitlines(), out


def test_install_lines_name_real_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project["optional-dependencies"])
    named = set(re.findall(r'pip install "kevents\[(\w+)\]"', README))
    assert named and named <= extras, (named, extras)
    assert "pip install kevents " in README


def test_every_linked_file_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links, "no links found: the pattern is broken"
    missing = [link for link in links if "://" not in link and not (ROOT / link).exists()]
    assert not missing, f"the README links to missing files: {missing}"
    for example in sorted((ROOT / "examples").glob("*.py")):
        assert f"examples/{example.name}" in README, f"{example.name} is not linked"


@pytest.mark.slow
def test_snippets_pass_mypy_strict(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api")
    monkeypatch.setenv("MYPYPATH", os.pathsep.join([str(ROOT), str(ROOT / "adapters")]))
    files = []
    for index, block in enumerate(BLOCKS):
        files.append(tmp_path / f"readme_{index}.py")
        files[-1].write_text(block, encoding="utf-8")
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--python-version", "3.11", *map(str, files)]
    )
    assert status == 0, out + err
