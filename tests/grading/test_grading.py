"""The grader on one folder of real notebook files: honest, broken, hostile and invalid submissions.

Every submission is built from the student notebook and the answer key of one exercise, the way
a student would hand it in. The folder is graded twice by `book-grade grade` (grader/) as an instructor runs
it (two at a time, short time limit), and the tests then check each row, that no cheat raised a
score, that nothing outside the sandboxes changed, and that no process outlived the grading.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import os
import random
import re
import string
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from book_layout import ROOT
import published

pytestmark = pytest.mark.slow  # grades notebooks in sandboxes

EXERCISE = "shrinkage-arithmetic"
TIMEOUT = 40  # seconds per submission here; an honest one takes about 10 s on two busy cores
QUESTIONS = ["q1", "q2", "q3", "q4", "q5", "q6"]
FULL = 19
SANDBOX_UID = random.Random().randrange(65100, 65400)  # this run's own users: its leftovers are findable
MARKER = f"grading-test-{os.getpid()}-{SANDBOX_UID}"


def _answers(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "answer" in c.metadata.get("tags", [])]


def answer(nb, question: str):
    """The answer cell a question's check follows: the last answer cell before `grader.check("qN")`."""
    found = None
    for cell in nb.cells:
        if cell.cell_type == "code" and "answer" in cell.metadata.get("tags", []):
            found = cell
        if cell.cell_type == "code" and f'grader.check("{question}")' in cell.source:
            return found
    raise LookupError(question)


def where(nb_path: Path, question: str | None = None, source: str | None = None) -> str:
    """How the grader names a cell of a submitted notebook: its number among code cells and the
    question prompt above it."""
    nb = nbformat.read(nb_path, as_version=4)
    target = answer(nb, question) if question else next(c for c in nb.cells if c.source == source)
    number, prompt = 0, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"\*\*Question\s+(\d+)", cell.source)
            prompt = f"Question {found.group(1)}" if found else prompt
        elif cell.cell_type == "code":
            number += 1
            if cell is target:
                return f"code cell {number}" + (f" (under {prompt})" if prompt else "")
    raise LookupError(question or source)


def _insert_after_setup(nb, source):
    """A new code cell right after the notebook's imports (before any answer)."""
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "otter.Notebook" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(source))
    return nb


def _tree_hashes(folder: Path, paths=None) -> dict[str, str]:
    paths = paths if paths is not None else [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def _processes() -> list[tuple[int, int, str]]:
    """(pid, uid, command line) of every process."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                uid = entry.stat().st_uid
                command = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found.append((int(entry.name), uid, command))
    return found


def build_submissions(folder: Path, scores_csv: Path) -> None:
    student = nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)
    key = nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)
    solutions = [c.source for c in key.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]

    assert len(solutions) == len(_answers(student)), "answer cells and solutions do not pair up"

    def submission(answered=None):
        """The student notebook with the key's solutions in the answer cells of the `answered`
        questions (every answer cell when None)."""
        nb = copy.deepcopy(student)
        chosen = None if answered is None else [answer(nb, q) for q in answered]
        for cell, solution in zip(_answers(nb), solutions):
            if chosen is None or any(cell is c for c in chosen):
                cell.source = solution
        return nb

    def write(name, nb):
        nbformat.write(nb, folder / name)

    # Honest work, including what broke the old grader.
    write("correct.ipynb", submission())
    write("partly correct.ipynb", submission(answered=["q1", "q2", "q3"]))
    write("-changes-directory.ipynb", _insert_after_setup(submission(), "import os\nos.chdir('..')"))
    shadows = submission()
    _answers(shadows)[-1].source += "\nopen = 'my own open'\njson = 'my json'\nnp = None"
    write("variable named open ünïcode.ipynb", shadows)
    write("deletes-its-tests.ipynb", _insert_after_setup(submission(), "import shutil\nshutil.rmtree('tests')"))
    anaconda = submission()
    anaconda.metadata["kernelspec"] = {"name": "conda-env-stats-py", "display_name": "Python [conda env:stats]",
                                       "language": "python"}
    write("anaconda-kernel.ipynb", anaconda)
    # Broken work.
    raises = submission()
    answer(raises, "q2").source = "raise ValueError('I give up')"
    write("raises.ipynb", raises)
    dies = submission()
    answer(dies, "q4").source = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    write("kernel-dies.ipynb", dies)
    loops = submission()
    answer(loops, "q3").source = "while True:\n    pass"
    write("loops-forever.ipynb", loops)
    syntax = submission()
    answer(syntax, "q4").source = "posterior_means = (1 +"
    write("syntax-error.ipynb", syntax)
    write("missing-answer.ipynb", submission(answered=["q1", "q2", "q3", "q4", "q5"]))
    retyped = submission()  # right values, but two answers, when checked, of types the checks cannot use
    for question, retype, restore in [
            ("q1", "kept = shrinkage_factors\nshrinkage_factors = shrinkage_factors.to_numpy()", "shrinkage_factors = kept"),
            ("q3", "kept = shrunk_estimates\nshrunk_estimates = lambda: None", "shrunk_estimates = kept")]:
        answer(retyped, question).source += "\n" + retype
        check = next(i for i, c in enumerate(retyped.cells) if f'grader.check("{question}")' in c.source)
        retyped.cells.insert(check + 1, nbformat.v4.new_code_cell(restore))  # later questions use them
    write("wrong-types.ipynb", retyped)
    # Each question is graded on its answers when its check ran: later cells reusing names change nothing.
    reuses = submission()
    reuses.cells.append(nbformat.v4.new_code_cell(
        "shrinkage_factors = 'a label'\nposterior_means = None\nchoate_reduction_percent = 'for the plot'"))
    write("reuses-names-later.ipynb", reuses)
    # Runs independent of each other: a blocked export path and one giant answer cost nothing else.
    blocks = submission()
    answer(blocks, "q4").source = "import os\nos.makedirs('/tmp/grader-answers.json/x', exist_ok=True)\nos._exit(1)"
    write("blocks-its-export.ipynb", blocks)
    giant = submission()
    answer(giant, "q6").source += "\nninth_estimate = __import__('numpy').zeros(20_000_000)"
    write("giant-array.ipynb", giant)
    write("shared-memory-hog.ipynb", _insert_after_setup(submission(), SHARED_MEMORY_HOG))
    # Output and names a terminal or a spreadsheet would interpret.
    write("prints-escapes.ipynb", _insert_after_setup(submission(), f"print({FORGED!r})\nimport os\nos.write(2, {FORGED.encode()!r})"))
    write("forges-a-line.ipynb", _insert_after_setup(submission(), FORGES_A_LINE))
    write("esc\x1b[2J title\x1b]0;owned\x07.ipynb", submission())
    for name in ["new\nline.ipynb", os.fsdecode(b"latin-\xe9t\xe9.ipynb"), "(points possible)", "(points possible).ipynb"]:
        (folder / name).write_text('{"cells": [ not json')
    edited = submission()
    checks = [c for c in edited.cells if "check" in c.metadata.get("tags", [])]
    checks[0].source = "print('checked!')"
    edited.cells = [c for c in edited.cells if c is not checks[1]]
    write("edited-checks.ipynb", edited)
    loud = submission()
    answer(loud, "q1").source += "\nfor _ in range(100_000):\n    print('x' * 60)"
    write("prints-megabytes.ipynb", loud)
    write("memory-bomb.ipynb", _insert_after_setup(submission(), MEMORY_BOMB))
    write("fork-bomb.ipynb", _insert_after_setup(submission(), FORK_BOMB))
    write("writes-outside.ipynb", _insert_after_setup(submission(), WRITES_OUTSIDE.format(
        root=str(ROOT), folder=str(folder), csv=str(scores_csv), marker=MARKER)))
    # Cheats: each starts from answers that earn little, so a cheat that worked would show.
    write("reads-the-answer-key.ipynb", _insert_after_setup(submission(answered=set()), READS_KEY.format(
        root=str(ROOT), folder=str(folder))))
    write("patches-otter.ipynb", _insert_after_setup(submission(answered=set()), PATCHES_OTTER))
    comparisons = _insert_after_setup(submission(answered=["q1", "q2", "q3"]), PATCHES_COMPARISONS)
    answer(comparisons, "q5").source = "choate_reduction_percent = 50.0"
    answer(comparisons, "q6").source = "ninth_shrinkage = 0.5\nninth_estimate = 10.0"
    write("patches-comparisons.ipynb", comparisons)
    write("rewrites-checks.ipynb", _insert_after_setup(submission(answered=set()), REWRITES_CHECKS.format(
        root=str(ROOT))))
    write("background-process.ipynb", _insert_after_setup(submission(), BACKGROUND.format(
        csv=str(scores_csv), marker=MARKER)))
    # Not notebooks, and names a folder of downloads can have.
    (folder / "not-json.ipynb").write_text('{"cells": [ this is not json')
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "binary.ipynb").write_bytes(bytes(range(256)) * 64)
    (folder / "json-not-a-notebook.ipynb").write_text('{"a": 1}')
    write(".hidden-copy.ipynb", submission())
    (folder / "a subfolder").mkdir()
    write("a subfolder/correct.ipynb", submission())
    (folder / "link-to-the-key.ipynb").symlink_to(ROOT / "solutions" / f"{EXERCISE}.ipynb")


MEMORY_BOMB = "big = bytearray(6 * 1024**3)"

SHARED_MEMORY_HOG = """\
import ctypes, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
for _ in range(3):  # three 2 GiB System V segments, touched and detached
    shmid = libc.shmget(0, 2 * 1024**3, 0o1600)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        ctypes.memset(address, 1, 2 * 1024**3)
        libc.shmdt(ctypes.c_void_p(address))
for _ in range(24):  # 24 memfd files of 256 MiB
    fd = os.memfd_create("hog")
    os.ftruncate(fd, 256 * 2**20)
    with mmap.mmap(fd, 256 * 2**20) as view:
        view[::4096] = b"x" * len(view[::4096])
"""

# Clipboard write (OSC 52), window title, bell, clear screen, and a line in the grader's own form.
FORGED = ("\x1b]52;c;Zm9yZ2Vk\x07\x1b]0;owned\x07\x07\x1b[2J\x1b[H\r"
          "\x1b[32m60-ansi.ipynb: 19 points, graded: all checks passed\x1b[0m\n")

FORGES_A_LINE = f"""\
import os, time
os.write(2, {FORGED.encode()!r})
time.sleep(2)  # let the runner read the line into its log before it dies (else a race decides)
os.kill(os.getppid(), 9)  # the runner: no report, so the grader prints the end of its log
"""

FORK_BOMB = """\
import os, time
first = os.getpid()
for _ in range(64):  # every process forks again: 2**64 processes without a limit
    try:
        os.fork()
    except OSError:
        break
if os.getpid() != first:
    time.sleep(3600)  # every copy waits, holding its place, until the grader ends it
    os._exit(0)
"""

WRITES_OUTSIDE = """\
import os, pathlib
attempts = {{
    "{root}/README.md": "overwritten",
    "{root}/solutions/{marker}": "new file in the repository",
    "{folder}/correct.ipynb": "overwritten classmate",
    "{folder}/dropped-{marker}.ipynb": "{{}}",
    "{csv}": "forged scores",
    "/tmp/{marker}": "x",
    os.path.expanduser("~/../{marker}"): "x",
    "/root/{marker}": "x",
    "/{marker}": "x",
}}
for path, text in attempts.items():
    try:
        pathlib.Path(path).write_text(text)
    except OSError:
        pass
"""

READS_KEY = """\
import json, os
found = []
for top in ["{root}", "{folder}", "/"]:
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = [s for s in subfolders if s not in ("proc", "dev", "usr", "sys", ".pyenv", "lib")]
        found += [os.path.join(folder, f) for f in files if f.endswith((".ipynb", ".py", ".csv"))]
for path in found:
    try:
        text = open(path).read()
        if "hidden=True" in text:
            exec(text)  # a hidden check file: its values would be the answers
        for cell in json.loads(text).get("cells", []):
            if "solution" in cell["metadata"].get("tags", []):
                exec("".join(cell["source"]))
    except Exception:
        pass
"""

PATCHES_OTTER = """\
import otter
import otter.test_files.abstract_test as abstract
from otter.test_files import ExceptionTestFile
abstract.TestFile.score = property(lambda self: 1000)
abstract.TestFile.grade = property(lambda self: 1.0)
abstract.TestFile.passed_all = property(lambda self: True)
ExceptionTestFile.run = lambda self, env: None
otter.Notebook.check = lambda self, *args, **kwargs: None
"""

PATCHES_COMPARISONS = """\
import builtins
import numpy
numpy.allclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0
"""

REWRITES_CHECKS = """\
import glob, os
always = 'from otter.test_files import test_case\\nOK_FORMAT = False\\nname = "{{q}}"\\npoints = 600\\n@test_case(points=600)\\ndef test_anything():\\n    pass\\n'
targets = glob.glob("tests/*/q*.py") + glob.glob("{root}/solutions/tests/*/q*.py") + glob.glob("{root}/exercises/tests/*/q*.py")
for path in targets:
    try:
        with open(path, "w") as f:
            f.write(always.replace("{{q}}", os.path.basename(path)[:-3]))
    except OSError:
        pass
"""

BACKGROUND = """\
import os, subprocess, sys
later = "import time\\ntime.sleep(3)\\nfor path in [{csv!r}, '/tmp/{marker}-late']:\\n    try:\\n        open(path, 'w').write('forged')\\n    except OSError:\\n        pass\\ntime.sleep(600)"
subprocess.Popen([sys.executable, "-c", later], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # and a classic daemon, detached twice
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", later])
    os._exit(0)
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    folder = base / "submissions"
    folder.mkdir()
    scores = base / "scores.csv"
    build_submissions(folder, scores)
    repository = _repository_files()
    before_repository = _tree_hashes(ROOT, repository)
    before_folder = _tree_hashes(folder)
    env = {**os.environ, "GRADER_SANDBOX_UID": str(SANDBOX_UID)}
    # A relative path, as an instructor types it.
    run = [str(Path(sys.executable).parent / "book-grade"), "grade", "--book", str(ROOT), EXERCISE, "submissions", "--out", str(scores),
           "--timeout", str(TIMEOUT), "--jobs", "2"]
    started = time.monotonic()
    first = subprocess.run(run, capture_output=True, text=True, cwd=base, env=env)
    first_seconds = time.monotonic() - started
    (base / "first-run.log").write_text(first.stdout + first.stderr)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    right_after = scores.read_bytes()
    time.sleep(5)  # the background processes of one submission wanted to rewrite the table by now
    after_wait = scores.read_bytes()
    started = time.monotonic()
    second = subprocess.run(run, capture_output=True, text=True, cwd=base, env=env)
    second_seconds = time.monotonic() - started
    (base / "second-run.log").write_text(second.stdout + second.stderr)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    with open(scores, newline="", encoding="utf-8") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    print(f"grading: first run {first_seconds:.0f} s, second run {second_seconds:.0f} s")
    return {
        "rows": rows, "first": first, "second": second, "folder": folder, "scores": scores,
        "right_after": right_after, "after_wait": after_wait,
        "repository_unchanged": before_repository == _tree_hashes(ROOT, repository),
        "folder_before": before_folder, "folder_after": _tree_hashes(folder),
    }


def _row(graded, name):
    return graded["rows"][name]


def _scores(row):
    return [float(row[q]) for q in QUESTIONS]


def test_every_file_has_exactly_one_row(graded):
    from grader import grade

    names = sorted(p.name for p in graded["folder"].iterdir())
    shown = sorted(grade.display_name(n) for n in names)
    assert "'-changes-directory.ipynb" in shown and "'(points possible)" in shown
    table = list(csv.reader(graded["scores"].read_text(encoding="utf-8").splitlines()))
    assert sorted(row[0] for row in table[1:]) == sorted(["(points possible)", *shown])
    assert table[1][0] == "(points possible)" and len(table) == 2 + len(names)
    assert float(_row(graded, "(points possible)")["total"]) == FULL


def test_correct_and_partly_correct_scores(graded):
    correct = _row(graded, "correct.ipynb")
    assert float(correct["total"]) == FULL and correct["message"] == "all checks passed"
    assert correct["status"] == "graded"
    partly = _row(graded, "partly correct.ipynb")
    assert _scores(partly) == [4, 3, 3, 0, 0, 0]
    assert partly["message"] == "q4: not answered yet; q5: not answered yet; q6: not answered yet"


@pytest.mark.parametrize("name", ["'-changes-directory.ipynb", "variable named open ünïcode.ipynb",
                                  "deletes-its-tests.ipynb", "anaconda-kernel.ipynb"])
def test_honest_notebooks_are_graded_right(graded, name):
    row = _row(graded, name)
    assert float(row["total"]) == FULL, row
    assert row["status"] == "graded" and row["message"] == "all checks passed"


def test_a_raising_cell_is_reported_and_the_rest_graded(graded):
    row = _row(graded, "raises.ipynb")
    assert _scores(row) == [4, 0, 3, 3, 3, 3]
    assert row["message"] == (f"{where(graded['folder'] / 'raises.ipynb', 'q2')} raised ValueError; "
                              "q2: most_shrunk is not defined")


def test_a_dying_kernel_is_reported_and_what_ran_before_is_graded(graded):
    row = _row(graded, "kernel-dies.ipynb")
    assert _scores(row) == [4, 3, 3, 0, 0, 0] and row["status"] == "graded"
    cell = where(graded["folder"] / "kernel-dies.ipynb", "q4")
    assert row["message"].startswith(f"the kernel died in {cell}, from a crash or too much memory, so the "
                                     "cells after it did not run; q4: posterior_means is not defined")


def test_an_endless_loop_is_stopped_and_what_ran_is_graded(graded):
    row = _row(graded, "loops-forever.ipynb")
    assert row["status"] == "timed out" and _scores(row) == [4, 3, 0, 0, 0, 0]
    cell = where(graded["folder"] / "loops-forever.ipynb", "q3")
    assert row["message"].startswith(f"stopped after {TIMEOUT} s in {cell}, so the cells after it did not run")
    assert "q3: shrunk_estimates is not defined" in row["message"]
    assert "q4: posterior_means was not defined before the notebook stopped" in row["message"]


def test_a_syntax_error_is_reported(graded):
    row = _row(graded, "syntax-error.ipynb")
    assert _scores(row) == [4, 3, 3, 0, 3, 3]
    cell = where(graded["folder"] / "syntax-error.ipynb", "q4")
    assert row["message"].startswith(f"syntax error in {cell}, so nothing in it ran; ")
    assert row["message"].endswith(f"q4: posterior_means is not defined because {cell}, which defines it, "
                                   "has a syntax error")


def test_a_missing_answer_loses_only_its_question(graded):
    row = _row(graded, "missing-answer.ipynb")
    assert _scores(row) == [4, 3, 3, 3, 3, 0] and row["message"] == "q6: not answered yet"


def test_answers_of_the_wrong_type_get_the_public_check_s_own_message(graded):
    row = _row(graded, "wrong-types.ipynb")
    assert _scores(row) == [1, 3, 0, 3, 3, 3]
    assert row["message"] == ("q1: a check failed: shrinkage_factors should be a pandas Series; "
                              "q1: a hidden check failed; q3: shrunk_estimates is a function, which the grader "
                              "cannot read: store it as a number, a string, a list or a NumPy, pandas or xarray "
                              "object")


def test_deleted_or_edited_checks_are_graded_with_the_originals(graded):
    row = _row(graded, "edited-checks.ipynb")
    assert float(row["total"]) == FULL and row["message"].startswith("check cells were deleted or changed")


def test_megabytes_of_output_do_not_break_grading(graded):
    assert float(_row(graded, "prints-megabytes.ipynb")["total"]) == FULL


def test_later_cells_reusing_names_do_not_change_earlier_scores(graded):
    row = _row(graded, "reuses-names-later.ipynb")
    assert float(row["total"]) == FULL and row["message"] == "all checks passed", row


def test_a_blocked_export_and_a_giant_answer_cost_only_their_own_points(graded):
    blocked = _row(graded, "blocks-its-export.ipynb")
    assert _scores(blocked) == [4, 3, 3, 0, 0, 0] and blocked["status"] == "graded", blocked
    giant = _row(graded, "giant-array.ipynb")
    assert _scores(giant) == [4, 3, 3, 3, 3, 0] and giant["status"] == "graded", giant
    assert giant["message"] == "q6: ninth_estimate is too large for the grader to read"


def test_shared_memory_is_refused_and_the_rest_graded(graded):
    row = _row(graded, "shared-memory-hog.ipynb")
    cell = where(graded["folder"] / "shared-memory-hog.ipynb", source=SHARED_MEMORY_HOG)
    assert float(row["total"]) == FULL and row["message"] == f"{cell} raised PermissionError", row


def test_nothing_a_submission_writes_reaches_the_console_raw(graded):
    from grader import grade

    for run in ("first", "second"):
        console = graded[run].stdout + graded[run].stderr
        assert not [c for c in console if c != "\n" and not c.isprintable()], run
        assert "\n60-ansi.ipynb" not in console and "\\x1b[32m60-ansi.ipynb" in console
    table = graded["scores"].read_text(encoding="utf-8")
    assert not [c for c in table if c != "\n" and not c.isprintable()]
    assert float(_row(graded, "prints-escapes.ipynb")["total"]) == FULL
    assert _row(graded, "forges-a-line.ipynb")["status"] == "grader error"
    escaped = grade.display_name("esc\x1b[2J title\x1b]0;owned\x07.ipynb")
    assert escaped == "esc\\x1b[2J title\\x1b]0;owned\\x07.ipynb"
    assert float(_row(graded, escaped)["total"]) == FULL
    for name in ["new\nline.ipynb", os.fsdecode(b"latin-\xe9t\xe9.ipynb"), "(points possible).ipynb"]:
        assert _row(graded, grade.display_name(name))["status"] == "not graded"
    assert _row(graded, "'(points possible)")["message"].startswith("not a valid notebook")


def test_a_memory_bomb_fails_inside_its_cell(graded):
    row = _row(graded, "memory-bomb.ipynb")
    cell = where(graded["folder"] / "memory-bomb.ipynb", source=MEMORY_BOMB)
    assert float(row["total"]) == FULL and row["message"] == f"{cell} raised MemoryError"


def test_a_fork_bomb_is_contained(graded):
    row = _row(graded, "fork-bomb.ipynb")
    assert float(row["total"]) == FULL and row["status"] == "graded"


def test_writes_outside_the_submission_change_nothing(graded):
    assert float(_row(graded, "writes-outside.ipynb")["total"]) == FULL
    assert graded["repository_unchanged"], "a tracked file of the repository changed"
    assert graded["folder_after"] == graded["folder_before"], "the submissions folder changed"
    for path in [Path("/tmp") / MARKER, Path("/tmp") / f"{MARKER}-late", Path("/root") / MARKER,
                 Path("/") / MARKER, ROOT / "solutions" / MARKER]:
        assert not path.exists(), f"{path} was written from inside a sandbox"


@pytest.mark.parametrize("name, expected", [
    ("reads-the-answer-key.ipynb", [0, 0, 0, 0, 0, 0]),
    ("patches-otter.ipynb", [0, 0, 0, 0, 0, 0]),
    # Without isolation, patched numpy.allclose and abs pass q5's and q6's hidden checks (16 points).
    ("patches-comparisons.ipynb", [4, 3, 3, 0, 1, 1]),
    ("rewrites-checks.ipynb", [0, 0, 0, 0, 0, 0]),
])
def test_no_cheat_raises_a_score(graded, name, expected):
    row = _row(graded, name)
    assert _scores(row) == expected and row["status"] == "graded", row


def test_hidden_failures_are_named_only_as_hidden(graded):
    row = _row(graded, "patches-comparisons.ipynb")
    assert row["message"] == ("q4: not answered yet; q5: a hidden check failed; q6: a hidden check failed")


def test_a_background_process_cannot_touch_the_table(graded):
    row = _row(graded, "background-process.ipynb")
    assert float(row["total"]) == FULL
    assert graded["after_wait"] == graded["right_after"]


def _users(output: str) -> set[int]:
    """The sandbox users a grading run says it leased (other runs on the machine have others)."""
    found = re.search(r"^Sandboxes ran as users ([\d, ]+) \(this run's own\)$", output, re.M)
    assert found, output[-2000:]
    return {int(uid) for uid in found.group(1).split(", ")}


def test_no_process_outlives_grading(graded):
    """Only this test's own runs are looked at: other graders may be running on the machine."""
    users = _users(graded["first"].stdout) | _users(graded["second"].stdout)
    assert len(_users(graded["first"].stdout)) == 2  # --jobs 2: one user per slot
    leftovers = [(pid, uid, command) for pid, uid, command in _processes()
                 if uid in users or MARKER in command]
    assert not leftovers, leftovers


@pytest.mark.parametrize("name", ["not-json.ipynb", "empty.ipynb", "binary.ipynb", "json-not-a-notebook.ipynb"])
def test_an_invalid_file_gets_a_clear_message(graded, name):
    row = _row(graded, name)
    assert row["status"] == "not graded" and row["message"].startswith("not a valid notebook")


def test_dotfiles_folders_and_links_are_reported_not_graded(graded):
    assert _row(graded, ".hidden-copy.ipynb")["message"].startswith("a hidden file")
    assert _row(graded, "a subfolder")["message"].startswith("a folder, not a notebook")
    assert _row(graded, "link-to-the-key.ipynb")["message"].startswith("a link, not a notebook file")
    for name in [".hidden-copy.ipynb", "a subfolder", "link-to-the-key.ipynb"]:
        row = _row(graded, name)
        assert row["status"] == "not graded" and float(row["total"]) == 0


def test_a_second_run_keeps_final_rows_and_retries_timed_out_ones(graded):
    first = list(csv.DictReader(graded["right_after"].decode().splitlines()))
    transient = {row["submission"] for row in first if row["status"] in ("timed out", "grader error")}
    assert "loops-forever.ipynb" in transient  # and whatever else failed for a passing reason, under load
    output = graded["second"].stdout
    assert output.count("already graded, skipped") == len(first) - 1 - len(transient)
    for name in transient:
        assert f"{name}: already graded" not in output and f"\n{name}: " in "\n" + output
    assert "loops-forever.ipynb: 7 points, timed out" in output


def test_feedback_never_contains_solutions_or_hidden_checks(graded):
    secrets = published.all_secrets()
    assert secrets
    table = graded["scores"].read_text(encoding="utf-8")
    assert not [s for s in secrets if s in table]
    assert "Error at line" not in table and "Traceback" not in table and "assert " not in table


def test_messages_come_from_the_fixed_set(graded):
    from grader import grade

    patterns = []
    for template in grade.MESSAGES.values():
        assert "; " not in template
        pattern = ""
        for literal, field, _, _ in string.Formatter().parse(template):
            pattern += re.escape(literal) + ("(.+?)" if field is not None else "")
        patterns.append(re.compile(pattern + "$"))
    for name, row in graded["rows"].items():
        if name == "(points possible)":
            continue
        for part in row["message"].split("; "):
            assert any(p.match(part) for p in patterns), (name, part)


def test_make_grade_passes_every_option():
    # --no-print-directory: under `make test` this make is a sub-make and would report directories.
    dry = subprocess.run(["make", "-n", "--no-print-directory", "grade", f"EXERCISE={EXERCISE}", "SUBMISSIONS=some folder", "FRESH=1",
                          "TIMEOUT=30", "JOBS=2", "UNISOLATED=1"], cwd=ROOT, capture_output=True, text=True)
    command = dry.stdout.strip().splitlines()[-1]
    assert '"some folder"' in command and "--fresh" in command and '--timeout "30"' in command
    assert '--jobs "2"' in command and "--unisolated" in command


class _ForgedRunner:
    """Stands in for the sandbox and returns a report as a hostile notebook could forge it."""

    isolated = True
    limits = None

    def __init__(self, output: bytes):
        self.output = output

    def run(self, command, **kwargs):
        from grader import sandbox

        return sandbox.Result(0, self.output, "", 0.1)


@pytest.mark.parametrize("output", [
    b"", b"not json", b"[" * 100_000, b'{"cells": "x"}',
    b'{"cells": [{"index": [1], "error": "E"}], "stopped_at": [], "died_at": {"a": 1}, "export": 5}',
    b'{"cells": [], "export": "{\\"format\\": 1, \\"answers\\": {\\"shrinkage_factors\\": {\\"kind\\": \\"eval\\"}}}"}',
])
def test_a_forged_report_gives_a_row_not_a_crash(output, tmp_path):
    from grader import grade

    exercise = grade.Exercise.from_book(EXERCISE, ROOT)
    grader = grade.Grader(exercise, _ForgedRunner(output), timeout=10)
    graded = grader.grade(ROOT / "exercises" / f"{EXERCISE}.ipynb")
    assert graded.total == 0 and graded.status in (grade.GRADED, grade.GRADER_ERROR)


class _InflatedChecker:
    """Stands in for the checking process and reports every question at 600 points, as checks
    rewritten to pay more than they are worth would."""

    def run(self, export, checks, public_checks, snapshots=None):
        return [{"question": q, "case": 0, "name": "test_inflated", "hidden": False, "points": 600.0,
                 "arguments": [], "passed": True, "question_score": 600.0, "question_possible": 600.0}
                for q in self.questions], None


def test_scores_are_capped_at_the_points_possible():
    from grader import grade

    exercise = grade.Exercise.from_book(EXERCISE, ROOT)
    grader = grade.Grader(exercise, _ForgedRunner(b'{"cells": [], "export": "{}"}'), timeout=10)
    grader.checker = _InflatedChecker()
    grader.checker.questions = grader.questions
    graded = grader.grade(ROOT / "exercises" / f"{EXERCISE}.ipynb")
    assert graded.scores == grader.points and graded.total == sum(grader.points.values())


def test_each_folder_has_its_own_table_and_fresh_regrades(tmp_path):
    for section in ("section a", "section b"):
        (tmp_path / section).mkdir()
        (tmp_path / section / "broken.ipynb").write_text("{")
    run = [str(Path(sys.executable).parent / "book-grade"), "grade", "--book", str(ROOT), EXERCISE]
    for section in ("section a", "section b"):
        done = subprocess.run([*run, section], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    tables = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert tables == [f"section a-{EXERCISE}-scores.csv", f"section b-{EXERCISE}-scores.csv"]
    again = subprocess.run([*run, "section a"], cwd=tmp_path, capture_output=True, text=True)
    fresh = subprocess.run([*run, "section a", "--fresh"], cwd=tmp_path, capture_output=True, text=True)
    assert "broken.ipynb: already graded, skipped" in again.stdout
    assert "already graded" not in fresh.stdout and "broken.ipynb: 0 points, not graded" in fresh.stdout


HOLDS_PROCESSES = """\
import os, time
for _ in range(250):  # ~250 processes held for a minute: all the process limit of the user
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    except OSError:
        break
"""


def test_two_grading_runs_at_once_do_not_change_each_other_s_scores(tmp_path):
    """Two instructors (or `make grade` twice) on one machine, with the same GRADER_SANDBOX_UID:
    one folder holds a submission that keeps ~250 processes, the other two correct notebooks."""
    student = nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)
    key = nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)
    solutions = [c.source for c in key.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    for cell, solution in zip(_answers(student), solutions):
        cell.source = solution
    (tmp_path / "hog").mkdir()
    (tmp_path / "honest").mkdir()
    nbformat.write(_insert_after_setup(copy.deepcopy(student), HOLDS_PROCESSES), tmp_path / "hog" / "holds.ipynb")
    for name in ("first.ipynb", "second.ipynb"):
        nbformat.write(student, tmp_path / "honest" / name)
    uid = random.Random().randrange(65100, 65400)
    env = {**os.environ, "GRADER_SANDBOX_UID": str(uid)}
    runs = {}
    for folder in ("hog", "honest"):
        runs[folder] = subprocess.Popen(
            [str(Path(sys.executable).parent / "book-grade"), "grade", "--book", str(ROOT), EXERCISE, folder, "--timeout", str(TIMEOUT)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)  # the hog starts first
    outputs = {folder: run.communicate(timeout=900)[0] for folder, run in runs.items()}
    assert all(run.returncode == 0 for run in runs.values()), outputs
    assert not _users(outputs["hog"]) & _users(outputs["honest"]), outputs
    with open(tmp_path / f"honest-{EXERCISE}-scores.csv", newline="", encoding="utf-8") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    for name in ("first.ipynb", "second.ipynb"):
        assert float(rows[name]["total"]) == FULL and rows[name]["status"] == "graded", outputs["honest"]
