"""The docs agree with the code: every public name is documented, every file and function
the pages cite exists, every decision and environment variable is there, the usage
example runs, every example is shown by a page, no page carries a stale status word, the
platform table renders, the site builds with warnings as errors, and no page overflows
its main column at 1280 px in a real browser (headless Chromium)."""

from __future__ import annotations

import functools
import html
import http.server
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading

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


#: Words that say a page is not up to date with the code: what is built is described as
#: built, and what an OS cannot do is "unsupported" with its reason (common rules). The
#: filter-page role renders "(in preparation)" for a page that does not exist yet.
_STALE = re.compile(
    r"\bplanned\b|\bin progress\b|\bin preparation\b|\bwork in progress\b|\bWIP\b"
    r"|\bTODO\b|\bTBD\b|\bFIXME\b|\bcoming soon\b|\bnot yet (?:implemented|built|supported"
    r"|available|provided|written)\b|\bto be (?:written|implemented|done)\b",
    re.I,
)
#: a document cited by name must be in the repository, by its path from the top or from
#: docs/ (readers cannot open the rest: the issue found a cited design note missing)
_DOCUMENT = re.compile(r"``([\w./-]+\.(?:md|rst|txt))``")


def test_no_page_carries_a_stale_status_word() -> None:
    stale = []
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            stale += [f"{page.relative_to(ROOT)}:{n}: {m[0]!r}" for m in _STALE.finditer(line)]
            for name in _DOCUMENT.findall(line):
                if not ((ROOT / name).exists() or (DOCS / name).exists()):
                    stale.append(f"{page.relative_to(ROOT)}:{n}: cites {name}, not in the repo")
    assert not stale, "stale status in the docs:\n" + "\n".join(stale)


def test_stale_word_check_sees_what_it_must() -> None:
    for text in ("Planned: AFD polls", "the kqueue backend (in progress)", "TODO: this"):
        assert _STALE.search(text), text
    for text in ("not yet reaped", "the planner", "progression"):
        assert not _STALE.search(text), text
    assert _DOCUMENT.findall("Planned (``windows-design.md`` §1.1)") == ["windows-design.md"]


def test_every_example_is_shown_by_a_page() -> None:
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    shown = set(re.findall(r"examples/(\w+)\.py", text))
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    assert not examples - shown, f"examples no page includes or names: {examples - shown}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The site, built once for this module's tests, with warnings as errors."""
    pytest.importorskip("sphinx")
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.slow
def test_docs_build_without_warnings(built: pathlib.Path) -> None:
    platforms = (built / "platforms.html").read_text(encoding="utf-8")
    for feature in _platforms.TABLE:
        assert html.escape(feature, quote=False) in platforms, f"row {feature!r} not rendered"
    api = (built / "reference" / "api.html").read_text(encoding="utf-8")
    for name in set(kevents.__all__) - {"__version__"}:
        assert f'id="kevents.{name}"' in api, f"kevents.{name} has no entry in the API page"
    decisions = (built / "decisions.html").read_text(encoding="utf-8")
    for n in range(1, 39):
        assert f'id="d{n}"' in decisions, f"D{n} has no anchor"


@pytest.mark.slow
def test_no_built_page_carries_a_stale_status_word(built: pathlib.Path) -> None:
    """The rendered text too: docstrings pulled in by autodoc, roles, generated tables."""
    stale = []
    for page in sorted(built.rglob("*.html")):
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
        stale += [f"{page.relative_to(built)}: {m[0]!r}" for m in _STALE.finditer(text)]
    assert not stale, "stale status in the built docs:\n" + "\n".join(stale)


#: Run in a driver page on every built page, each in a 1280 px wide iframe (a laptop
#: screen): an element whose box ends right of the main column (alabaster's div.body),
#: a block that scrolls sideways (a code block or table wider than the column), or a
#: page wider than the window is reported. Results go into the DOM, which
#: --dump-dom prints.
_MEASURE = """
window.addEventListener("load", () => {
  const found = [];
  for (const frame of document.querySelectorAll("iframe")) {
    const doc = frame.contentDocument, page = frame.dataset.page;
    const column = doc && doc.querySelector("div.body");
    if (!column) { found.push([page, "no div.body: the page did not load", 0]); continue; }
    const right = column.getBoundingClientRect().right;
    const view = doc.documentElement.clientWidth;
    if (doc.documentElement.scrollWidth > view + 1)
      found.push([page, "the page scrolls sideways", doc.documentElement.scrollWidth - view]);
    for (const el of column.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      const what = el.tagName.toLowerCase() + "." + el.className + " " +
        (el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 60);
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
          getComputedStyle(el).overflowX !== "visible")
        found.push([page, "scrolls sideways: " + what, el.scrollWidth - el.clientWidth]);
      else if (box.width > 0 && box.right > right + 1 && !el.closest("pre"))
        found.push([page, "sticks out: " + what, Math.round(box.right - right)]);
    }
  }
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
"""


def _browser() -> str:
    """Debian's chromium, installed by the project's script when missing."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    if not sys.platform.startswith("linux"):
        pytest.skip("no chromium on PATH (the install script is for Debian)")
    proc = subprocess.run(
        [str(ROOT / ".ci" / "docs-browser.sh")], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode == 3:
        pytest.skip(f"no headless browser (chromium) for the layout check: {proc.stderr}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _layout_problems(site: pathlib.Path, pages: list[str], browser: str) -> list[list[object]]:
    frames = "".join(
        f'<iframe data-page="{p}" src="{p}" width="1280" height="800" '
        'style="border:0;display:block"></iframe>'
        for p in pages
    )
    driver = site / "_layout_check.html"
    driver.write_text(f"<!doctype html><body>{frames}<script>{_MEASURE}</script></body>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{driver.name}"
        with tempfile.TemporaryDirectory() as profile:
            proc = subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    f"--user-data-dir={profile}",
                    "--window-size=1300,900",
                    "--virtual-time-budget=30000",
                    "--dump-dom",
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
        server.shutdown()
    match = re.search(r'<pre id="layout">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the layout script did not run:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    problems: list[list[object]] = json.loads(html.unescape(match[1]))
    return problems


@pytest.mark.slow
def test_no_page_overflows_its_column_at_1280px(built: pathlib.Path) -> None:
    browser = _browser()
    pages = sorted(
        str(p.relative_to(built)) for p in built.rglob("*.html") if p.name != "_layout_check.html"
    )
    problems = _layout_problems(built, pages, browser)
    loaded = {page for page, what, _ in problems if "did not load" not in str(what)}
    assert len(pages) > 20, pages
    assert not problems, f"{len(loaded)} page(s) overflow at 1280 px:\n" + "\n".join(
        f"{page}: {what} ({px} px)" for page, what, px in problems
    )


@pytest.mark.slow
def test_layout_check_sees_an_overflow(tmp_path: pathlib.Path) -> None:
    """The check itself: a page with a line too long for a code block, and a table
    wider than the column, must be reported (a check that passes everything would let
    the docs drift back)."""
    browser = _browser()
    wide = "x" * 400
    (tmp_path / "bad.html").write_text(
        '<!doctype html><body><div class="body" style="width:600px">'
        f'<pre style="overflow-x:auto">{wide}</pre>'
        f'<table><tr><td style="white-space:nowrap">{wide}</td></tr></table>'
        "</div></body>"
    )
    whats = [what for _, what, _ in _layout_problems(tmp_path, ["bad.html"], browser)]
    assert any(str(w).startswith("scrolls sideways: pre") for w in whats), whats
    assert any(str(w).startswith("sticks out: table") for w in whats), whats
