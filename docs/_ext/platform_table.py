"""``.. platform-table::`` renders ``kevents._platforms.TABLE`` at build time.

The tests read the same table to know what each backend must do, so the page and the
tests' expectations cannot drift apart. Each entry goes through
``kevents._platforms.status``, the function the tests use, so a variant backend
(``linux-io_uring``) inherits its parent's entries here exactly as it does there.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.util.docutils import SphinxDirective

from kevents import _platforms

_SPECIAL = re.compile(r"([\\`*_|\[\]<>])")
#: "(D32)" in a note links to that decision on the decisions page (labels d1..d38)
_DECISION = re.compile(r"\bD([1-9][0-9]?)\b")
_MARK = {"yes": "as FreeBSD", "differs": "**differs**", "unsupported": "**unsupported**"}


def _text(plain: str) -> str:
    """Notes are plain text written in ``_platforms.py``: escape every markup character,
    then turn decision numbers into links."""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(plain.split()))
    return _DECISION.sub(lambda m: f":ref:`D{m[1]} <d{m[1]}>`", escaped)


def shown_backends() -> list[str]:
    """The backends that have at least one entry (the others work as FreeBSD)."""
    return [b for b in _platforms.BACKENDS if any(b in row for row in _platforms.TABLE.values())]


def table_rst() -> str:
    """The table as reStructuredText: a ``list-table`` with one row per feature."""
    shown = shown_backends()
    width = max(10, 78 // max(1, len(shown)))
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: " + " ".join(["22"] + [str(width)] * len(shown)),
        "",
        "   * - feature",
    ]
    lines += [f"     - ``{b}``" for b in shown]
    for feature in _platforms.TABLE:
        lines.append(f"   * - {_text(feature)}")
        for b in shown:
            status, note = _platforms.status(feature, b)
            lines.append(f"     - {_MARK[status]}" + (f": {_text(note)}" if note else ""))
    return "\n".join(lines) + "\n"


class PlatformTable(SphinxDirective):
    has_content = False

    def run(self) -> list[Any]:
        # Re-read this page whenever the table changes, even in an incremental build.
        self.env.note_dependency(_platforms.__file__)
        return list(self.parse_text_to_nodes(table_rst()))


def matrix_rst() -> str:
    """Every filter, flag and note x every platform (``_platforms.support_matrix``)."""
    platforms = _platforms.MATRIX_PLATFORMS
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: " + " ".join(["20"] + ["13"] * len(platforms)),
        "",
        "   * - ",
    ]
    lines += [f"     - {p}" for p in platforms]
    for item, cells in _platforms.support_matrix():
        lines.append(f"   * - ``{item}``")
        lines += [f"     - {_text(cells[p])}" for p in platforms]
    return "\n".join(lines) + "\n"


class SupportMatrix(SphinxDirective):
    has_content = False

    def run(self) -> list[Any]:
        self.env.note_dependency(_platforms.__file__)
        return list(self.parse_text_to_nodes(matrix_rst()))


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("platform-table", PlatformTable)
    app.add_directive("support-matrix", SupportMatrix)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
