"""The website build: warning-free, executed, with figures, captions, alt text and timings."""
import subprocess
import sys
import textwrap
from html.parser import HTMLParser

from book_layout import ROOT, notebook_sources, toc_docnames


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.captions = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "figcaption":
            self.captions += 1


def test_every_toc_page_is_built(built_site):
    for name in toc_docnames():
        assert (built_site / f"{name}.html").exists(), f"{name}.html was not built"


def test_figures_are_embedded_with_alt_text_and_captions(built_site):
    for source in notebook_sources():
        page = built_site / source.relative_to(ROOT).with_suffix(".html")
        parser = _Images()
        parser.feed(page.read_text())
        figures = [img for img in parser.images if "_images/" in img.get("src", "")]
        for img in figures:
            assert img.get("alt", "").strip(), f"{page.name}: an image without alt text"
            assert (page.parent / img["src"]).resolve().exists(), f"{page.name}: {img['src']} missing"
        assert parser.captions >= len(figures), f"{page.name}: a figure without a caption"


def test_status_page_lists_execution_times(built_site):
    status = (built_site / "status.html").read_text()
    for source in notebook_sources():
        assert source.relative_to(ROOT).with_suffix("").as_posix() in status


def test_launch_buttons_point_at_the_executed_notebook(built_site):
    page = (built_site / "chapters" / "pooling-problem.html").read_text()
    assert "colab.research.google.com/github/" in page
    assert "chapters/pooling-problem.ipynb" in page


FAILING_BOOK = {
    "_config.yml": """
        title: failing
        only_build_toc_files: true
        execute:
          execute_notebooks: cache
          timeout: 60
        sphinx:
          config:
            nb_execution_show_tb: true
        """,
    "_toc.yml": """
        format: jb-book
        root: intro
        chapters:
          - file: broken
        """,
    "intro.md": "# Intro\n",
    "broken.md": """
        ---
        jupytext:
          text_representation:
            extension: .md
            format_name: myst
        kernelspec:
          display_name: Python 3
          language: python
          name: python3
        ---
        # Broken page

        ```{code-cell} ipython3
        x = 1
        ```

        ```{code-cell} ipython3
        raise ValueError("this cell is broken on purpose")
        ```
        """,
}


def test_a_cell_error_fails_the_build_and_names_page_and_cell(tmp_path):
    for name, text in FAILING_BOOK.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), str(tmp_path)],
                            capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "a failing cell did not fail the build"
    assert "execution of page 'broken' failed" in output, "the failing page is not named"
    assert 'raise ValueError("this cell is broken on purpose")' in output, "the failing cell is not shown"
