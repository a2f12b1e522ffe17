"""A student notebook downloaded on its own checks itself: its public checks travel in its metadata.

The student notebook (tools/student_materials.py), and the reader notebook made from it that the
student website offers as the exercise's download (tools/reader_notebooks.py), carry its public
checks in otter-grader's notebook-metadata format. Copied into an empty folder (no tests/ beside it, as after a download
from the website), with the answer key's solutions in its answer cells, it runs top to bottom in
Binder's runtime environment (tests/reader_environments.py) and every `grader.check` finds its
checks and passes.
"""
from __future__ import annotations

import copy
import json
import re

import jupytext
import nbformat
import pytest

from book_layout import ROOT, exercise_sources
import student_materials

EXERCISE = "shrinkage-arithmetic"  # the quickest exercise to run (8 s)


def _public_check_files(name: str) -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted((ROOT / "exercises" / "tests" / name).glob("q*.py"))}


@pytest.mark.parametrize("source", exercise_sources(), ids=lambda s: s.stem)
def test_the_student_notebook_carries_its_public_checks_and_no_hidden_one(source):
    nb = jupytext.read(source)
    questions = student_materials.tests_by_question(nb)
    public = sorted(q for q, cases in questions.items() if any(not c.metadata.get("hidden") for c in cases))
    student = student_materials.student_notebook(nb, source.stem, [f"{q}.py" for q in public])
    embedded = student.metadata["otter"]
    assert embedded["OK_FORMAT"] is False
    assert sorted(embedded["tests"]) == public
    hidden = [c.source.strip() for cases in questions.values() for c in cases if c.metadata.get("hidden")]
    for question, text in embedded["tests"].items():
        assert "hidden=True" not in text and not [h for h in hidden if h in text], question
    # The committed student notebook was generated with its checks, the same text as the files.
    committed = json.loads(source.with_suffix(".ipynb").read_text())["metadata"].get("otter", {})
    assert committed.get("tests") == _public_check_files(source.stem), \
        f"exercises/{source.stem}.ipynb does not carry its public checks: run `make exercises`"


def _answers(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "answer" in c.metadata.get("tags", [])]


@pytest.mark.slow
@pytest.mark.parametrize("download", ["student notebook", "student edition's reader notebook"])
def test_a_downloaded_student_notebook_finds_its_checks_in_an_empty_folder(tmp_path, request, download):
    """The committed student notebook, and what the student website's download button offers for
    the exercise: its reader notebook (tools/reader_notebooks.py), the same cells and checks with
    plain-Markdown prose."""
    from reader_environments import binder_environment, execute_with_kernel

    if download == "student notebook":
        offered = ROOT / "exercises" / f"{EXERCISE}.ipynb"
    else:
        offered = request.getfixturevalue("built_student_site") / "_sources" / "exercises" / f"{EXERCISE}.ipynb"
        assert "reader_notebook" in nbformat.read(offered, as_version=4).metadata, "not a reader notebook"
    student = nbformat.read(offered, as_version=4)
    key = nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)
    solutions = [c.source for c in key.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    answered = copy.deepcopy(student)
    assert len(_answers(answered)) == len(solutions), "answer cells and the key's solutions do not pair up"
    for cell, solution in zip(_answers(answered), solutions):
        cell.source = solution
    folder = tmp_path / "Downloads"
    folder.mkdir()
    nbformat.write(answered, folder / f"{EXERCISE}.ipynb")
    assert sorted(p.name for p in folder.iterdir()) == [f"{EXERCISE}.ipynb"]

    python = binder_environment()
    run = nbformat.read(folder / f"{EXERCISE}.ipynb", as_version=4)
    execute_with_kernel(run, python, "binder-download", folder,
                        {"OPENBLAS_NUM_THREADS": "1", "HOME": str(tmp_path)}, timeout=600)

    checks = [c for c in run.cells if c.cell_type == "code" and re.search(r"grader\.check\(", c.source)]
    assert checks, f"{EXERCISE} has no check cell"
    expected = sorted(_public_check_files(EXERCISE))
    ran = sorted(re.search(r'grader\.check\("(\w+)"\)', c.source).group(1) for c in checks)
    assert ran == expected, (ran, expected)
    for cell in checks:
        text = "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.outputs)
        question = re.search(r'grader\.check\("(\w+)"\)', cell.source).group(1)
        assert f"{question} passed" in text or f"{question} results: All test cases passed" in text, \
            f"grader.check({question!r}) in a downloaded notebook: {text[:500]}"
    # Nothing was written beside it but what otter writes for itself (its log), and no tests/ folder.
    assert not (folder / "tests").exists()
