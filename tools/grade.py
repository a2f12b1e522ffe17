"""Grade a folder of submitted notebooks for one exercise, with otter-grader, into a score table.

Usage: python tools/grade.py EXERCISE SUBMISSIONS_DIR [--out scores.csv] [--timeout SECONDS] [--fresh]
       (or `make grade EXERCISE=shrinkage-arithmetic SUBMISSIONS=path/to/folder`)

Every file in SUBMISSIONS_DIR gets one row: points per question, total, and a message in plain
words. Each submission is graded by `otter run` (no Docker) in its own process group with a time
limit, so a notebook that loops forever, crashes the kernel or prints megabytes cannot stop the
batch. Rows are appended to the CSV as they are produced; running the command again skips the
submissions already in it (use --fresh to regrade all), so an interrupted batch loses nothing.

The autograder zip holds solutions' hidden checks: it is written under _build/ and must never be
given to students.
"""
import argparse
import ast
import csv
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT  # noqa: E402

DEFAULT_TIMEOUT = 300  # seconds per submission; the slowest answer key runs in well under a minute
LOG_TAIL = 4000  # characters of a submission's grading log kept for the message


def build_autograder(exercise: str) -> Path:
    tests = ROOT / "solutions" / "tests" / exercise
    if not tests.is_dir():
        known = sorted(p.name for p in (ROOT / "solutions" / "tests").iterdir() if p.is_dir())
        raise SystemExit(f"Unknown exercise '{exercise}'. Exercises: {', '.join(known)}. "
                         "If you edited an exercise, run `make exercises` first.")
    target = ROOT / "_build" / "autograder" / exercise
    target.mkdir(parents=True, exist_ok=True)
    zip_path = target / "autograder.zip"
    config = target / "otter_config.json"
    # The grader fixes the global random seed before every cell, so answers that forget a seed
    # are still graded reproducibly.
    config.write_text('{"seed": 20261122}\n')
    subprocess.run(
        [sys.executable, "-m", "otter", "generate", "-t", str(tests), "-o", str(zip_path),
         "-c", str(config), "--no-requirements", "--no-environment"],
        check=True, capture_output=True, cwd=target,
    )
    return zip_path


def question_names(exercise: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / "solutions" / "tests" / exercise).glob("q*.py"))


def template_checks(exercise: str) -> list[str]:
    template = nbformat.read(ROOT / "exercises" / f"{exercise}.ipynb", as_version=4)
    return [c.source.strip() for c in template.cells if "check" in c.metadata.get("tags", [])]


def syntax_problems(nb) -> list[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    transformer = TransformerManager()
    problems = []
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        try:
            ast.parse(transformer.transform_cell(cell.source))
        except SyntaxError as error:
            problems.append(f"code cell {number + 1} has a syntax error on its line {error.lineno} "
                            f"({error.msg}), so nothing in it ran")
    return problems


def run_otter(submission: Path, autograder: Path, timeout: int, workdir: Path):
    """Run `otter run` on one submission. Returns (results or None, problem message or None)."""
    log_path = workdir / "otter.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "otter", "run", "-a", str(autograder), "-o", str(workdir),
             "--no-logo", "-p", str(submission)],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the kernel too: it is in the same group
            process.wait()
            return None, (f"Grading stopped after {timeout} s: the notebook did not finish. Look for a "
                          "loop that never ends or a computation that takes far too long.")
    pickled = workdir / "results.pkl"
    if process.returncode != 0 or not pickled.exists():
        tail = log_path.read_bytes()[-LOG_TAIL:].decode(errors="replace").strip().splitlines()
        reason = tail[-1] if tail else "no output"
        return None, f"The grader could not run this notebook ({reason})."
    with open(pickled, "rb") as f:
        return pickle.load(f), None


def _student_lines(source: str) -> list[str]:
    """A cell's lines without the seeding lines otter inserts before grading it."""
    return [line for line in source.strip().splitlines()
            if line.strip() and not re.search(r"\b(np|rand)_\w+\b", line)]


def cell_errors(results) -> list[str]:
    """Errors raised by the submission's own cells, from the notebook otter executed."""
    errors = []
    notebook = getattr(results, "notebook", None)
    for cell in (notebook.cells if notebook is not None else []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                lines = _student_lines(cell.source)
                first_line = lines[0] if lines else ""
                errors.append(f"the cell starting `{first_line[:60]}` raised {output['ename']}: "
                              f"{str(output['evalue'])[:120]}")
    return errors


def failed_check_messages(results, question: str) -> list[str]:
    """Plain-language reasons from the public checks of a question; hidden ones stay hidden."""
    messages = []
    test_file = results.results.get(question)
    for case_result in (test_file.test_case_results if test_file is not None else []):
        if case_result.passed:
            continue
        if case_result.test_case.hidden:
            messages.append("a hidden check failed")
            continue
        last = case_result.message.strip().splitlines()[-1] if case_result.message.strip() else ""
        if "ellipsis" in last:
            messages.append("not answered yet (the answer is still `...`)")
        elif last.rstrip(":").endswith("Error"):
            messages.append(f"a check failed ({last.rstrip(':')})")
        else:
            messages.append(last)
    return messages


def grade_one(submission: Path, exercise: str, autograder: Path, questions: list[str], timeout: int) -> dict:
    row = {"submission": submission.name, **{q: 0.0 for q in questions}, "total": 0.0,
           "status": "not graded", "message": ""}
    try:
        nb = nbformat.read(submission, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # any unreadable file: wrong format, truncated, not JSON
        row["message"] = (f"This file is not a valid Jupyter notebook ({type(error).__name__}). Download the "
                          "notebook again with File > Download (.ipynb) and resubmit it.")
        return row
    notes = syntax_problems(nb)
    submitted_checks = {c.source.strip() for c in nb.cells if c.cell_type == "code"}
    if any(check not in submitted_checks for check in template_checks(exercise)):
        notes.append("some check cells were deleted or changed; the original checks were used for grading")
    with tempfile.TemporaryDirectory() as workdir:
        results, problem = run_otter(submission, autograder, timeout, Path(workdir))
    if problem:
        row["message"] = "; ".join([problem, *notes])
        return row
    notes = cell_errors(results) + notes
    for question in questions:
        row[question] = float(results.get_score(question))
        failures = failed_check_messages(results, question)
        if failures:
            notes.append(f"{question}: " + "; ".join(dict.fromkeys(failures)))
    row["total"] = sum(row[q] for q in questions)
    row["status"] = "graded"
    row["message"] = "; ".join(notes) if notes else "all checks passed"
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exercise")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="CSV file (default: SUBMISSIONS/../scores-EXERCISE.csv)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds allowed per submission")
    parser.add_argument("--fresh", action="store_true", help="regrade submissions already in the CSV")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        raise SystemExit(f"{args.submissions} is not a folder of submitted notebooks.")
    out = args.out or args.submissions.parent / f"scores-{args.exercise}.csv"
    autograder = build_autograder(args.exercise)
    questions = question_names(args.exercise)
    max_points = {q: float(ns) for q, ns in ((q, _question_points(args.exercise, q)) for q in questions)}
    columns = ["submission", *questions, "total", "status", "message"]

    done = set()
    if out.exists() and not args.fresh:
        with open(out, newline="") as f:
            done = {row["submission"] for row in csv.DictReader(f)}
    elif out.exists():
        out.unlink()
    new_file = not out.exists()
    submissions = sorted(p for p in args.submissions.iterdir() if p.is_file() and not p.name.startswith("."))
    with open(out, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new_file:
            writer.writeheader()
            writer.writerow({"submission": "(points possible)", **max_points,
                             "total": sum(max_points.values()), "status": "", "message": ""})
        for submission in submissions:
            if submission.name in done:
                print(f"{submission.name}: already graded, skipped")
                continue
            row = grade_one(submission, args.exercise, autograder, questions, args.timeout)
            writer.writerow(row)
            f.flush()  # a row on disk is never lost, even if the batch is interrupted
            print(f"{submission.name}: {row['total']:g} points, {row['message']}")
    print(f"Scores written to {out}")
    return 0


def _question_points(exercise: str, question: str) -> float:
    namespace = {}
    source = (ROOT / "solutions" / "tests" / exercise / f"{question}.py").read_text()
    for line in source.splitlines():
        if line.startswith("points = "):
            exec(line, namespace)  # noqa: S102 - our own generated file
    return namespace.get("points", 0)


if __name__ == "__main__":
    sys.exit(main())
