"""``.. platform-table::`` renders kevents._platforms.TABLE, the one table of platform
differences that the tests also read, so the docs cannot drift from the expectations."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

from kevents._platforms import BACKENDS, TABLE

_MARK = {"yes": "as FreeBSD", "differs": "differs", "unsupported": "unsupported"}


class PlatformTable(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        backends = [b for b in BACKENDS if any(b in row for row in TABLE.values())]
        table = nodes.table()
        group = nodes.tgroup(cols=1 + len(backends))
        table += group
        for _ in range(1 + len(backends)):
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(["feature", *backends])
        body = nodes.tbody()
        group += body
        for feature, row in TABLE.items():
            cells = [feature]
            for b in backends:
                status, note = row.get(b, ("yes", ""))
                cells.append(f"{_MARK[status]}: {note}" if note else _MARK[status])
            body += self._row(cells)
        return [table]

    @staticmethod
    def _row(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("platform-table", PlatformTable)
    return {"parallel_read_safe": True}
