"""tools/build_pdf.py: the whole book as one PDF, printed by Chromium and offered by the website."""
import html
import re
import subprocess
import sys

import nbformat
import pytest
from pypdf import PdfReader, PdfWriter

import build_pdf
from book_layout import ROOT, toc_docnames

SITE = ROOT / "_build" / "html"


def test_merge_keeps_page_order_and_bookmarks_each_part(tmp_path):
    parts = []
    for number, pages in enumerate((2, 1, 3), start=1):
        writer = PdfWriter()
        for _ in range(pages):
            writer.add_blank_page(width=200, height=200)
        path = tmp_path / f"{number}.pdf"
        writer.write(str(path))
        parts.append((f"part {number}", path))
    output = tmp_path / "book.pdf"
    build_pdf.merge(parts, output, "A book")
    reader = PdfReader(str(output))
    assert len(reader.pages) == 6
    assert [(item.title, reader.get_destination_page_number(item)) for item in reader.outline] == [
        ("part 1", 0), ("part 2", 2), ("part 3", 3)]
    assert reader.metadata.title == "A book"
    assert not output.with_suffix(".partial.pdf").exists()


# ---------- The PDF itself, built as `make pdf` builds it ----------

LIGATURES = {"ﬁ": "fi", "ﬀ": "ff", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl"}


def _text(value: str) -> str:
    for ligature, letters in LIGATURES.items():
        value = value.replace(ligature, letters)
    return re.sub(r"\s+", " ", value).strip()


def _longest_plain_phrase(markdown: str) -> str:
    """The longest run of a written solution without math or markup, as words."""
    runs = re.split(r"\$[^$]*\$|`[^`]*`|[*_{}]|^:::.*$|\n\n", markdown, flags=re.M)
    return _text(max(runs, key=lambda run: len(run.split())))


def _page_titles() -> dict[str, str]:
    titles = {}
    for name in toc_docnames():
        page = (SITE / f"{name}.html").read_text()
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)[1]
        titles[name] = _text(html.unescape(re.sub(r"<[^>]+>", "", heading)).replace("#", ""))
    return titles


@pytest.fixture(scope="module")
def book_pdf():
    """The PDF, built by `make pdf`'s command in a process of its own."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_pdf.py")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"build_pdf failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    reader = PdfReader(str(build_pdf.OUTPUT))
    return reader, [page.extract_text() for page in reader.pages]


def _parts(reader):
    """(first, end) sheet indices of each page of the book, after the contents."""
    starts = [reader.get_destination_page_number(item) for item in reader.outline[1:]]
    return list(zip(starts, starts[1:] + [len(reader.pages)]))


def test_contents_and_footers_number_the_sheets_of_the_whole_book(tmp_path):
    parts = [(None, ["intro"]), ("Chapter", ["a", "b"])]
    titles = {"intro": "The book", "a": "First <page>", "b": "Second"}
    contents = build_pdf.contents_markup("A & B", parts, titles, {"intro": 2, "a": 3, "b": 7})
    assert "<h3>Chapter</h3>" in contents and "A &amp; B" in contents and "First &lt;page&gt;" in contents
    numbers = re.findall(r'<span class="title">([^<]*)</span><span class="dots"></span><span class="number">(\d+)<', contents)
    assert numbers == [("The book", "2"), ("First &lt;page&gt;", "3"), ("Second", "7")]
    printed = []
    for name, sheets in (("intro", 1), ("a", 4), ("b", 2)):
        writer = PdfWriter()
        for _ in range(sheets):
            writer.add_blank_page(width=200, height=200)
        writer.write(str(tmp_path / f"{name}.pdf"))
        printed.append((name, tmp_path / f"{name}.pdf"))
    assert build_pdf.number_sheets(printed, contents_sheets=1) == {0: 2, 1: 3, 2: 7}
    footer = build_pdf.footer_markup(["Contents", "The book", "First"])
    assert re.findall(r'<span class="number">(\d+)</span>', footer) == ["1", "2", "3"]
    assert [part for part, _ in build_pdf.toc_parts()] == [None, "Chapter", "Exercises", "About this book"]
    assert [name for _, names in build_pdf.toc_parts() for name in names] == toc_docnames()


@pytest.mark.slow
def test_the_pdf_has_every_page_in_book_order(book_pdf):
    reader, texts = book_pdf
    titles = _page_titles()
    assert [item.title for item in reader.outline] == [build_pdf.CONTENTS_TITLE, *titles.values()]
    for (start, end), (name, title) in zip(_parts(reader), titles.items()):
        part = _text(" ".join(texts[start:end]))
        assert title in part, f"{name}: its title {title!r} is not on its pages of the PDF"


def _prose(page) -> str:
    """A page's text outside code listings (set in a monospaced font)."""
    runs = []

    def visit(text, matrix, text_matrix, font, size):
        if font is not None and "Mono" not in str(font.get("/BaseFont", "")):
            runs.append(text)

    page.extract_text(visitor_text=visit)
    return " ".join(runs)


def _mathjax_fonts(page) -> set[str]:
    found = set()
    for font in ((page.get("/Resources") or {}).get("/Font") or {}).values():
        descriptor = font.get_object().get("/FontDescriptor")
        family = str(descriptor.get_object().get("/FontFamily", "")) if descriptor else ""
        if family.startswith("MathJax"):
            found.add(family)
    return found


@pytest.mark.slow
def test_the_pdf_shows_typeset_math_not_tex(book_pdf):
    reader, texts = book_pdf
    for (start, end), name in zip(_parts(reader), toc_docnames()):
        has_math = 'class="math' in (SITE / f"{name}.html").read_text()
        fonts = set().union(*(_mathjax_fonts(reader.pages[i]) for i in range(start, end)))
        assert bool(fonts) == has_math, f"{name}: math on the page {has_math}, MathJax fonts in the PDF {fonts}"
    prose_chars = 0
    for number, page in enumerate(reader.pages, start=1):
        prose = _text(_prose(page))
        prose_chars += len(prose)
        tex = re.search(r".{0,30}(\$|\\\(|\\\[|\\frac|\\mathcal|\\sim\b).{0,30}", prose)
        assert not tex, f"page {number} of the PDF shows TeX outside code: {tex[0]!r}"
    assert prose_chars > 50_000, "the PDF's text outside code could not be read"


@pytest.mark.slow
def test_the_pdf_has_the_figures_and_leaves_out_the_solutions(book_pdf):
    reader, texts = book_pdf
    images = sum(len([x for x in ((page.get("/Resources") or {}).get("/XObject") or {}).values()
                      if x.get_object().get("/Subtype") == "/Image"]) for page in reader.pages)
    figures = sum((SITE / f"{name}.html").read_text().count('<figure') for name in toc_docnames()
                  if name.startswith("chapters/"))
    assert images >= figures, f"{figures} figures on the chapter pages, {images} images in the PDF"
    text = _text(" ".join(texts))
    checked = 0
    assert "This printed edition leaves the solutions out" in text
    for exercise in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(exercise, as_version=4).cells:
            if cell.cell_type != "markdown" or "solution" not in cell.metadata.get("tags", []):
                continue
            for answer in re.findall(r"^:::\{dropdown\}.*?\n(.*?)^:::", cell.source, flags=re.M | re.S):
                phrase = " ".join(_longest_plain_phrase(answer).split()[:8])
                assert len(phrase.split()) >= 5 and phrase not in text, (
                    f"{exercise.name}: a written solution is in the PDF: {phrase!r}")
                checked += 1
    assert checked >= 5, f"only {checked} written solutions to look for"
    # Code solutions and hidden checks, line by line, as the export's leak search looks for them.
    # The search can find code: lines of the student notebooks' code cells are in the PDF.
    from export_public import all_secrets

    student_lines = {_text(line) for notebook in (ROOT / "exercises").glob("*.ipynb")
                     for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"
                     for line in cell.source.splitlines() if len(line.strip()) >= 25 and "#" not in line}
    assert sum(line in text for line in student_lines) >= 20, "the PDF's code cannot be searched"
    leaked = sorted(secret for secret in {_text(s) for s in all_secrets()} if len(secret) >= 25 and secret in text)
    assert not leaked, f"solution or hidden-check code in the PDF: {leaked[:5]}"


@pytest.mark.slow
def test_the_website_offers_the_pdf(book_pdf):
    offered = SITE / "book.pdf"
    assert offered.exists() and offered.read_bytes() == build_pdf.OUTPUT.read_bytes()
    assert 'href="book.pdf"' in (SITE / "intro.html").read_text(), "the landing page does not link the PDF"
    # A plain `make html` afterwards keeps offering it.
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "main"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert offered.exists() and 'href="book.pdf"' in (SITE / "intro.html").read_text(), (
        "`make html` after `make pdf` dropped the PDF's link")


def _footer_number(text: str) -> int | None:
    """The running number stamped in a sheet's footer, the last text on the sheet."""
    number = re.search(r"(\d+)\s*$", text)
    return int(number[1]) if number else None


@pytest.mark.slow
def test_the_pdf_has_a_contents_page_and_one_running_page_number(book_pdf):
    reader, texts = book_pdf
    titles = _page_titles()
    first_page = _parts(reader)[0][0]
    contents = _text(" ".join(texts[:first_page]))
    assert contents.startswith(_text(build_pdf.CONTENTS_TITLE)) or build_pdf.CONTENTS_TITLE in contents[:200]
    for (start, _), (name, title) in zip(_parts(reader), titles.items()):
        listed = re.search(re.escape(title) + r" (\d+)\b", contents)
        assert listed, f"the contents page does not list {title!r} with a page number"
        assert int(listed[1]) == start + 1, f"{name}: the contents say page {listed[1]}, it starts on sheet {start + 1}"
    for number, text in enumerate(texts, start=1):
        assert _footer_number(text) == number, f"sheet {number} is numbered {_footer_number(text)}"
        assert not re.search(r"\d+ / \d+", text), f"sheet {number} still has a per-page footer"


def _headings() -> set[str]:
    found = set()
    for name in toc_docnames():
        page = (SITE / f"{name}.html").read_text()
        for heading in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page, re.S):
            found.add(_text(html.unescape(re.sub(r"<[^>]+>", "", heading)).replace("#", "")))
    return found


@pytest.mark.slow
def test_no_sheet_holds_only_a_heading_or_the_watermark(book_pdf):
    reader, texts = book_pdf
    headings = _headings()
    sheet_titles = {item.title for item in reader.outline}
    problems = []
    for number, text in enumerate(texts, start=1):
        lines = [_text(line) for line in text.splitlines() if line.strip()]
        # Leave out the running footer (the page's title and the sheet's number, the last line).
        if lines and re.sub(rf"\s*{number}$", "", lines[-1]) in sheet_titles | {""}:
            lines = lines[:-1]
        body = lines
        joined = " ".join(body)
        if not body:
            problems.append(f"sheet {number} is empty")
        elif joined in headings:
            problems.append(f"sheet {number} holds only the heading {joined!r}")
        elif re.fullmatch(r"(watermark\(\) )?Executed with .*", joined):
            problems.append(f"sheet {number} holds only the version watermark")
    assert not problems, "\n".join(problems)


def _link_targets(page) -> list[str]:
    """The web addresses a sheet's links open."""
    targets = []
    for annotation in page.get("/Annots") or []:
        action = annotation.get_object().get("/A") or {}
        if action.get("/URI"):
            targets.append(str(action["/URI"]))
    return targets


@pytest.mark.slow
def test_exercises_print_where_to_open_them_and_where_the_solutions_are(book_pdf):
    """On paper an exercise says "open in Colab" with the address, and where its page and the
    solutions are on the website; the addresses are printed (and clickable), not buttons."""
    reader, texts = book_pdf
    website = build_pdf.book_website()
    assert website.startswith("https://")
    for (start, end), name in zip(_parts(reader), toc_docnames()):
        if not name.startswith("exercises/"):
            continue
        text = _text(" ".join(texts[start:end]))
        assert "rocket" not in text, f"{name}: the PDF mentions the rocket button"
        for words in ("Open this exercise in Colab:", "Its page on the website,",
                      "This printed edition leaves the solutions out; they are on the website:"):
            assert words in text, f"{name}: the PDF does not say {words!r}"
        links = [target for i in range(start, end) for target in _link_targets(reader.pages[i])]
        colab = [link for link in links if link.startswith("https://colab.research.google.com/github/")]
        assert colab and all(link.endswith(f"/{name}.ipynb") for link in colab), f"{name}: Colab links {colab}"
        page = f"{website}/{name}.html"
        assert links.count(page) >= 2, f"{name}: the page's address {page} is printed {links.count(page)} times, not 2"
        assert page.replace("https://", "").split("/")[0] in text.replace(" ", ""), f"{name}: no printed address"
