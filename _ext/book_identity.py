"""The book's release on paper (loaded through `sphinx.local_extensions`).

Every page's footer names the release and its date (tools/build_site.py sets the theme's
`extra_footer` from pyproject.toml's version and CITATION.cff's `date-released`), but the theme
hides its footer in print, so the PDF would carry neither. The landing page (the PDF's first
pages) gets the same line as a paragraph shown only in print (the stylesheet's `only-print`).

It also writes `sitemap.xml`: every page of the book under the site's address (`html: baseurl:`).
sphinx-sitemap lists only the pages a build writes, so after an incremental build (tools/build_site.py
copies only what changed) its sitemap named two pages; this one is made from all the book's pages.
"""
from __future__ import annotations

from html import escape
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape


def print_release(app, pagename, templatename, context, doctree):
    line = app.config.book_release_line
    if not line or pagename != app.config.root_doc or not context.get("body"):
        return
    context["body"] += f'<p class="book-release only-print">{escape(line)}</p>\n'


def write_sitemap(app, exception):
    base = (app.config.html_baseurl or "").rstrip("/")
    if exception is not None or app.builder.format != "html" or not base:
        return
    pages = sorted(app.env.found_docs)
    entries = "".join(f"<url><loc>{xml_escape(f'{base}/{page}.html')}</loc></url>" for page in pages)
    Path(app.outdir, "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n', encoding="utf-8")


def setup(app):
    # "Release v2.0.0, 23 November 2026. Text and figures: CC BY 4.0; code: MIT licence."
    app.add_config_value("book_release_line", "", "html")
    app.connect("html-page-context", print_release)
    app.connect("build-finished", write_sitemap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
