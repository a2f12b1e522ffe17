"""The whole book as one PDF, printed by the system Chromium: _build/pdf/book.pdf.

Usage: python tools/build_pdf.py [--site DIR] [--output FILE]   (run by `make pdf`)

1. Build the website (main edition, `make html`'s build), unless --site names a built one.
2. Serve it on a loopback address and print every page of the table of contents, in order, with
   headless Chromium (the browser the website tests drive, Debian's `chromium`), once MathJax has
   typeset it: the figures and typeset formulas are in the PDF as a reader sees them. The print
   stylesheet (_ext/static/book.css) leaves out what means nothing on paper: the buttons, the
   collapsed set-up cells and the exercises' solutions (the website keeps those collapsed; the
   PDF's exercise pages say they are online). Links to other pages of the site are turned into
   plain text, since they would point at the loopback server; links to the web stay.
   A page's last cell, the version watermark, stays on the same sheet as what comes before it;
   long code listings and boxes may break across sheets (short ones stay whole).
3. Print a contents page (the table of contents' parts and pages, each with the number of the
   sheet it starts on), merge it and the pages into one file with pypdf (one bookmark per page),
   and stamp every sheet with one running footer: the page's title and the sheet's number in the
   whole book (printed by Chromium as a transparent overlay, so the numbers use the book's font).
4. Without --site: build the website again, offering the PDF (`book.pdf` at the site's root,
   linked from the landing page): publish _build/html after `make pdf` to offer it. Later
   `make html` builds keep offering _build/pdf/book.pdf while it exists (tools/build_site.py).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT  # noqa: E402

OUTPUT = ROOT / "_build" / "pdf" / "book.pdf"
SITE = ROOT / "_build" / "html"
MATH_WAIT_MS = 60_000
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
HOW_TO_GET_CHROMIUM = (
    "Chromium is not installed. On Debian or Ubuntu: `sudo apt-get install chromium fonts-dejavu-core` "
    "(CI installs it in .ci/run); elsewhere set CHROMIUM=/path/to/chromium."
)
# Every sheet's margins; the running footer is stamped into the bottom one.
MARGIN = {"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"}
SHEET = "width: 210mm; height: 297mm"  # A4, as Chromium prints with format="A4"
CONTENTS_TITLE = "Contents"
# The overlay that numbers the sheets: one transparent A4 sheet per page of the book, each with
# the page's title and the sheet's number in the whole book.
FOOTER_STYLE = f"""
@page {{ size: A4; margin: 0; }}
html, body {{ margin: 0; padding: 0; background: transparent; }}
.sheet {{ {SHEET}; position: relative; overflow: hidden; break-after: page; }}
.sheet:last-child {{ break-after: auto; }}
.footer {{ position: absolute; bottom: 9mm; left: 15mm; right: 15mm; display: flex;
  justify-content: space-between; gap: 8mm; font: 8pt "DejaVu Sans", sans-serif; color: #444; }}
.footer .title {{ overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }}
"""
CONTENTS_STYLE = """
@page { size: A4; }
body { font: 11pt/1.45 "DejaVu Sans", sans-serif; color: #222; margin: 0; }
h1 { font-size: 20pt; margin: 0 0 4mm; }
h2 { font-size: 15pt; margin: 0 0 6mm; font-weight: normal; color: #555; }
h3 { font-size: 12pt; margin: 6mm 0 2mm; }
ol { list-style: none; margin: 0; padding: 0; }
li { display: flex; align-items: baseline; gap: 2mm; margin: 1.2mm 0; break-inside: avoid; }
li .dots { flex: 1; border-bottom: 1px dotted #999; }
li .number { min-width: 8mm; text-align: right; }
"""
# Links to other pages of the site would point at the loopback server the book was printed from.
UNLINK_SITE_LINKS = """(base) => {
    for (const link of document.querySelectorAll('a[href]')) {
        if (link.href.startsWith(base)) link.removeAttribute('href');
    }
}"""
# Before printing a page: the version watermark (every notebook's last cell, `watermark()`) is
# kept on the sheet of what precedes it, rather than alone on a last sheet; and code listings and
# boxes taller than TALL_BLOCK_PX may break across sheets. The theme keeps every one whole, so a
# long one left the rest of a sheet blank, or an empty cell frame alone on it.
TALL_BLOCK_PX = 360
PREPARE_PAGE = """(tall) => {
    for (const cell of document.querySelectorAll('article .cell')) {
        const code = cell.querySelector('.cell_input pre');
        if (code && code.textContent.trim() === 'watermark()') cell.classList.add('book-watermark');
    }
    for (const block of document.querySelectorAll('article div.highlight, article .admonition')) {
        if (block.getBoundingClientRect().height > tall) block.style.breakInside = 'auto';
    }
    // A short code cell moves to the next sheet with its frame, not leaving the frame behind.
    for (const input of document.querySelectorAll('article .cell_input')) {
        if (input.getBoundingClientRect().height <= tall) input.style.breakInside = 'avoid';
    }
}"""


def chromium_executable() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(directory: Path):
    """Serve a folder on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def book_website() -> str:
    """The published website's address (`html: baseurl:` in _config.yml), which exercise pages print."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["html"]["baseurl"].rstrip("/")


def toc_parts(toc_path: Path = ROOT / "_toc.yml") -> list[tuple[str | None, list[str]]]:
    """The table of contents as (part caption, pages) in order; the root page has no part."""
    import yaml

    toc = yaml.safe_load(toc_path.read_text())
    parts = [(None, [toc["root"]])]
    for part in toc.get("parts", []):
        parts.append((part.get("caption"), toc_docnames_of(part)))
    return parts


def toc_docnames_of(node) -> list[str]:
    names = []
    if isinstance(node, dict):
        if "file" in node:
            names.append(node["file"])
        for key, value in node.items():
            if key != "file":
                names.extend(toc_docnames_of(value))
    elif isinstance(node, list):
        for item in node:
            names.extend(toc_docnames_of(item))
    return names


def print_pages(site: Path, pages: list[str], folder: Path, browser) -> list[tuple[str, Path]]:
    """Print each page of the site to its own PDF in `folder`; returns (title, file) in order."""
    printed = []
    with serve(site) as base:
        context = browser.new_context(viewport={"width": 1000, "height": 1400}, color_scheme="light")
        for number, name in enumerate(pages, start=1):
            page = context.new_page()
            page.goto(f"{base}/{name}.html", wait_until="load")
            if page.locator("article .math").count():
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=MATH_WAIT_MS)
                page.evaluate("() => MathJax.startup.promise")
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.evaluate(UNLINK_SITE_LINKS, base + "/")
            page.evaluate(PREPARE_PAGE, TALL_BLOCK_PX)
            title = page.locator("article h1").first.inner_text().replace("#", "").strip()
            target = folder / f"{number:03d}.pdf"
            page.pdf(path=str(target), format="A4", print_background=True, margin=MARGIN)
            page.close()
            printed.append((title, target))
            print(f"  printed {name}: {title}")
        context.close()
    return printed


def print_html(browser, markup: str, target: Path, margin: dict | None = None) -> int:
    """Print an HTML document to `target` (A4); returns its number of sheets."""
    from pypdf import PdfReader

    page = browser.new_page()
    page.set_content(markup, wait_until="load")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.pdf(path=str(target), format="A4", print_background=False, prefer_css_page_size=True,
             margin=margin or {"top": "0", "bottom": "0", "left": "0", "right": "0"})
    page.close()
    return len(PdfReader(str(target)).pages)


def contents_markup(book_title: str, parts, titles: dict[str, str], first_sheet: dict[str, int]) -> str:
    """The contents page: every part and page of the table of contents, with its sheet number."""
    body = [f"<h1>{escape(book_title)}</h1>", f"<h2>{CONTENTS_TITLE}</h2>"]
    for caption, names in parts:
        if caption:
            body.append(f"<h3>{escape(caption)}</h3>")
        body.append("<ol>")
        for name in names:
            body.append(f'<li><span class="title">{escape(titles[name])}</span><span class="dots"></span>'
                        f'<span class="number">{first_sheet[name]}</span></li>')
        body.append("</ol>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{CONTENTS_TITLE}</title>'
            f"<style>{CONTENTS_STYLE}</style></head><body>{''.join(body)}</body></html>")


def footer_markup(sheet_titles: list[str]) -> str:
    """The overlay: one A4 sheet per sheet of the book, with its title and running number."""
    sheets = "".join(f'<div class="sheet"><div class="footer"><span class="title">{escape(title)}</span>'
                     f'<span class="number">{number}</span></div></div>'
                     for number, title in enumerate(sheet_titles, start=1))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>{FOOTER_STYLE}</style>'
            f"</head><body>{sheets}</body></html>")


def number_sheets(printed: list[tuple[str, Path]], contents_sheets: int) -> dict[int, int]:
    """Index of each printed page -> the number of the sheet it starts on (contents first)."""
    from pypdf import PdfReader

    first, sheet = {}, contents_sheets + 1
    for index, (_, path) in enumerate(printed):
        first[index] = sheet
        sheet += len(PdfReader(str(path)).pages)
    return first


def stamp(book: Path, overlay: Path) -> None:
    """Merge each overlay sheet onto the book's sheet of the same number."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=str(book))
    footers = PdfReader(str(overlay)).pages
    if len(footers) != len(writer.pages):
        raise RuntimeError(f"the footer overlay has {len(footers)} sheets for a book of {len(writer.pages)}")
    for page, footer in zip(writer.pages, footers):
        page.merge_page(footer)
    partial = book.with_suffix(".stamped.pdf")
    with open(partial, "wb") as file:
        writer.write(file)
    partial.replace(book)


def merge(printed: list[tuple[str, Path]], output: Path, title: str) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for page_title, path in printed:
        writer.append(str(path), outline_item=page_title)
    writer.add_metadata({"/Title": title, "/Creator": "tools/build_pdf.py (Chromium, pypdf)"})
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial.pdf")
    with open(partial, "wb") as file:
        writer.write(file)
    partial.replace(output)


def print_book(site: Path, output: Path) -> Path:
    """Print every page of the table of contents of a built site into one PDF, with a contents
    page and one running page number."""
    import yaml
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        sys.exit(HOW_TO_GET_CHROMIUM)
    book_title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    parts = toc_parts()
    names = [name for _, part in parts for name in part]
    with tempfile.TemporaryDirectory(prefix="book-pdf-") as folder, sync_playwright() as playwright:
        folder = Path(folder)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        printed = print_pages(site, names, folder, browser)
        titles = {name: title for name, (title, _) in zip(names, printed)}
        # The contents' own length moves every number after it: print it until it settles.
        contents, contents_sheets = folder / "000-contents.pdf", 1
        for _ in range(3):
            first = number_sheets(printed, contents_sheets)
            markup = contents_markup(book_title, parts, titles, {n: first[i] for i, n in enumerate(names)})
            sheets = print_html(browser, markup, contents, MARGIN)
            if sheets == contents_sheets:
                break
            contents_sheets = sheets
        merge([(CONTENTS_TITLE, contents), *printed], output, book_title)
        from pypdf import PdfReader

        sheet_titles = [CONTENTS_TITLE] * contents_sheets
        for title, path in printed:
            sheet_titles += [title] * len(PdfReader(str(path)).pages)
        overlay = folder / "footer.pdf"
        print_html(browser, footer_markup(sheet_titles), overlay)
        browser.close()
        stamp(output, overlay)
    return output


def build_site(pdf: Path) -> None:
    from build_site import build

    # The build links the PDF, and copies it into the site, only when the file exists.
    before = os.environ.get("BOOK_PDF")
    os.environ["BOOK_PDF"] = str(pdf.resolve())
    try:
        if build("main") != 0:
            sys.exit("The website build failed: see the messages above.")
    finally:
        if before is None:
            del os.environ["BOOK_PDF"]
        else:
            os.environ["BOOK_PDF"] = before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="print this built site, and do not build one")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"the PDF to write (default {OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    output = args.output.resolve()
    if args.site is None:
        output.unlink(missing_ok=True)  # the pages printed must not offer an older PDF
        build_site(output)
    print_book(args.site or SITE, output)
    if args.site is None:
        build_site(output)
    size = output.stat().st_size / 1e6
    print(f"\nWrote the PDF: {output} ({size:.1f} MB) in {time.perf_counter() - start:.0f} s"
          + ("" if args.site else f"; the website in {SITE} offers it as book.pdf, and so does every "
             "later `make html` while the file exists"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
