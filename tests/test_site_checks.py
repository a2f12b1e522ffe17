"""Checks of the built website that need no browser: links and anchors, page weight, the glossary,
the references, the status page, the exercise pages of the student edition."""
import html
import re
import subprocess
import sys
import textwrap

import pytest

from book_layout import ROOT, toc_docnames
from page_weight import LIMIT_BYTES, report

pytestmark = pytest.mark.slow

LINKCHECKER_CONFIG = """
    [checking]
    threads=4
    [filtering]
    # Internal links only: the build machine and CI have no internet.
    ignore=
      ^https?://
      ^mailto:
    [AnchorCheck]
    """
TOC = toc_docnames()
NOTEBOOK_PAGES = [name for name in TOC if name.startswith(("chapters/", "exercises/"))]
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]")


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def _pages(site):
    return {name: (site / f"{name}.html").read_text() for name in TOC}


def test_no_broken_internal_links_or_anchors(built_site, tmp_path):
    config = tmp_path / "linkcheckerrc"
    config.write_text(textwrap.dedent(LINKCHECKER_CONFIG))
    # Run as root (as in CI), LinkChecker switches to the user `nobody`, who may not be allowed to
    # read the clone's folder (a private temporary directory, say): it only reads the built
    # site here, so it keeps the caller's user.
    linkchecker = [sys.executable, "-c", "import linkcheck.command.linkchecker as lc; "
                   "lc.drop_privileges = lambda: None; lc.linkchecker()"]
    result = subprocess.run([*linkchecker, f"--config={config}", "--no-status", "--output=text",
                             str(built_site / "index.html")], cwd=tmp_path, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-3:]
    assert "0 warnings found. 0 errors found." in result.stdout, (
        "LinkChecker found broken links or anchors (a missing anchor is reported as a warning):\n"
        + result.stdout[-8000:])
    checked = re.search(r"(\d+) links in \d+ URLs checked", result.stdout)
    assert checked and int(checked.group(1)) > 100, f"LinkChecker did not crawl the site: {summary}"


def test_every_page_weighs_under_the_limit(built_site):
    text, rows = report(built_site)
    (ROOT / "_build" / "page-weight.md").write_text(text)
    assert len(rows) == len(TOC) + 1
    heavy = {r["page"]: r["own"] for r in rows if r["own"] > LIMIT_BYTES}
    assert not heavy, f"pages over {LIMIT_BYTES} bytes of own HTML and images: {heavy}\n{text}"


# ---------- Glossary instead of an index ----------

def _glossary_terms(site) -> dict[str, str]:
    page = (site / "glossary.html").read_text()
    return {anchor: _text(re.sub(r'<a class="headerlink".*?</a>', "", term))
            for anchor, term in re.findall(r'<dt id="(term-[^"]+)">(.*?)</dt>', page, re.S)}


def _glossary_links(site) -> dict[str, set[str]]:
    """term anchor -> the pages that link to it."""
    links = {}
    for name, page in _pages(site).items():
        if name == "glossary":
            continue
        for anchor in re.findall(r'href="(?:\.\./)*glossary\.html#(term-[^"]+)"', page):
            links.setdefault(anchor, set()).add(name)
    return links


def test_glossary_links_resolve(built_site):
    terms, links = _glossary_terms(built_site), _glossary_links(built_site)
    assert len(terms) >= 20, f"the glossary defines only {len(terms)} terms"
    broken = {anchor: sorted(pages) for anchor, pages in links.items() if anchor not in terms}
    assert not broken, f"links to terms the glossary does not define: {broken}"


def _prose(page: str) -> str:
    """A page's article text without code cells, code or math: where a reader meets a term."""
    body = re.search(r"<article.*?</article>", page, re.S)[0]
    body = re.sub(r'<div class="cell.*?</div>\s*</div>', " ", body, flags=re.S)
    body = re.sub(r'<(pre|code|script|style|mjx-container)[^>]*>.*?</\1>', " ", body, flags=re.S)
    return _text(body)


def test_every_glossary_term_is_linked_where_the_book_introduces_it(built_site):
    """Each term is linked ({term}`...`) on the first page, in book order, that uses it, or earlier."""
    terms, links = _glossary_terms(built_site), _glossary_links(built_site)
    unlinked = sorted(term for anchor, term in terms.items() if anchor not in links)
    assert not unlinked, ("glossary terms no page links to (link the first use with {term}`...`): "
                          + ", ".join(unlinked))
    order = [name for name in TOC if name.startswith(("chapters/", "exercises/"))]
    prose = {name: _prose(page) for name, page in _pages(built_site).items() if name in order}
    late = []
    for anchor, term in terms.items():
        used = re.compile(r"\b" + re.escape(term.split(" (")[0]) + r"\b", re.I)
        first_use = next((order.index(name) for name in order if used.search(prose[name])), None)
        first_link = min(order.index(name) for name in links[anchor] if name in order)
        if first_use is not None and first_link > first_use:
            late.append(f"{term}: used on {order[first_use]}, first linked on {order[first_link]}")
    assert not late, "terms linked only after the book first uses them:\n  " + "\n  ".join(late)


def test_the_index_page_is_the_glossary(built_site):
    redirect = (built_site / "genindex.html").read_text()
    assert 'http-equiv="refresh" content="0; url=glossary.html"' in redirect
    linking = [name for name, page in _pages(built_site).items() if "genindex.html" in page]
    assert not linking, f"pages linking to the empty index: {linking}"


# ---------- References in one style ----------

AUTHOR_YEAR = re.compile(r"^[A-Z][^,\[\]]*( and [^,\[\]]+| et al\.)?, \d{4}[a-z]?$")


def _reference_labels(site) -> dict[str, str]:
    page = (site / "bibliography.html").read_text()
    return {anchor: _text(label) for anchor, label in re.findall(
        r'<div class="citation" id="([^"]+)"[^>]*>\s*<span class="label"><span class="fn-bracket">\[</span>(.*?)'
        r'<span class="fn-bracket">\]</span>', page, re.S)}


def test_references_are_labelled_as_the_text_cites_them(built_site):
    labels = _reference_labels(built_site)
    assert len(labels) >= 5, labels
    wrong = [label for label in labels.values() if not AUTHOR_YEAR.match(label)]
    assert not wrong, f"reference labels not in author-year form: {wrong}"
    # Author order: by first author's surname, then as the style lists them (a sole author first).
    surnames = [label.split(",")[0].split(" et al.")[0].split(" and ")[0].lower() for label in labels.values()]
    assert surnames == sorted(surnames), "the references are not in author order"
    mismatched, cited = [], 0
    for name, page in _pages(built_site).items():
        for anchor, text in re.findall(r'<a class="reference internal" href="(?:\.\./)*bibliography\.html#([^"]+)"[^>]*>(.*?)</a>', page):
            cited += 1
            if _text(text) not in labels.get(anchor, ""):
                mismatched.append(f"{name}: {_text(text)!r} cites [{labels.get(anchor)}]")
    assert cited >= 5 and not mismatched, f"{cited} citations; not matching their reference: {mismatched}"


# ---------- Status page ----------

def test_status_page_lists_pages_in_book_order_with_status_in_words(built_site):
    page = (built_site / "status.html").read_text()
    assert not EMOJI.search(_text(page)), f"the status page shows an emoji: {EMOJI.findall(_text(page))}"
    table = re.search(r'<table class="[^"]*page-status.*?</table>', page, re.S)
    assert table, "the status page has no page-status table"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table[0].split("<tbody>")[1], re.S)
    listed = [re.search(r'href="([^"#]+)\.html"', row)[1] for row in rows]
    assert listed == NOTEBOOK_PAGES, f"the status table lists {listed}, the book's order is {NOTEBOOK_PAGES}"
    for row in rows:
        status = _text(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[2])
        assert re.fullmatch(r"[a-z][a-z ,()0-9]+", status), f"status not in words: {status!r}"
    # Every table named by page paths (the benchmark's) is in book order too; the benchmark tables are shown.
    tables = re.findall(r"<table.*?</table>", page, re.S)
    assert len(tables) >= 3, "the benchmark tables are missing"
    for other in tables[1:]:
        paths = [p for p in re.findall(r"<td[^>]*>.*?((?:chapters|exercises)/[\w-]+)\.md", other, re.S)]
        assert paths == [name for name in NOTEBOOK_PAGES if name in paths], f"a table out of book order: {paths}"


# ---------- Both editions' exercise pages ----------

@pytest.mark.parametrize("edition", ["main", "student"])
def test_exercise_pages_say_how_to_work_in_both_editions(request, edition):
    site = request.getfixturevalue("built_site" if edition == "main" else "built_student_site")
    for name in (n for n in TOC if n.startswith("exercises/")):
        page = (site / f"{name}.html").read_text()
        box = re.search(r'<div class="[^"]*\bexercise-how-to\b[^"]*">(.*?)</div>', page, re.S)
        assert box, f"{edition} edition, {name}: no 'How to work on this exercise' box"
        text = _text(box[1])
        for words in ("Colab", "Binder", "check", "submit"):
            assert words in text, f"{edition} edition, {name}: the how-to box does not mention {words}"
        assert ("Show solution" in page) == (edition == "main"), f"{edition} edition, {name}: solutions"
