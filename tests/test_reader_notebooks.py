"""Reader notebooks (tools/reader_notebooks.py): the prose a Colab, Binder or download reader gets.

Each reader notebook's markdown is rendered with a CommonMark renderer (markdown-it-py, as
JupyterLab's marked and Colab's renderer read CommonMark): no MyST role, directive or label may
survive, and every number that a paragraph of the web page shows (glued values, figure and
equation numbers, years of citations) is in the matching paragraph of the notebook. One reader
notebook is opened in JupyterLab, started on loopback, in the system Chromium: its first glued
number is rendered text.
"""
from __future__ import annotations

import difflib
import html as html_lib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from markdown_it import MarkdownIt

from book_layout import ROOT
import reader_notebooks

pytestmark = pytest.mark.slow

MYST_SYNTAX = [
    (re.compile(r"\{[a-z]+(?::[a-z]+)?\}`"), "a MyST role"),
    (re.compile(r"^\s*(?:>\s*)*[:`]{3,}\{[a-z-]+\}", re.MULTILINE), "a MyST directive"),
    (re.compile(r"^\s*\([A-Za-z0-9_:.\-]+\)=\s*$", re.MULTILINE), "a MyST label"),
    (re.compile(r"^\s*(?:>\s*)*:(class|name|tags|label|open):", re.MULTILINE), "a directive option"),
    (re.compile(r"^\+\+\+", re.MULTILINE), "a MyST cell break"),
    (re.compile(r"\$\$\s*\([A-Za-z0-9_:.\-]+\)"), "an equation label"),
]
NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?![\w])")


@pytest.fixture(scope="module")
def readers(built_site):
    """The reader notebooks of this build (tools/build_site.py writes them into _build/reader/)."""
    found = {path.relative_to(reader_notebooks.OUT).with_suffix("").as_posix(): path
             for path in sorted(reader_notebooks.OUT.rglob("*.ipynb"))}
    expected = {docname for docname, _, _ in reader_notebooks.pages()}
    assert set(found) == expected
    return found


def _rendered_paragraphs(nb) -> list[str]:
    """Each paragraph, list item and quote line of the notebook's markdown, as rendered text."""
    md = MarkdownIt("commonmark")
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        rendered = md.render(cell.source)
        for block in re.findall(r"<(p|li|h\d)>(.*?)</\1>", rendered, flags=re.DOTALL):
            out.append(" ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", block[1])).split()))
    return out


def _assert_no_myst_syntax(nb, docname: str) -> None:
    """No MyST role, directive, label or cell break in the prose, nor in its CommonMark rendering."""
    prose = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for pattern, what in MYST_SYNTAX:
        found = pattern.search(prose)
        assert not found, f"{docname}: {what} survives: {prose[max(0, found.start() - 60):found.end() + 60]!r}"
    rendered = "\n".join(_rendered_paragraphs(nb))
    assert rendered, f"{docname}: no rendered paragraph (the check reads nothing)"
    leftover = re.search(r"\{[a-z]+(?::[a-z]+)?\}`|\{(?:glue|term|cite|numref|eq|ref|doc|dropdown)\b", rendered)
    assert not leftover, f"{docname}: MyST markup in the rendered text: {rendered[max(0, leftover.start() - 60):leftover.end() + 60]!r}"


def _web_paragraphs(page_html: str) -> list[str]:
    """The article's paragraphs holding a pasted value or a numbered reference, as text."""
    article = page_html.split('<article class="bd-article">', 1)[-1].split("</article>", 1)[0]
    # An exercise's written solutions are on the web page only (the notebook is the student's).
    article = re.sub(r'<details class="[^"]*\bsolution\b[^"]*".*?</details>', "", article, flags=re.DOTALL)
    paragraphs = []
    for block in re.findall(r"<p>(.*?)</p>", article, flags=re.DOTALL):
        if 'class="pasted-text"' in block or "<span class=\"std std-numref\">" in block \
                or 'class="reference internal" href="#equation-' in block or "std-ref" in block:
            text = html_lib.unescape(re.sub(r"<[^>]+>", "", block))
            text = text.replace("\\(", "$").replace("\\)", "$").replace("\u2019", "'").replace("\u2018", "'")
            paragraphs.append(" ".join(text.replace("\u201c", '"').replace("\u201d", '"').split()))
    return paragraphs


@pytest.mark.parametrize("docname", [d for d, _, _ in reader_notebooks.pages()])
def test_reader_notebook_prose_is_plain_markdown_with_the_pages_numbers(readers, built_site, docname):
    nb = nbformat.read(readers[docname], as_version=4)
    _assert_no_myst_syntax(nb, docname)
    ours = _rendered_paragraphs(nb)
    web = _web_paragraphs((built_site / f"{docname}.html").read_text())
    if docname.startswith("chapters/"):
        assert web, f"{docname}: no paragraph of the web page holds a pasted number (the test reads nothing)"
    def similarity(a, b):
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()

    for paragraph in web:
        candidates = [text for text in ours if set(NUMBER.findall(paragraph)) & set(NUMBER.findall(text))] or ours
        best = max(candidates, key=lambda text: similarity(text, paragraph))
        ratio = similarity(best, paragraph)
        assert ratio > 0.75, f"{docname}: no notebook paragraph reads like the web page's {paragraph[:200]!r}"
        missing = [n for n in NUMBER.findall(paragraph) if n not in NUMBER.findall(best)]
        assert not missing, (f"{docname}: the web page shows {missing} in {paragraph[:300]!r}; "
                             f"the notebook's paragraph reads {best[:300]!r}")


def test_outputs_are_kept_and_jupytext_does_not_pair_the_reader_notebook(readers):
    for docname, path in readers.items():
        nb = nbformat.read(path, as_version=4)
        assert "jupytext" not in nb.metadata, docname
        if docname.startswith("chapters/"):
            executed = nbformat.read(ROOT / f"{docname}.ipynb", as_version=4)
            captioned = [c for c in executed.cells if ((c.metadata.get("mystnb") or {}).get("figure") or {}).get("caption")]
            captions = [c for c in nb.cells if "figure-caption" in c.metadata.get("tags", [])]
            assert len(captions) == len(captioned), f"{docname}: a figure lost its caption"
            assert [c.outputs for c in nb.cells if c.cell_type == "code"] == \
                [c.outputs for c in executed.cells if c.cell_type == "code"], docname


def test_citations_terms_and_references_are_linked_to_the_website(readers):
    base = reader_notebooks.site_url()
    nb = nbformat.read(readers["chapters/mathematical-structure"], as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\(\[[A-Z][^\]]+, \d{4}\]\(" + re.escape(base) + r"bibliography\.html#", prose), \
        "no citation reads (Author, year) linked to the references page"
    assert f"({base}glossary.html#term-" in prose
    assert nb.cells[-1].source.startswith("## References")
    assert re.search(r"\[\(\d+\)\]\(" + re.escape(base) + r"chapters/mathematical-structure\.html#equation-", prose)
    assert "\\tag{1}" in prose


def test_a_bad_role_is_refused_with_a_message(built_site):
    website = reader_notebooks.Website()
    converter = reader_notebooks.Converter(website, "chapters/pooling-problem", {})
    with pytest.raises(reader_notebooks.ReaderError, match="no glued value named 'nowhere'"):
        converter.markdown("A {glue:text}`nowhere:.1f` value.")
    with pytest.raises(reader_notebooks.ReaderError, match="has no plain-Markdown rendering"):
        converter.markdown("A {unknownrole}`x` here.")


# ---------- The student edition's reader notebooks: no solution, no answer glued into the prose ----------

EXERCISE_PAGES = [d for d, _, glue_from in reader_notebooks.pages() if glue_from is not None]


@pytest.fixture(scope="module")
def student_readers(built_student_site):
    """The reader notebooks the student edition's build wrote (_build/student-site/reader/)."""
    out = reader_notebooks.EDITION_OUT["student"]
    found = {path.relative_to(out).with_suffix("").as_posix(): path for path in sorted(out.rglob("*.ipynb"))}
    assert set(found) == {docname for docname, _, _ in reader_notebooks.pages()}
    return found


def test_the_student_edition_downloads_reader_notebooks(built_student_site, student_readers):
    """Every page's download button, chapters and exercises, offers its reader notebook."""
    for docname, path in student_readers.items():
        offered = built_student_site / "_sources" / f"{docname}.ipynb"
        assert offered.read_bytes() == path.read_bytes(), f"{docname}: the download is not its reader notebook"


@pytest.mark.parametrize("docname", EXERCISE_PAGES)
def test_the_student_editions_exercise_notebook_gives_nothing_away(student_readers, built_site, docname):
    """Plain Markdown (no MyST syntax), the student notebook's cells and public checks, no solution
    code or text, no hidden check, no value glued by a solution."""
    from published import all_secrets, glued_answers, glued_answers_shown
    from student_materials import ANSWER_PLACEHOLDER

    nb = nbformat.read(student_readers[docname], as_version=4)
    _assert_no_myst_syntax(nb, docname)
    student = nbformat.read(ROOT / f"{docname}.ipynb", as_version=4)
    assert [c.source for c in nb.cells if c.cell_type == "code"] == \
        [c.source for c in student.cells if c.cell_type == "code"], f"{docname}: not the student notebook's code"
    assert nb.metadata["otter"] == student.metadata["otter"] and nb.metadata["otter"]["tests"]
    assert not any("solution" in c.metadata.get("tags", []) or c.get("outputs") for c in nb.cells)
    written = [c.source for c in nb.cells if c.cell_type == "markdown" and "answer" in c.metadata.get("tags", [])]
    assert written and set(written) == {ANSWER_PLACEHOLDER}, f"{docname}: written answers are not placeholders"
    text = student_readers[docname].read_text()
    secrets = all_secrets()
    assert not [s for s in secrets if s in text], f"{docname}: solution or hidden-check text"
    # Values the answer key glues from its solutions: the web page's solutions show them (the
    # search works), the student's notebook does not (unless its own questions already say them).
    name = docname.split("/")[1]
    answers = glued_answers(name)
    main_page = (built_site / f"{docname}.html").read_text()
    assert answers and any(value in main_page for value in answers), f"{docname}: no solution value to look for"
    shown = glued_answers_shown(name, "\n".join(_rendered_paragraphs(nb)))
    assert not shown, f"{docname}: the student's notebook shows values glued by a solution: {shown}"


def _glue_output(name: str, value: str):
    """A glue output as myst-nb writes it into an executed notebook."""
    return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": value},
                                  metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


def _synthetic_exercise(folder):
    """An answer key and its student notebook: a value glued before any solution, one glued by a
    solution, one glued by a visible cell from the solution's variable, one from a variable a
    visible cell recomputed."""
    def code(source, glued=(), tags=()):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
        cell.outputs = [_glue_output(name, value) for name, value in glued]
        return cell

    key = nbformat.v4.new_notebook(cells=[
        code("%matplotlib inline\nn_groups = 8\nglue_values(n_groups=n_groups)", [("n_groups", "8")]),
        code("tau_hat = 3.5912\nglue_values(tau_hat=tau_hat)", [("tau_hat", "3.5912")], tags=["solution"]),
        code("ratio = tau_hat / 2\nglue_values(ratio=ratio)", [("ratio", "1.7956")]),
        code("tau_hat = 1.0\nglue_values(prior_scale=tau_hat)", [("prior_scale", "1.0")]),
    ])
    student = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("There are {glue:text}`n_groups` groups.")])
    nbformat.write(key, folder / "key.ipynb")
    nbformat.write(student, folder / "student.ipynb")
    return key, student


def test_values_glued_from_a_solution_are_withheld(tmp_path):
    key, _ = _synthetic_exercise(tmp_path)
    withheld = reader_notebooks.answer_glue(key)
    assert sorted(withheld) == ["ratio", "tau_hat"]
    assert "solution cell (code cell 2" in withheld["tau_hat"]
    assert "code cell 3 from 'tau_hat'" in withheld["ratio"] and "solution cell" in withheld["ratio"]
    # myst-nb's reader empties the cells it reads: the guard must leave the key's glue in place.
    assert set(reader_notebooks.glue_values(key)) == {"n_groups", "tau_hat", "ratio", "prior_scale"}


def test_a_value_glued_from_a_solution_is_refused_in_the_students_notebook(tmp_path):
    """End to end, as `write_all` makes an exercise's reader notebook from its student notebook and
    answer key: a visible value is pasted; a solution's value stops the build with a message naming
    the exercise and the value, and saying what to do."""
    import types

    _synthetic_exercise(tmp_path)
    website = types.SimpleNamespace(url=lambda doc, anchor="": f"https://example.org/{doc}.html",
                                    figure_numbers={}, numfig_format={})
    made = reader_notebooks.reader_notebook(tmp_path / "student.ipynb", "exercises/synthetic", website,
                                            glue_from=tmp_path / "key.ipynb")
    assert made.cells[0].source == "There are 8 groups."
    for role, name in [("{glue:text}`tau_hat:.2f`", "tau_hat"), ("{glue}`ratio`", "ratio"),
                       ("{glue:md}`tau_hat`", "tau_hat")]:
        student = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"The fit gives {role}.")])
        nbformat.write(student, tmp_path / "student.ipynb")
        with pytest.raises(reader_notebooks.ReaderError) as refused:
            reader_notebooks.reader_notebook(tmp_path / "student.ipynb", "exercises/synthetic", website,
                                             glue_from=tmp_path / "key.ipynb")
        message = str(refused.value)
        assert message.startswith("exercises/synthetic:") and repr(name) in message, message
        assert "give the answer away" in message and "solution's dropdown" in message, message


# ---------- One reader notebook in JupyterLab, in Chromium ----------

@pytest.fixture(scope="session")
def browser_type_launch_args():
    from browser import CHROMIUM_FLAGS, HOW_TO_GET_CHROMIUM, chromium_executable

    executable = chromium_executable()
    if executable is None:
        if os.environ.get("REQUIRE_CHROMIUM"):
            pytest.fail(HOW_TO_GET_CHROMIUM)
        pytest.skip(HOW_TO_GET_CHROMIUM)
    return {"executable_path": executable, "args": CHROMIUM_FLAGS, "headless": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(readers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    shutil.copyfile(readers["chapters/pooling-problem"], folder / "pooling-problem.ipynb")
    port, token = _free_port(), "reader-notebook-test"
    home = tmp_path_factory.mktemp("home")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         "--ServerApp.port_retries=0", "--allow-root", "--LabApp.extension_manager=readonly", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
             "JUPYTER_RUNTIME_DIR": str(home / "runtime")})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode(errors="replace") if server.poll() is not None else ""
                    pytest.fail(f"JupyterLab did not start on {base}: {output[-3000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _first_glued_number(docname: str) -> str:
    """The first `{glue:text}` number of the page's MyST source with a decimal point (one that
    cannot be found by chance elsewhere), formatted as the page shows it."""
    source = (ROOT / f"{docname}.md").read_text()
    executed = nbformat.read(ROOT / f"{docname}.ipynb", as_version=4)
    converter = reader_notebooks.Converter(None, docname, reader_notebooks.glue_values(executed))
    for role in re.findall(r"\{glue:text\}`([^`]+)`", source):
        value = converter._glue("glue:text", role)
        if re.fullmatch(r"-?\d+\.\d+", value):
            return value
    raise AssertionError(f"{docname} glues no decimal number")


def test_jupyterlab_shows_the_first_glued_number_as_text(jupyterlab, page):
    base, token = jupyterlab
    number = _first_glued_number("chapters/pooling-problem")
    page.goto(f"{base}/lab/tree/pooling-problem.ipynb?token={token}", wait_until="load")
    rendered = page.locator(".jp-RenderedMarkdown").filter(has_text=number).first
    rendered.wait_for(state="attached", timeout=90_000)
    rendered.scroll_into_view_if_needed()
    rendered.wait_for(state="visible", timeout=30_000)
    # What the reader sees: the cell's rendered text (not its source), with the number in it.
    text = rendered.inner_text()
    assert number in text, text[:500]
    assert "{glue" not in text and "{term}" not in text, text[:500]
    # The number is text in a rendered paragraph, not inside code or math.
    assert rendered.locator("p", has_text=number).count() >= 1
    assert rendered.locator("code", has_text=number).count() == 0
    all_text = page.locator(".jp-Notebook").text_content()
    assert "{glue:text}" not in all_text and "{term}" not in all_text and "{cite:p}" not in all_text
