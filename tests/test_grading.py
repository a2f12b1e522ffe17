"""The autograder on a folder of real submitted notebooks: good, partial and broken ones."""
import copy
import csv
import subprocess
import sys

import nbformat
import pytest

from book_layout import ROOT

EXERCISE = "shrinkage-arithmetic"
TIMEOUT = 25  # seconds per submission in this test; the endless loop must hit it


def _answers(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "answer" in c.metadata.get("tags", [])]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Write one notebook per case, as a student would submit it, and grade the folder."""
    student = nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)
    key = nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)
    solutions = [c.source for c in key.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]

    def submission(answered=None):
        nb = copy.deepcopy(student)
        for number, cell in enumerate(_answers(nb)):
            if answered is None or number in answered:
                cell.source = solutions[number]
        return nb

    folder = tmp_path_factory.mktemp("submissions")
    nbformat.write(submission(), folder / "correct.ipynb")
    nbformat.write(submission(answered={0, 1, 2}), folder / "partly-correct.ipynb")
    raises = submission()
    _answers(raises)[1].source = "raise ValueError('I give up')"
    nbformat.write(raises, folder / "raises.ipynb")
    loops = submission()
    _answers(loops)[2].source = "while True:\n    pass"
    nbformat.write(loops, folder / "loops-forever.ipynb")
    syntax = submission()
    _answers(syntax)[3].source = "posterior_means = (1 +"
    nbformat.write(syntax, folder / "syntax-error.ipynb")
    missing = submission(answered={0, 1, 2, 3, 4})
    nbformat.write(missing, folder / "missing-answer.ipynb")
    no_checks = submission()
    no_checks.cells = [c for c in no_checks.cells if "check" not in c.metadata.get("tags", [])]
    nbformat.write(no_checks, folder / "deleted-checks.ipynb")
    edited = submission()
    next(c for c in edited.cells if "check" in c.metadata.get("tags", [])).source = "print('checked!')"
    nbformat.write(edited, folder / "edited-checks.ipynb")
    loud = submission()
    loud.cells[4].source += "\nfor _ in range(100_000):\n    print('x' * 60)"
    nbformat.write(loud, folder / "prints-megabytes.ipynb")
    (folder / "not-a-notebook.ipynb").write_text('{"cells": [ this is not json')

    out = folder.parent / "scores.csv"
    run = [sys.executable, str(ROOT / "tools" / "grade.py"), EXERCISE, str(folder),
           "--out", str(out), "--timeout", str(TIMEOUT)]
    first = subprocess.run(run, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = subprocess.run(run, capture_output=True, text=True)
    with open(out, newline="") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    return rows, second


def test_every_submission_has_a_row(graded):
    rows, _ = graded
    assert len(rows) == 11  # ten submissions and the points-possible row
    assert float(rows["(points possible)"]["total"]) == 19


def test_correct_and_partly_correct_scores(graded):
    rows, _ = graded
    assert float(rows["correct.ipynb"]["total"]) == 19 and rows["correct.ipynb"]["message"] == "all checks passed"
    partly = rows["partly-correct.ipynb"]
    assert [float(partly[q]) for q in ["q1", "q2", "q3", "q4", "q5", "q6"]] == [4, 3, 3, 0, 0, 0]
    assert "not answered yet" in partly["message"]


def test_missing_answer_loses_only_that_question(graded):
    row = graded[0]["missing-answer.ipynb"]
    assert float(row["q6"]) == 0 and float(row["total"]) == 16
    assert "q6: not answered yet" in row["message"]


def test_a_raising_cell_is_reported_and_the_rest_graded(graded):
    row = graded[0]["raises.ipynb"]
    assert float(row["q2"]) == 0 and float(row["total"]) == 16
    assert "raised ValueError: I give up" in row["message"]


def test_an_endless_loop_is_stopped(graded):
    row = graded[0]["loops-forever.ipynb"]
    assert row["status"] == "not graded" and f"stopped after {TIMEOUT} s" in row["message"]


def test_a_syntax_error_is_reported(graded):
    row = graded[0]["syntax-error.ipynb"]
    assert "syntax error" in row["message"] and float(row["q4"]) == 0 and float(row["q1"]) == 4


def test_deleted_or_edited_checks_are_graded_with_the_originals(graded):
    for name in ["deleted-checks.ipynb", "edited-checks.ipynb"]:
        row = graded[0][name]
        assert float(row["total"]) == 19 and "deleted or changed" in row["message"]


def test_megabytes_of_output_do_not_break_grading(graded):
    assert float(graded[0]["prints-megabytes.ipynb"]["total"]) == 19


def test_an_invalid_file_gets_a_clear_message(graded):
    row = graded[0]["not-a-notebook.ipynb"]
    assert row["status"] == "not graded" and "not a valid Jupyter notebook" in row["message"]


def test_a_second_run_keeps_what_was_graded(graded):
    _, second = graded
    assert second.returncode == 0
    assert second.stdout.count("already graded, skipped") == 10
