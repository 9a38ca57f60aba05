"""``.. platform-table::`` renders ``kevents._platforms.TABLE`` at build time.

The tests read the same table to know what each backend must do, so the page and the
tests' expectations cannot drift apart. The rows are grouped per filter, each group a
two-column table (feature; one line per backend that differs), so the table fits the
page however many backends have entries; a filter page shows its own group
(``.. platform-table:: SIGNAL``). Each entry goes through
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


#: The per-filter groups of the table, in page order: a feature belongs to the first
#: group one of whose words starts its name ("PROC exit status" -> PROC); the rest
#: (queue-wide rows, filters with no group of their own) go under the last group.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("READ and WRITE", ("READ", "WRITE", "READ/WRITE", "socket", "close", "EV_CLEAR", "SO_")),
    ("PROC and PROCDESC", ("PROC", "EVFILT_PROCDESC")),
    ("SIGNAL", ("SIGNAL",)),
    ("TIMER", ("TIMER",)),
    ("USER", ("USER",)),
    ("VNODE", ("VNODE",)),
    ("AIO", ("AIO",)),
    ("The queue and other filters", ()),
)


def group_of(feature: str) -> str:
    first = feature.split()[0]
    for title, starts in GROUPS:
        if any(first == s or (s.endswith("_") and first.startswith(s)) for s in starts):
            return title
    return GROUPS[-1][0]


def _entries(feature: str, shown: list[str]) -> list[str]:
    """One line per distinct entry; backends with the same entry (a variant inheriting
    its parent's) share the line: ``linux``, ``linux-io_uring``: **differs**: ..."""
    merged: dict[tuple[str, str], list[str]] = {}
    for b in shown:
        entry = _platforms.status(feature, b)
        if entry != ("yes", ""):
            merged.setdefault(entry, []).append(b)
    lines = []
    for (status, note), backends in merged.items():
        names = ", ".join(f"``{b}``" for b in backends)
        lines.append(f"{names}: {_MARK[status]}" + (f": {_text(note)}" if note else ""))
    return lines


def table_rst(group: str | None = None) -> str:
    """The table as reStructuredText: per group, a rubric and a two-column ``list-table``
    (feature; one line per backend entry), which wraps to any page width however many
    backends have entries. ``group`` renders that group alone, without its rubric."""
    shown = shown_backends()
    by_group: dict[str, list[str]] = {title: [] for title, _ in GROUPS}
    for feature in _platforms.TABLE:
        by_group[group_of(feature)].append(feature)
    if group is not None and group not in by_group:
        raise ValueError(f"platform-table: unknown group {group!r}; known: {list(by_group)}")
    lines: list[str] = []
    if group is not None and not by_group[group]:
        lines.append("No backend differs from FreeBSD here.")
    for title, features in by_group.items():
        if not features or group not in (None, title):
            continue
        if group is None:
            lines += [f".. rubric:: {title}", ""]
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 24 76",
            "   :class: platform-table",
            "",
            "   * - feature",
            "     - where it differs (every other backend: as FreeBSD)",
        ]
        for feature in features:
            lines.append(f"   * - {_text(feature)}")
            entries = _entries(feature, shown) or ["as FreeBSD on every backend"]
            lines.append(f"     - * {entries[0]}")
            lines += [f"       * {entry}" for entry in entries[1:]]
        lines.append("")
    return "\n".join(lines) + "\n"


class PlatformTable(SphinxDirective):
    """``.. platform-table::`` (every group) or ``.. platform-table:: PROC and PROCDESC``
    (one group, as on a filter page)."""

    has_content = False
    optional_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[Any]:
        # Re-read this page whenever the table changes, even in an incremental build.
        self.env.note_dependency(_platforms.__file__)
        group = self.arguments[0] if self.arguments else None
        try:
            text = table_rst(group)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        return list(self.parse_text_to_nodes(text))


def matrix_rst() -> str:
    """Every filter, flag and note x every platform (``_platforms.support_matrix``)."""
    platforms = _platforms.MATRIX_PLATFORMS
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: " + " ".join(["20"] + ["13"] * len(platforms)),
        "   :class: support-matrix",
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
