"""``:filter-page:`signal``` links to ``filters/signal`` once that page exists.

Filter pages are written by whoever builds the filter, so the decisions page may name
a page that is not there yet. A plain ``:doc:`` would then fail the build (warnings are
errors); this role renders "SIGNAL filter page (in preparation)" instead, and records
the page's source as a dependency so the link appears, even in an incremental build,
as soon as the page does (Sphinx re-reads a document whose dependency is missing or
newer than it).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes  # type: ignore[import-untyped]
from sphinx import addnodes
from sphinx.util.docutils import SphinxRole


class FilterPage(SphinxRole):
    def run(self) -> tuple[list[Any], list[Any]]:
        name = self.text.strip().lower()
        docname = f"filters/{name}"
        title = f"{name.upper()} filter page"
        self.env.note_dependency(self.env.doc2path(docname))
        if docname in self.env.found_docs:
            ref = addnodes.pending_xref(
                self.rawtext,
                nodes.inline(self.rawtext, title, classes=["doc"]),
                refdomain="std",
                reftype="doc",
                reftarget="/" + docname,
                refexplicit=True,
                refwarn=True,
                refdoc=self.env.docname,
            )
            return [ref], []
        return [nodes.emphasis(self.rawtext, f"{title} (in preparation)")], []


def setup(app: Any) -> dict[str, Any]:
    app.add_role("filter-page", FilterPage())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
