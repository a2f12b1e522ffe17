"""The website's look and behaviour (loaded through `sphinx.local_extensions`).

* The book's stylesheet and script (`_ext/static/book.css`, `book.js`): readable captions and
  pasted numbers, the page-overview and exercise boxes, wide equations, tables and figures that
  scroll inside their own box on a phone, and print rules for the PDF.
* Figures on a phone: a figure the helpers drew wider than a phone's column carries a phone
  rendition (narrower, panels stacked; `hierarchical_helpers.phone_figures`) in its notebook
  output's metadata. It is written next to the figure's image in `_images/` and offered to narrow
  screens with `<picture>` (`PHONE_MEDIA`); print and wide screens keep the ordinary image. The
  image shown on a phone gets, from its PNG file, the CSS variable `--phone-min-width`: the width
  at which its smallest text (MIN_FONT_POINTS, the helpers' smallest font) renders at
  PHONE_MIN_TEXT_PX CSS pixels. A phone rendition fits the column at that width; a figure without
  one that did not fit would keep that width and scroll sideways inside its box rather than
  shrink its text away. A tap on a figure opens the full-size image.
* sphinx-thebe and sphinx-togglebutton add an inline script while the build runs, and it lands on
  every page twice (once through Sphinx's registry, once through the builder), so browsers report
  "Identifier 'THEBE_JS_URL' has already been declared". Each page keeps one copy of any script
  that appears twice.
* Two accessibility fixes in page bodies (the axe-core audit in tests/test_website.py): docutils
  marks each bibliography entry `role="doc-biblioentry"` inside a `role="list"`, a deprecated role
  and a list without list items (aria-required-children, critical), so entries become
  `role="listitem"`; myst-nb labels each hidden cell's toggle "Toggle hidden content" while it
  shows "Show code cell content" (label-content-name-mismatch, serious), so the toggle is named by
  its visible text.
* The header's repository links lead to files the public repository holds: "Edit this page" opens
  a chapter's MyST source, the file an author edits, not the executed notebook the site is built
  from; exercise pages have no edit button (their source, with solutions and hidden checks, is the
  instructor's); Colab and Binder open the notebooks at the release tag, not a branch.
* Any change to the book's extensions, stylesheet, script or templates rebuilds every page: Sphinx
  would otherwise keep the pages it finds up to date (an "env_version" made from their content).
* The glossary replaces Sphinx's general index, which this book never fills: the index page is not
  built, and `genindex.html` redirects to the glossary for anyone who kept its address.
"""
from __future__ import annotations

import hashlib
import re
import struct
from html import escape
from pathlib import Path

from sphinx.util.osutil import relative_uri

# The smallest font any figure uses, which the helpers set for every page.
from hierarchical_helpers.notebook import MIN_FONT_POINTS
from hierarchical_helpers.phone_figures import PHONE_METADATA_KEY

STATIC = Path(__file__).parent / "static"

# A figure's smallest text on a phone, in CSS pixels; on a desktop the tests ask for 10.
PHONE_MIN_TEXT_PX = 8
# The screens that get a figure's phone rendition: the theme's narrow layout, on screen only (the
# PDF is printed on pages narrower than this and keeps the full figure).
PHONE_MEDIA = "screen and (max-width: 767.98px)"
DEFAULT_DPI = 72.0  # matplotlib writes pHYs; a PNG without it is taken at face value

BODY_FIXES = [
    ('role="doc-biblioentry"', 'role="listitem"'),
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
]


def png_geometry(path: Path | bytes) -> tuple[int, int, float]:
    """(width, height, dots per inch) of a PNG file (or its bytes), the resolution from its pHYs chunk."""
    if isinstance(path, bytes):
        data = path[:1 << 16]
    else:
        with open(path, "rb") as file:
            data = file.read(1 << 16)
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    dpi, offset = DEFAULT_DPI, 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"pHYs":
            per_x, _, unit = struct.unpack(">IIB", data[offset + 8:offset + 17])
            if unit == 1:  # pixels per metre
                dpi = per_x * 0.0254
            break
        if kind == b"IDAT":
            break
        offset += 12 + length
    return width, height, dpi


def phone_min_width(width: int, dpi: float) -> float:
    """The narrowest a figure may be drawn for its smallest text to stay PHONE_MIN_TEXT_PX tall."""
    smallest_text_px = MIN_FONT_POINTS * dpi / 72
    return width * PHONE_MIN_TEXT_PX / smallest_text_px


def _script_key(script):
    attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
    # Sphinx 7 page scripts are _JavaScript objects (filename, priority, attributes); an inline
    # script has its code in `body` and a filename of None or "" depending on whether it came
    # through the registry or the builder. Priority does not make two copies differ.
    return getattr(script, "filename", str(script)) or "", attributes


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: later handlers (MathJax on pages with math) add to this same list.
    context["script_files"][:] = unique


def drop_mathjax_without_math(app, pagename, templatename, context, doctree):
    """A page with no formula does not load MathJax (about 1 MB with its fonts): Jupyter Book's
    extensions ask Sphinx to add it to every page. (The theme's fontawesome.js, 1.5 MB, is not
    loaded either: _ext/icon_font.py draws the header's icons from a small font.)"""
    if 'class="math' in context.get("body", ""):
        return
    scripts = context.get("script_files", [])
    scripts[:] = [script for script in scripts
                  if "mathjax" not in (getattr(script, "filename", "") or "").lower()
                  and "MathJax" not in str(getattr(script, "attributes", {}).get("body", ""))]


_FIGURE_IMAGE = re.compile(r'<img (?P<attrs>[^>]*?)src="(?P<src>(?:\.\./)*_images/(?P<name>[^"/]+\.png))"(?P<rest>[^>]*)/?>')


def _image_sources(app) -> dict[str, Path]:
    """The built site's _images/ file names -> the PNG files they are copied from."""
    if not hasattr(app.env, "_book_image_sources"):
        app.env._book_image_sources = {unique: Path(app.srcdir) / source
                                       for source, (_, unique) in app.env.images.items()}
    return app.env._book_image_sources


def phone_renditions(notebook: Path) -> dict[str, bytes]:
    """A notebook's phone renditions, keyed by the SHA-256 of the ordinary PNG they stand for."""
    import base64
    import json

    if notebook.suffix != ".ipynb" or not notebook.exists():
        return {}
    renditions = {}
    for cell in json.loads(notebook.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            png = (output.get("data") or {}).get("image/png")
            phone = ((output.get("metadata") or {}).get(PHONE_METADATA_KEY) or {}).get("image/png")
            if png and phone:
                key = hashlib.sha256(base64.b64decode(png)).hexdigest()
                renditions[key] = base64.b64decode(phone)
    return renditions


def size_figures_for_phones(app, body: str, pagename: str = "") -> str:
    sources = _image_sources(app)
    renditions = phone_renditions(Path(app.env.doc2path(pagename))) if pagename else {}

    def sized(match):
        source = sources.get(match["name"])
        if source is None or not source.exists():
            return match[0]
        data = source.read_bytes()
        phone = renditions.get(hashlib.sha256(data).hexdigest())
        width, _, dpi = png_geometry(phone if phone else data)
        style = f'style="--phone-min-width: {phone_min_width(width, dpi):.0f}px"'
        image = f'<img {match["attrs"]}src="{match["src"]}"{match["rest"].rstrip("/ ")} {style} />'
        if phone:
            name = f'{match["name"].removesuffix(".png")}-phone.png'
            images = Path(app.outdir) / "_images"
            images.mkdir(parents=True, exist_ok=True)
            (images / name).write_bytes(phone)
            phone_src = match["src"][:-len(match["name"])] + name
            image = f'<picture><source media="{PHONE_MEDIA}" srcset="{phone_src}" />{image}</picture>'
        # A tap (or click) opens the image at its natural size, where the text is at full size.
        return f'<a class="figure-full-size" href="{match["src"]}" title="Open the full-size image">{image}</a>'

    return _FIGURE_IMAGE.sub(sized, body)


def fix_page_body(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        for old, new in BODY_FIXES:
            body = body.replace(old, new)
        context["body"] = size_figures_for_phones(app, body, pagename)


MYST_SOURCE_FOLDERS = ("chapters/", "exercises/")


def point_repository_links(app, pagename, templatename, context, doctree):
    """Make the header's repository links lead to files the public repository holds.

    "Edit" opens a chapter's MyST file rather than its notebook. An exercise page has no edit
    button: its MyST source holds the solutions and hidden checks and stays in the instructor's
    repository. Colab and Binder open the notebook at the release tag, as `launch_urls` does.
    """
    from exercise_pages import is_exercise, launch_urls

    repository = app.config.html_theme_options.get("repository_url", "").rstrip("/")
    if not repository:
        return
    if not pagename.startswith(MYST_SOURCE_FOLDERS):
        # The landing page, glossary, references and status page are not in the public
        # repository (tools/export_public.py): no button leads there.
        context["header_buttons"] = _without_edit(context.get("header_buttons", []), repository)
        return
    # The theme's launch button for a service starts with that service's address from _config.yml.
    services = app.config.html_theme_options.get("launch_buttons", {})
    service_url = {"Colab": services.get("colab_url", ""), "Binder": services.get("binderhub_url", "")}
    launch = {service_url[label].rstrip("/"): url for label, url in launch_urls(app.config, pagename).items()}

    def fix(buttons):
        kept = []
        for button in buttons:
            url = button.get("url", "")
            if url.startswith(repository + "/edit/"):
                if is_exercise(pagename):
                    continue
                button["url"] = url.replace(f"{pagename}.ipynb", f"{pagename}.md")
            for service, address in launch.items():
                if url.startswith(service):
                    button["url"] = address
            if "buttons" in button:
                button["buttons"] = fix(button["buttons"])
            kept.append(button)
        return kept

    context["header_buttons"] = fix(context.get("header_buttons", []))


def _without_edit(buttons, repository):
    kept = []
    for button in buttons:
        if button.get("url", "").startswith(repository + "/edit/"):
            continue
        if "buttons" in button:
            button["buttons"] = _without_edit(button["buttons"], repository)
        kept.append(button)
    return kept


def add_static_files(app, config):
    config.html_static_path.append(str(STATIC))
    app.add_css_file("book.css")
    app.add_js_file("book.js", loading_method="defer")


def redirect_general_index(app, exception):
    if exception is not None or app.builder.format != "html" or app.config.html_use_index:
        return
    target = relative_uri(app.builder.get_target_uri("genindex"), app.builder.get_target_uri("glossary"))
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Glossary</title>'
            f'<meta http-equiv="refresh" content="0; url={escape(target)}">'
            f'<link rel="canonical" href="{escape(target)}"></head>'
            f'<body><p>The book has a <a href="{escape(target)}">glossary</a> instead of an index.</p>'
            '</body></html>\n')
    (Path(app.outdir) / "genindex.html").write_text(page)


def _site_code_version() -> int:
    """A number that changes whenever _ext/ or _templates/ changes."""
    digest = hashlib.sha256()
    for folder in (Path(__file__).parent, Path(__file__).parent.parent / "_templates"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.name.encode() + path.read_bytes())
    return int(digest.hexdigest()[:8], 16)


def setup(app):
    app.connect("config-inited", add_static_files)
    # Early: `html-page-context` stops at the first handler that returns a template name.
    app.connect("html-page-context", drop_duplicate_scripts, priority=100)
    app.connect("html-page-context", fix_page_body, priority=100)
    # After sphinx-book-theme has made its header buttons (priority 501).
    app.connect("html-page-context", point_repository_links, priority=502)
    # After sphinx.ext.mathjax has added MathJax to the page (priority 500).
    app.connect("html-page-context", drop_mathjax_without_math, priority=900)
    app.connect("build-finished", redirect_general_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": _site_code_version()}
