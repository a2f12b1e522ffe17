"""The grader's own logic, without a sandbox: reading and analysing hostile files under limits,
names and output made inert for a terminal and a spreadsheet, and each question graded on the
answers captured when its check ran."""
from __future__ import annotations

import csv
import json
import os
import time

import pytest

from book_layout import ROOT
from grader import checks, grade, limits

EXERCISE = "shrinkage-arithmetic"


def notebook(*sources: str) -> str:
    """A notebook's JSON, written directly (nbformat validates each cell: minutes for 200,000)."""
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source} for i, source in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_an_honest_notebook_is_read_and_analysed(tmp_path):
    path = tmp_path / "honest.ipynb"
    path.write_text(notebook("import numpy as np\nx = 1", "!pip list\ny, z = 2, 3\n%time w = 4", "oops = (1 +"))
    nb, cells = grade.prepare(path)
    assert [c.cell_type for c in nb.cells] == ["code"] * 3
    assert [sorted(c.defines) for c in cells] == [["np", "x"], ["y", "z"], ["oops"]]  # %time runs w = 4 later
    assert [c.syntax_error for c in cells] == [False, False, True]


@pytest.mark.parametrize("case, sources", [
    ("501 escapes", ["!true\n" * 501 + "x = 1"]),  # IPython's transformer raised RuntimeError
    # 499 escapes in 120 kB: IPython re-reads the cell once per escape
    ("slow analysis", ["!true\n" * 499 + "a = 1\n" * 20_000]),
])
def test_cells_full_of_escapes_are_analysed_in_seconds(tmp_path, case, sources):
    path = tmp_path / "escapes.ipynb"
    path.write_text(notebook(*sources, "y = 2"))
    started = time.monotonic()
    nb, cells = grade.prepare(path)
    assert time.monotonic() - started < 30, case
    assert "x" in cells[0].defines or "a" in cells[0].defines
    assert not cells[0].syntax_error and cells[1].defines == {"y"}


def test_past_the_caps_a_clear_final_row(tmp_path):
    many = tmp_path / "many.ipynb"
    many.write_text(notebook(*["x = 1"] * 200_000))  # 22 MB: 78 s and 790 MB to parse before
    large = tmp_path / "large.ipynb"  # the 0.8 MB cell of 499 escapes that took 16 minutes before
    large.write_text(notebook("!true\n" * 499 + "a = 1\n" * 50_000))
    grader = grade.Grader.__new__(grade.Grader)  # only what `grade` needs before the sandbox
    grader.questions = ["q1"]
    for path, reason in ((many, f"it has more than {limits.MAX_CELLS} cells"),
                         (large, f"a cell has more than {limits.MAX_CELL_CHARS} characters")):
        started = time.monotonic()
        graded = grader.grade(path)
        assert time.monotonic() - started < 30
        assert graded.status == grade.NOT_GRADED and graded.total == 0
        assert graded.message == grade.message("not analysed", reason=reason)


def test_a_slow_or_failing_analysis_is_a_row_retried_once(tmp_path, monkeypatch):
    path = tmp_path / "slow.ipynb"
    path.write_text(notebook("x = 1"))
    monkeypatch.setattr(limits, "ANALYSIS_SECONDS", 0.01)
    with pytest.raises(grade.NotAnalysed, match="time"):
        grade.prepare(path)
    monkeypatch.setattr(limits, "ANALYSIS_SECONDS", 60)
    monkeypatch.setattr(limits, "ANALYSIS_MEMORY", 64 << 20)  # too little to start Python's imports
    with pytest.raises(grade.NotAnalysed, match="failed"):
        grade.prepare(path)
    assert grade.NOT_ANALYSED in grade.TRANSIENT


def test_invalid_files_are_not_notebooks(tmp_path):
    for name, content in [("a", b"{"), ("b", b"[" * 100_000), ("c", b'{"a": 1}'), ("d", bytes(range(256)))]:
        (tmp_path / name).write_bytes(content)
        assert grade.prepare(tmp_path / name) is None, name


NAMES = ["clear\x1b[2J.ipynb", "title\x1b]0;owned\x07.ipynb", "new\nline.ipynb", "carriage\rreturn.ipynb",
         os.fsdecode(b"latin-\xe9t\xe9.ipynb"), "(points possible)", "(points possible).ipynb",
         "=HYPERLINK(1).ipynb", "'=HYPERLINK(1).ipynb", "back\\x1b.ipynb", "rtl\u202egnp.ipynb", "plain ünï.ipynb"]


def test_names_are_inert_and_unambiguous():
    shown = [grade.display_name(name) for name in NAMES]
    assert len(set(shown)) == len(NAMES), "two names print alike"
    for text in shown:
        assert text.isprintable(), text
        assert text != grade.POINTS_ROW and text[:1] not in "=+-@"
    assert grade.display_name("plain ünï.ipynb") == "plain ünï.ipynb"
    assert grade.display_name("(points possible)") == "'(points possible)"


def test_output_reaching_the_console_is_inert():
    forged = "\x1b]52;c;Y2xpcGJvYXJk\x07\x1b[2J\r60-ansi.ipynb: 19 points\x1b[0m\x9b\n next line"
    text = grade.inert(forged, keep_newlines=True)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\x9b" not in text
    assert text.splitlines()[1] == " next line" and text.startswith("\\x1b]52;c;")


def test_the_table_keeps_one_row_per_file_across_runs(tmp_path):
    """Rows are keyed by the shown name: a second run finds every row again, the points row
    stays first and alone, and a file named like it is another row."""
    out = tmp_path / "scores.csv"
    columns = ["submission", "q1", "total", "status", "message"]
    rows = {grade.display_name(n): {"submission": grade.display_name(n), "q1": "1", "total": "1",
                                    "status": "graded", "message": "all checks passed"} for n in NAMES}
    grade.write_table(out, columns, {"q1": 1.0}, rows)
    again = grade.read_table(out, columns)
    assert sorted(again) == sorted(rows)
    assert all(grade.display_name(n) in again for n in NAMES)
    with open(out, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert [row[0] for row in table].count(grade.POINTS_ROW) == 1 and table[1][0] == grade.POINTS_ROW
    assert len(table) == 2 + len(NAMES) and "\x1b" not in out.read_text() and "\r" not in out.read_text()


def test_each_question_is_checked_on_its_own_snapshot():
    """A later cell that reuses a name changes the final state, not the answer a question's check
    saw; a question whose check never ran is graded on the final state."""
    exercise = grade.Exercise.from_book(EXERCISE, ROOT)
    snapshot = json.dumps({"format": 1, "answers": {"choate_reduction_percent": {"kind": "float", "value": "90.0"}}})
    final = json.dumps({"format": 1, "answers": {"choate_reduction_percent": {"kind": "str", "value": "a label"}}})
    on_snapshot = checks.run_checks(final, str(exercise.checks), str(exercise.public_checks), {"q5": snapshot})
    on_final = checks.run_checks(final, str(exercise.checks), str(exercise.public_checks), {})
    q5 = [c for c in on_snapshot if c["question"] == "q5"]
    assert q5 and all(c["passed"] for c in q5) and q5[0]["question_score"] == q5[0]["question_possible"]
    assert not any(c["passed"] for c in on_final if c["question"] == "q5")
    assert exercise.question_variables()["q5"] == ["choate_reduction_percent"]
