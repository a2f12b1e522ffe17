"""Executing the notebooks (tools/execute_notebooks.py): answer keys are written only when their checks pass."""
import nbformat
import pytest

from book_layout import ROOT, exercise_sources
from execute_notebooks import failed_checks

SOURCES = exercise_sources()


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_answer_key_passes_every_check(source):
    """The committed answer key ran every check, hidden ones included, and none failed."""
    key = nbformat.read(ROOT / "solutions" / f"{source.stem}.ipynb", as_version=4)
    checks = [c for c in key.cells if c.cell_type == "code" and "check" in c.metadata.get("tags", [])]
    assert checks and all(c.outputs for c in checks), f"{source.stem}: the answer key has unexecuted checks"
    failures = failed_checks(key)
    assert not failures, f"{source.stem}: run `make notebooks PAGES=exercises/{source.stem}.md`\n" + "\n".join(failures)


def test_a_failed_check_is_found_in_the_output():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('grader.check("q1")', metadata={"tags": ["check"]})
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "q1 results:\n  Test case failed"})]
    nb.cells = [cell]
    assert failed_checks(nb) and not failed_checks(nbformat.v4.new_notebook())
