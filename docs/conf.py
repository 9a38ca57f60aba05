"""Sphinx configuration for kevents (built with warnings as errors by `make docs`)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

from kevents._version import __version__  # noqa: E402

project = "kevents"
author = "the kevents developers"
copyright = "2026, the kevents developers"
version = release = __version__

extensions = ["sphinx.ext.autodoc", "platform_table", "filter_page", "enum_members"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
html_static_path: list[str] = []
