"""Figure checks that ride on nbval's re-execution of every notebook (a pytest plugin, see pytest.ini).

nbval compares text outputs but never images. After nbval has run a cell (and compared
its text), the hook below compares each image the cell drew with its reference in
figures/, so every notebook is executed once for both checks. On the notebook's last cell
it also fails if a reference image was not drawn at all.
"""
from pathlib import Path

import pytest

from book_layout import ROOT, cell_figures, reference_dir

# Root-mean-square difference in 0-255 grey levels that still counts as the same image.
# Runs on this machine are pixel-identical; the margin absorbs anti-aliasing noise only.
FIGURE_TOLERANCE = 2.0
DIFF_DIR = ROOT / "_build" / "figure-check"

_drawn: dict[Path, set[str]] = {}


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


def _compare(reference: Path, actual_png: bytes, label: str) -> str | None:
    from matplotlib.testing.compare import compare_images
    from matplotlib.testing.exceptions import ImageComparisonFailure

    DIFF_DIR.mkdir(parents=True, exist_ok=True)
    actual = DIFF_DIR / label.replace("/", "__")
    actual.write_bytes(actual_png)
    try:
        return compare_images(str(reference), str(actual), tol=FIGURE_TOLERANCE)
    except ImageComparisonFailure as error:  # e.g. a different size in pixels
        return str(error)


def check_cell_figures(item) -> list[str]:
    notebook = Path(item.path)
    references = reference_dir(notebook)
    page = notebook.relative_to(ROOT)
    problems = []
    drawn = cell_figures(item.cell.metadata, item.test_outputs or [], f"cell-{item.cell_num}")
    _drawn.setdefault(notebook, set()).update(drawn)
    for name, png in drawn.items():
        reference = references / name
        if not reference.exists():
            problems.append(f"{page}, cell {item.cell_num}: figure '{name}' has no reference image "
                            f"{reference.relative_to(ROOT)} (if it is new, run `make figures`)")
            continue
        message = _compare(reference, png, f"{page}__{name}")
        if message:
            problems.append(f"{page}, cell {item.cell_num}: figure '{name}' differs from "
                            f"{reference.relative_to(ROOT)}:\n{message}")
    siblings = [other for other in item.session.items if other.parent is item.parent]
    if siblings and siblings[-1] is item and references.exists():
        for missing in sorted({p.name for p in references.glob("*.png")} - _drawn[notebook]):
            problems.append(f"{page}: reference image {missing} was not drawn by any cell "
                            "(remove it with `make figures` if the figure was dropped)")
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # nbval executes the cell and compares its text outputs here
    if _is_nbval_cell(item):
        problems = check_cell_figures(item)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
    return result
