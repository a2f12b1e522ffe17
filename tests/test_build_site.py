"""The website build (tools/build_site.py): built from the committed notebooks, never executing them."""
import html
import re
import shutil
import subprocess
import sys
import textwrap

import jupytext
import nbformat
import pytest

from book_layout import ROOT, exercise_sources, toc_docnames

pytestmark = pytest.mark.slow


def test_every_toc_page_is_built(built_site):
    for name in toc_docnames():
        assert (built_site / f"{name}.html").exists(), f"{name}.html was not built"


def _glued(notebook, name):
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return output["data"]["application/papermill.record/text/plain"]
    raise KeyError(name)


def test_the_site_shows_the_committed_execution(built_site):
    """One execution feeds the site and the notebook Colab opens: a glued number on the page is
    the number stored in the committed notebook."""
    notebook = ROOT / "chapters" / "pooling-problem.ipynb"
    stored = float(_glued(notebook, "population_mean"))
    source = (ROOT / "chapters" / "pooling-problem.md").read_text()
    fmt = re.search(r"\{glue:text\}`population_mean:(\.\d+f)`", source).group(1)
    page = (built_site / "chapters" / "pooling-problem.html").read_text()
    assert f"{stored:{fmt}}" in page, f"the page does not show the notebook's population_mean {stored:{fmt}}"


@pytest.mark.parametrize("source", exercise_sources(), ids=lambda s: s.stem)
def test_exercise_page_downloads_the_student_notebook(built_site, source):
    """The download is the student notebook as a reader notebook: its cells, its embedded checks,
    its prose in plain Markdown (tools/reader_notebooks.py)."""
    download = nbformat.read(built_site / "_sources" / "exercises" / f"{source.stem}.ipynb", as_version=4)
    student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert [c.source for c in download.cells if c.cell_type == "code"] == \
        [c.source for c in student.cells if c.cell_type == "code"]
    assert download.metadata["otter"] == student.metadata["otter"]
    assert download.metadata["reader_notebook"]["web_page"].endswith(f"exercises/{source.stem}.html")
    assert not list((built_site / "_sources" / "exercises").glob(f"{source.stem}.md*"))


def test_chapter_pages_download_their_reader_notebook(built_site):
    download = nbformat.read(built_site / "_sources" / "chapters" / "pooling-problem.ipynb", as_version=4)
    executed = nbformat.read(ROOT / "chapters" / "pooling-problem.ipynb", as_version=4)
    assert [c.outputs for c in download.cells if c.cell_type == "code"] == \
        [c.outputs for c in executed.cells if c.cell_type == "code"]
    prose = "\n".join(c.source for c in download.cells if c.cell_type == "markdown")
    assert "{glue:text}" not in prose and "## References" in prose


def test_the_build_never_executes(tmp_path):
    """A notebook whose code would fail if run is rendered as it was committed: nothing executes."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n"
                                      "sphinx:\n  local_extensions:\n    book_pages: _ext\n")
    shutil.copytree(ROOT / "_ext", book / "_ext")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/page\n")
    (book / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Page"),
                                          nbformat.v4.new_code_cell("raise SystemExit('executed!')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored output\n")]
    nbformat.write(nb, book / "chapters" / "page.ipynb")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "main", "--book", str(book)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (book / "_build" / "main" / "html" / "chapters" / "page.html").read_text()
    assert "stored output" in page


def _visible_text(path):
    raw = path.read_text(errors="replace")
    if path.suffix == ".html":
        return raw + "\n" + html.unescape(re.sub(r"<[^>]+>", "", raw))
    if path.suffix == ".ipynb":
        return raw + "\n" + "\n".join(cell.source for cell in nbformat.reads(raw, as_version=4).cells)
    return raw


def _lines_of(path):
    return {text.strip() for text in _visible_text(path).splitlines()}


def _published_files(site):
    return [p for p in site.rglob("*") if p.is_file() and p.suffix in {".html", ".md", ".ipynb", ".txt", ".js", ".json"}]


def _hidden_check_lines():
    """Lines of the hidden checks that appear nowhere a student may look."""
    from export_public import public_text

    public = public_text()
    hidden, shown = set(), set()
    for source in exercise_sources():
        for cell in jupytext.read(source).cells:
            is_check = cell.cell_type == "raw" and cell.metadata.get("hidden")
            (hidden if is_check else shown).update(line.strip() for line in cell.source.splitlines())
    # The main site shows the worked solutions, so a line a check shares with a solution is no leak.
    return {line for line in hidden - shown if len(line) >= 25 and line not in public}


def test_the_main_site_publishes_no_hidden_check(built_site):
    hidden = _hidden_check_lines()
    assert hidden, "no distinctive hidden-check lines were found to search for"
    # The search works: the answer keys, which carry the checks, are caught by it.
    assert all(hidden & _lines_of(key) for key in (ROOT / "solutions").glob("*.ipynb"))
    # Whole lines, so that a check's `rate = ...` is not found inside a solution's `h5_rate = ...`.
    leaks = {(str(p.relative_to(built_site)), line) for p in _published_files(built_site)
             for line in hidden & _lines_of(p)}
    assert not leaks, f"hidden-check text on the main website: {sorted(leaks)[:5]}"


def test_the_student_site_publishes_no_solution_or_hidden_check():
    from export_public import all_secrets

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "student"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    site = ROOT / "_build" / "student-site" / "html"
    assert (site / "exercises" / "shrinkage-arithmetic.html").exists()
    secrets = all_secrets()
    # The search works: the main site's exercise pages, which show the solutions, are caught by it.
    main_page = ROOT / "_build" / "html" / "exercises" / "shrinkage-arithmetic.html"
    if main_page.exists():
        assert any(s in _visible_text(main_page) for s in secrets)
    leaks = {(str(p.relative_to(site)), s) for p in _published_files(site) for s in secrets if s in _visible_text(p)}
    assert not leaks, f"solution text on the student website: {sorted(leaks)[:5]}"
    assert not (site / "solutions").exists()


def test_the_closing_message_names_the_site_the_command_wrote():
    """`make html` ends by naming _build/html, not the assembled copy Jupyter Book built in."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "main"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    tail = result.stdout[-600:]
    assert "site-src" not in tail, f"the closing message names the assembled copy: {tail!r}"
    assert "open _build/html/index.html" in tail and (ROOT / "_build/html/index.html").as_uri() in tail


def test_only_jupyter_books_banner_is_dropped():
    from build_site import without_closing_banner
    rule = "\x1b[92m" + "=" * 79 + "\x1b[0m\n"
    log = ("build succeeded.\n\n" + rule + "\nFinished generating HTML for book.\n"
           "Your book's HTML pages are here:\n    _build/site-src/main/_build/html/\n" + rule)
    assert without_closing_banner(log) == "build succeeded.\n\n"
    assert without_closing_banner("a\n" + "=" * 30 + "\nb\n") == "a\n" + "=" * 30 + "\nb\n"
