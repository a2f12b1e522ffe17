"""The re-execution check itself: nbval plus the figure plugin, on a small throw-away book.

Each case copies a tiny executed notebook with one printed number and one figure, tampers
with one thing, and runs pytest on it the way `make test` does.
"""
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from book_layout import ROOT

pytestmark = pytest.mark.slow  # executes notebooks

PLOT = """\
import matplotlib.pyplot as plt
%config InlineBackend.print_figure_kwargs = {"bbox_inches": None}
fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
ax.plot([0, 1, 2], [0, 1, 4])"""


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)"), nbformat.v4.new_code_cell(PLOT)]
    nb.cells[1].metadata["mystnb"] = {"figure": {"name": "fig-tiny", "caption": "c"}, "image": {"alt": "a"}}
    NotebookClient(nb, kernel_name="python3").execute()
    return nb


def run_check(tmp_path, nb, references):
    (tmp_path / "chapters").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "chapters" / "tiny.ipynb")
    folder = tmp_path / "figures" / "chapters" / "tiny"
    folder.mkdir(parents=True)
    for name, png in references.items():
        (folder / name).write_bytes(png)
    shutil.copy(ROOT / "pytest.ini", tmp_path / "pytest.ini")
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "sanitize.cfg", tmp_path / "tests" / "sanitize.cfg")
    env = dict(os.environ, BOOK_ROOT=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tools"), str(ROOT / "tests")]))
    result = subprocess.run([sys.executable, "-m", "pytest", "--notebook-kernel=current", "chapters"],
                            cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    return result.returncode, result.stdout


def reference_png(nb):
    from book_layout import notebook_figures
    return notebook_figures(nb)["fig-tiny.png"]


def test_unchanged_notebook_passes(tmp_path, executed):
    code, out = run_check(tmp_path, executed, {"fig-tiny.png": reference_png(executed)})
    assert code == 0, out


def test_changed_number_fails_naming_page_and_cell(tmp_path, executed):
    nb = nbformat.from_dict(executed)
    nb.cells[0].outputs[0]["text"] = "43\n"
    code, out = run_check(tmp_path, nb, {"fig-tiny.png": reference_png(executed)})
    assert code != 0 and "chapters/tiny.ipynb::Cell 0" in out and "Cell outputs differ" in out


def test_changed_reference_figure_fails_naming_page_cell_and_figure(tmp_path, executed):
    other = nbformat.from_dict(executed)
    other.cells[1].source = PLOT.replace("[0, 1, 4]", "[4, 1, 0]")
    NotebookClient(other, kernel_name="python3").execute()
    code, out = run_check(tmp_path, executed, {"fig-tiny.png": reference_png(other)})
    assert code != 0 and "chapters/tiny.ipynb, cell 1: figure 'fig-tiny.png' differs" in out


def test_figure_without_reference_fails(tmp_path, executed):
    code, out = run_check(tmp_path, executed, {})
    assert code != 0 and "has no reference image" in out


def test_reference_that_is_not_drawn_fails(tmp_path, executed):
    references = {"fig-tiny.png": reference_png(executed), "fig-gone.png": reference_png(executed)}
    code, out = run_check(tmp_path, executed, references)
    assert code != 0 and "fig-gone.png was not drawn" in out


def test_phone_rendition_is_compared_with_its_own_reference(tmp_path):
    """A figure drawn with the helpers' set-up carries a phone rendition, checked as `<name>.phone.png`."""
    from book_layout import notebook_figures
    wide = PLOT.replace("figsize=(3, 2), dpi=100", "figsize=(7.5, 2)")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from hierarchical_helpers import setup_page\nsetup_page()"),
                nbformat.v4.new_code_cell(wide)]
    nb.cells[1].metadata["mystnb"] = {"figure": {"name": "fig-wide", "caption": "c"}, "image": {"alt": "a"}}
    NotebookClient(nb, kernel_name="python3").execute()
    references = notebook_figures(nb)
    assert sorted(references) == ["fig-wide.phone.png", "fig-wide.png"]
    code, out = run_check(tmp_path, nb, references)
    assert code == 0, out
    other = nbformat.from_dict(nb)
    other.cells[1].source = wide.replace("[0, 1, 4]", "[4, 1, 0]")
    NotebookClient(other, kernel_name="python3").execute()
    changed = dict(references, **{"fig-wide.phone.png": notebook_figures(other)["fig-wide.phone.png"]})
    code, out = run_check(tmp_path / "changed", nb, changed)
    assert code != 0 and "figure 'fig-wide.phone.png' differs" in out and "figure 'fig-wide.png' differs" not in out
