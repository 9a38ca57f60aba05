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
exclude_patterns = ["_build"]

# The theme, sized for a laptop screen: alabaster's default is a 940 px page with an
# 800 px text column in Georgia, which cut the platform tables and code blocks off at
# 1280 px. One 1180 px page (sidebar 230 px), no cap on the text column, a sans-serif
# body and a monospace size at which a 100-column line (the project's line length) fits
# a code block. tests/integration/test_docs.py loads every page at 1280 px in a headless
# browser and fails if anything sticks out of the main column.
html_theme = "alabaster"
_SANS = '-apple-system, "Segoe UI", "DejaVu Sans", Roboto, "Helvetica Neue", Arial, sans-serif'
html_theme_options = {
    "page_width": "1180px",
    "sidebar_width": "230px",
    "body_max_width": "none",
    "font_family": _SANS,
    "head_font_family": _SANS,
    "font_size": "16px",
    "code_font_size": "0.85em",
    "description": "kqueue's event model on every OS",
    "show_relbars": True,
}
html_static_path = ["_static"]
html_css_files = ["kevents.css"]
