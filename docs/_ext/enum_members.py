"""``.. enum-members:: kevents.Flag`` lists an enum's members with their values.

autodoc prints flag values in decimal (``FFAND = 1073741824``), while every kqueue
header and man page writes them in hex (``0x40000000``); readers compare the two. This
directive, placed in an ``autoclass`` body, emits one ``py:attribute`` per member
(aliases and zero-valued flags included, which iterating an ``IntFlag`` skips), with
the value in hex for flags, and the member's ``#:`` comment as its description.
"""

from __future__ import annotations

import enum
import importlib
import sys
from typing import Any

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective


def _enum(path: str) -> Any:
    modname, _, clsname = path.rpartition(".")
    return getattr(importlib.import_module(modname), clsname)


def members_rst(path: str) -> str:
    """reStructuredText for the members of the enum at dotted ``path``."""
    cls = _enum(path)
    analyzer = ModuleAnalyzer.for_module(cls.__module__)
    docs = analyzer.find_attr_docs()
    width = max((m.value.bit_length() + 3) // 4 for m in cls.__members__.values())
    lines: list[str] = []
    for name, member in cls.__members__.items():
        value = int(member)
        shown = f"0x{value:0{max(2, width)}X}" if issubclass(cls, enum.Flag) else str(value)
        lines += [f".. py:attribute:: {name}", f"   :value: {shown}", ""]
        lines += [f"   {line}" for line in docs.get((cls.__qualname__, name), [])]
        lines.append("")
    return "\n".join(lines)


class EnumMembers(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[Any]:
        path = self.arguments[0]
        # Re-read the page when the enum's source changes, even in an incremental build.
        source = getattr(sys.modules[_enum(path).__module__], "__file__", None)
        if source:
            self.env.note_dependency(source)
        return list(self.parse_text_to_nodes(members_rst(path)))


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("enum-members", EnumMembers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
