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
    prose = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for pattern, what in MYST_SYNTAX:
        found = pattern.search(prose)
        assert not found, f"{docname}: {what} survives: {prose[max(0, found.start() - 60):found.end() + 60]!r}"
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
