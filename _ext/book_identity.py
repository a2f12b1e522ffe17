"""The book's release on paper (loaded through `sphinx.local_extensions`).

Every page's footer names the release and its date (tools/build_site.py sets the theme's
`extra_footer` from pyproject.toml's version and CITATION.cff's `date-released`), but the theme
hides its footer in print, so the PDF would carry neither. The landing page (the PDF's first
pages) gets the same line as a paragraph shown only in print (the stylesheet's `only-print`).
"""
from __future__ import annotations

from html import escape


def print_release(app, pagename, templatename, context, doctree):
    line = app.config.book_release_line
    if not line or pagename != app.config.root_doc or not context.get("body"):
        return
    context["body"] += f'<p class="book-release only-print">{escape(line)}</p>\n'


def setup(app):
    # "Release v2.0.0, 23 November 2026. Text and figures: CC BY 4.0; code: MIT licence."
    app.add_config_value("book_release_line", "", "html")
    app.connect("html-page-context", print_release)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
