"""The book's structure: table of contents, notebooks, figures, conventions, own prose."""
import re
import subprocess
import sys

import jupytext
import nbformat
import pytest

from book_layout import (
    ROOT, executed_notebook, figure_name, notebook_figures, notebook_sources, reference_dir,
    toc_docnames,
)

SOURCES = notebook_sources()
IDS = [str(s.relative_to(ROOT)) for s in SOURCES]


def test_every_toc_entry_exists():
    for name in toc_docnames():
        assert (ROOT / f"{name}.md").exists(), f"_toc.yml lists {name}, but {name}.md does not exist"


def test_every_page_and_exercise_is_in_the_toc():
    listed = set(toc_docnames())
    for source in SOURCES:
        if source.parent.name in ("chapters", "exercises"):
            docname = source.relative_to(ROOT).with_suffix("").as_posix()
            assert docname in listed, f"{docname} is not in _toc.yml"


def _comparable_cells(nb):
    """Cell type, source and the metadata the build uses, for a staleness comparison."""
    cells = []
    for cell in nb.cells:
        meta = {k: v for k, v in cell.metadata.items() if k in ("tags", "mystnb")}
        cells.append((cell.cell_type, cell.source.strip(), meta))
    return cells


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_executed_notebook_is_current(source):
    notebook = executed_notebook(source)
    assert notebook.exists(), f"{notebook.relative_to(ROOT)} is missing: run `make notebooks`"
    expected = _comparable_cells(jupytext.read(source))
    actual = _comparable_cells(nbformat.read(notebook, as_version=4))
    for number, (want, have) in enumerate(zip(expected, actual)):
        assert want == have, (
            f"{notebook.relative_to(ROOT)} is stale against {source.name} at cell {number}: "
            "run `make notebooks PAGES=...` and `make figures`"
        )
    assert len(expected) == len(actual), f"{notebook.relative_to(ROOT)} has a different number of cells"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_executed_notebook_ran_top_to_bottom(source):
    nb = nbformat.read(executed_notebook(source), as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), "cells were not executed once each, in order"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"a cell of {source.name} raised an error"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_figure_has_a_name_caption_and_alt_text(source):
    nb = nbformat.read(executed_notebook(source), as_version=4)
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        if not any("image/png" in (o.get("data") or {}) for o in cell.get("outputs", [])):
            continue
        mystnb = cell.metadata.get("mystnb", {})
        where = f"{source.name}, code cell {number}"
        assert figure_name(cell.metadata), f"{where}: figure without mystnb.figure.name"
        assert mystnb.get("figure", {}).get("caption", "").strip(), f"{where}: figure without caption"
        assert mystnb.get("image", {}).get("alt", "").strip(), f"{where}: figure without alt text"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_reference_figures_match_the_notebook(source):
    notebook = executed_notebook(source)
    drawn = set(notebook_figures(nbformat.read(notebook, as_version=4)))
    stored = {p.name for p in reference_dir(notebook).glob("*.png")}
    assert drawn == stored, f"{notebook.relative_to(ROOT)}: figures {sorted(drawn)} vs references {sorted(stored)}; run `make figures`"


def test_no_reference_figures_without_a_notebook():
    notebooks = {reference_dir(executed_notebook(s)) for s in SOURCES}
    for folder in {p.parent for p in (ROOT / "figures").rglob("*.png")}:
        assert folder in notebooks, f"{folder.relative_to(ROOT)} belongs to no notebook"


GLUE_ROLE = re.compile(r"\{glue:(?:text|any|md|math)?\}`([A-Za-z0-9_]+)")


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_glued_name_is_computed(source):
    nb = nbformat.read(executed_notebook(source), as_version=4)
    glued = {
        out.get("metadata", {}).get("scrapbook", {}).get("name")
        for cell in nb.cells for out in cell.get("outputs", [])
    }
    for name in GLUE_ROLE.findall(source.read_text()):
        assert name in glued, f"{source.name} pastes `{name}`, which no cell glues"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_sampling_and_random_numbers_are_seeded(source):
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    for call in re.findall(r"pm\.sample\([^)]*\)", code):
        assert "random_seed" in call, f"{source.name}: {call} has no visible random_seed"
    for call in re.findall(r"default_rng\([^)]*\)", code):
        assert call != "default_rng()", f"{source.name}: a random generator without a seed"


def test_prose_does_not_repeat_the_seeds():
    tool = ROOT.parent / "shared" / "tools" / "seed_overlap.py"
    if not tool.exists():
        pytest.skip("../shared is not beside the repository")
    result = subprocess.run([sys.executable, str(tool), str(ROOT)], capture_output=True, text=True)
    assert "seed overlap: 0 passage" in result.stdout, result.stdout[-3000:]
