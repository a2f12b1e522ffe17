"""The book's structure: table of contents, notebooks current and run, figures named, conventions."""
import re

import jupytext
import nbformat
import pytest
from jupytext.compare import NotebookDifference, compare_notebooks

from book_layout import (
    ROOT, executed_notebook, figure_name, notebook_figures, notebook_sources, reference_dir, toc_docnames,
)

SOURCES = notebook_sources()
IDS = [str(s.relative_to(ROOT)) for s in SOURCES]


def test_every_toc_entry_exists():
    for name in toc_docnames():
        assert (ROOT / f"{name}.md").exists(), f"_toc.yml lists {name}, but {name}.md does not exist"


def test_every_page_and_exercise_is_in_the_toc():
    listed = set(toc_docnames())
    for source in SOURCES:
        docname = source.relative_to(ROOT).with_suffix("").as_posix()
        assert docname in listed, f"{docname} is not in _toc.yml"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_executed_notebook_is_current(source):
    """The committed notebook holds exactly the cells of its MyST twin (jupytext's comparison)."""
    notebook = executed_notebook(source)
    command = f"make notebooks PAGES={source.relative_to(ROOT)}"
    assert notebook.exists(), f"{notebook.relative_to(ROOT)} is missing: run `{command}`"
    try:
        compare_notebooks(nbformat.read(notebook, as_version=4), jupytext.read(source), fmt="md:myst")
    except NotebookDifference as difference:
        pytest.fail(f"{notebook.relative_to(ROOT)} is stale against {source.relative_to(ROOT)}: run `{command}` "
                    f"(then `make figures` if a figure changed).\n{str(difference)[:1500]}", pytrace=False)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_executed_notebook_ran_top_to_bottom_without_errors_or_warnings(source):
    nb = nbformat.read(executed_notebook(source), as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{source.name}: cells were not executed once each, in order"
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{source.name}, code cell {number} raised an error"
            text = output.get("text", "") if output.output_type == "stream" else ""
            assert output.get("name") != "stderr", f"{source.name}, code cell {number} wrote to stderr:\n{text[:500]}"
            assert not re.search(r"(Deprecation|Future|Migration)Warning", text), (
                f"{source.name}, code cell {number} shows a warning:\n{text[:500]}")


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
def test_pages_follow_the_conventions(source):
    """A visible seed for every sampler call and random generator, the one-call set-up, the book's
    seed (or another with its reason), and a version watermark at the end."""
    code = [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]
    text = "\n".join(code)
    for call in re.findall(r"pm\.sample\([^)]*\)", text):
        assert "random_seed" in call, f"{source.name}: {call} has no visible random_seed"
    for call in re.findall(r"default_rng\([^)]*\)", text):
        assert call != "default_rng()", f"{source.name}: a random generator without a seed"
    assert re.search(r"^setup_page\(\)$", text, re.MULTILINE), (
        f"{source.name}: the set-up should be one line, `setup_page()`")
    # One seed for the book: a page's SEED is BOOK_SEED, or another number with the reason for it
    # in a comment on the line or the lines just above.
    book_seed = re.search(r"^SEED = BOOK_SEED$", text, re.MULTILINE)
    own_seed = re.search(r"((?:^#.*\n)*)^SEED = \d+(.*)$", text, re.MULTILINE)
    assert book_seed or own_seed, f"{source.name}: the set-up cell should set `SEED = BOOK_SEED`"
    if own_seed and not book_seed:
        reason = own_seed[1] + own_seed[2].partition("#")[2]
        assert len(reason.replace("#", "").split()) >= 5, (
            f"{source.name}: `SEED = <number>` instead of `SEED = BOOK_SEED` needs a comment saying why")
    # Page-wide settings belong in setup_page; a warning caught on purpose around one call is fine.
    for forbidden in (r"^warnings\.filterwarnings", r"logging\.getLogger", r"rcParams", r"from myst_nb import"):
        assert not re.search(forbidden, text, re.MULTILINE), (
            f"{source.name}: `{forbidden.strip('^')}` belongs in hierarchical_helpers.setup_page")
    assert code[-1].strip() == "watermark()", f"{source.name}: the last cell should be `watermark()`"
