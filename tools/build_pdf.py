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
3. Merge the pages into one file with pypdf, one bookmark per page.
4. Without --site: build the website again, offering the PDF (`book.pdf` at the site's root,
   linked from the landing page): publish _build/html after `make pdf` to offer it. An ordinary
   `make html` builds the site without the PDF and without the link.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, toc_docnames  # noqa: E402

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
# Page footer: the page's title and its page number within that page.
FOOTER = ('<div style="font-size: 8px; width: 100%; padding: 0 15mm; color: #444; '
          'display: flex; justify-content: space-between;"><span class="title"></span>'
          '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>')
# Links to other pages of the site would point at the loopback server the book was printed from.
UNLINK_SITE_LINKS = """(base) => {
    for (const link of document.querySelectorAll('a[href]')) {
        if (link.href.startsWith(base)) link.removeAttribute('href');
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


def print_pages(site: Path, pages: list[str], folder: Path) -> list[tuple[str, Path]]:
    """Print each page of the site to its own PDF in `folder`; returns (title, file) in order."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        sys.exit(HOW_TO_GET_CHROMIUM)
    printed = []
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
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
            title = page.locator("article h1").first.inner_text().replace("#", "").strip()
            target = folder / f"{number:03d}.pdf"
            page.pdf(path=str(target), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>", footer_template=FOOTER,
                     margin={"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"})
            page.close()
            printed.append((title, target))
            print(f"  printed {name}: {title}")
        browser.close()
    return printed


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
    """Print every page of the table of contents of a built site into one PDF."""
    import yaml

    title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    with tempfile.TemporaryDirectory(prefix="book-pdf-") as folder:
        merge(print_pages(site, toc_docnames(), Path(folder)), output, title)
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
    print(f"Wrote {output} ({size:.1f} MB) in {time.perf_counter() - start:.0f} s"
          + ("" if args.site else f"; the website in {SITE} offers it as book.pdf"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
