"""Unit tests of the helpers in tools/book_layout.py."""
import base64

import nbformat

from book_layout import (
    ROOT, binder_environment_yml, cell_figures, executed_notebook, notebook_figures, read_lock, toc_docnames,
)

PNG = base64.b64encode(b"\x89PNG fake").decode()


def test_toc_docnames_walks_parts_and_sections(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n"
        "      - file: a/one\n        sections:\n          - file: a/two\n  - chapters:\n      - file: b\n"
    )
    assert toc_docnames(toc) == ["intro", "a/one", "a/two", "b"]


def test_cell_figures_keys_by_name_and_numbers_several():
    outputs = [{"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "x"}}]
    meta = {"mystnb": {"figure": {"name": "fig-a"}}}
    assert list(cell_figures(meta, outputs, "cell-3")) == ["fig-a.png"]
    assert list(cell_figures({}, outputs * 2, "cell-3")) == ["cell-3-1.png", "cell-3-2.png"]
    assert cell_figures(meta, [{"output_type": "stream", "text": "hi"}], "cell-3") == {}


def test_cell_figures_keeps_the_phone_rendition_next_to_its_figure():
    from hierarchical_helpers.phone_figures import PHONE_METADATA_KEY
    phone = base64.b64encode(b"phone").decode()
    outputs = [{"output_type": "display_data", "data": {"image/png": PNG},
                "metadata": {PHONE_METADATA_KEY: {"image/png": phone}}}]
    meta = {"mystnb": {"figure": {"name": "fig-a"}}}
    assert cell_figures(meta, outputs, "cell-3") == {"fig-a.png": base64.b64decode(PNG), "fig-a.phone.png": b"phone"}
    assert list(cell_figures(meta, outputs + outputs[:1], "cell-3")) == ["fig-a-1.png", "fig-a-1.phone.png", "fig-a-2.png", "fig-a-2.phone.png"]


def test_notebook_figures_counts_code_cells_only():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("text"), nbformat.v4.new_code_cell("plot()")]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG})]
    assert list(notebook_figures(nb)) == ["cell-0.png"]


def test_read_lock_and_binder_environment(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\nJupyter_Book==1.0.4.post1\nnumpy==2.4.6\n")
    assert read_lock(lock) == {"jupyter-book": "1.0.4.post1", "numpy": "2.4.6"}
    text = binder_environment_yml("numpy==2.4.6\n")
    assert "      - numpy==2.4.6\n" in text and "python=3.13" in text


def test_executed_twins_come_from_jupytext_pairing():
    assert executed_notebook(ROOT / "chapters" / "pooling-problem.md") == ROOT / "chapters" / "pooling-problem.ipynb"
    assert executed_notebook(ROOT / "exercises" / "non-centred.md") == ROOT / "solutions" / "non-centred.ipynb"
