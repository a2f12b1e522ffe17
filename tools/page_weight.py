"""Page weight of the built website: what each page costs a reader to download.

Usage: python tools/page_weight.py [SITE_DIR]   (default _build/html; run by the tests, which
also write the report to _build/page-weight.md)

For each page: its own HTML and the images it shows (counted once per page). Separately, the
assets every page shares and a browser caches after the first page: the theme's `_static/`
(CSS, JavaScript, fonts) and the MathJax files the site serves itself (`mathjax/`, of which a
page with math loads only the parts it needs).
"""
from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, toc_docnames  # noqa: E402

LIMIT_BYTES = 1_500_000  # a page's own HTML and images
SHARED_FOLDERS = {"_static": "theme assets (_static/)", "mathjax": "MathJax (mathjax/)"}


class _ImageSources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            src = dict(attrs).get("src")
            if src and not src.startswith("data:"):
                self.sources.append(src)


def page_weight(site: Path, name: str) -> dict:
    html = site / f"{name}.html"
    parser = _ImageSources()
    parser.feed(html.read_text())
    images = set()
    for src in parser.sources:
        target = (html.parent / unquote(urlsplit(src).path)).resolve()
        if target.is_file() and target.relative_to(site.resolve()).parts[0] not in SHARED_FOLDERS:
            images.add(target)
    image_bytes = sum(path.stat().st_size for path in images)
    return {"page": name, "html": html.stat().st_size, "images": image_bytes, "image_count": len(images),
            "own": html.stat().st_size + image_bytes}


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def pages(site: Path) -> list[str]:
    """The pages a reader can open: the table of contents and the search page."""
    return [name for name in toc_docnames() + ["search"] if (site / f"{name}.html").exists()]


def report(site: Path, names: list[str] | None = None) -> tuple[str, list[dict]]:
    rows = [page_weight(site, name) for name in (pages(site) if names is None else names)]
    kb = lambda n: f"{n / 1000:,.0f} kB"  # noqa: E731
    lines = ["# Page weight", "",
             f"Each page's own HTML and images (limit {LIMIT_BYTES / 1e6:.1f} MB per page):", "",
             "| page | HTML | images | own total |", "|---|---:|---:|---:|"]
    lines += [f"| {r['page']} | {kb(r['html'])} | {kb(r['images'])} ({r['image_count']}) | {kb(r['own'])} |"
              for r in rows]
    lines += ["", "Shared by every page and cached by the browser after the first:", "",
              "| assets | size on the server |", "|---|---:|"]
    lines += [f"| {label} | {kb(folder_bytes(site / folder))} |" for folder, label in SHARED_FOLDERS.items()
              if (site / folder).exists()]
    return "\n".join(lines) + "\n", rows


if __name__ == "__main__":
    site = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    text, rows = report(site)
    print(text)
    heavy = [r["page"] for r in rows if r["own"] > LIMIT_BYTES]
    if heavy:
        print(f"Over {LIMIT_BYTES / 1e6:.1f} MB: {', '.join(heavy)}", file=sys.stderr)
        sys.exit(1)
