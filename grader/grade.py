"""Grade a folder of submitted notebooks for one exercise into a score table, without trusting them.

Usage: book-grade grade EXERCISE SUBMISSIONS_DIR [--book PATH] [--out scores.csv] [--timeout SECONDS]
                         [--jobs N] [--fresh] [--unisolated]
       (or, in the book, `make grade EXERCISE=shrinkage-arithmetic SUBMISSIONS=path/to/folder [FRESH=1]
        [TIMEOUT=300] [JOBS=2] [UNISOLATED=1]`)

For each submission:
  1. the file is read as data (never followed through a link) and rebuilt as a clean notebook
     from its cells' sources: no outputs, no metadata, the Python 3 kernel whatever it named;
  2. the notebook runs top to bottom in a bubblewrap sandbox (grader/sandbox.py: no network,
     nothing of the machine visible but the Python installation, an unprivileged user, limits on
     memory, processes, CPU time and file size, every process killed at the end) holding only a
     copy of it and the exercise's public checks; the variables a question's checks take are
     exported as plain data (grader/answers.py, never pickle) right after that question's check
     cell runs, and all of them once more at the end, for questions whose check cell never ran;
  3. every check, public and hidden, runs outside the sandbox in a fresh process on that data
     (grader/checks.py). Nothing the notebook did to its own kernel or files can change a score,
     and a score never exceeds the points possible.

Every file in the folder gets one row: points per question, total, status and a message in words a
student understands, built only from a fixed set of sentences (MESSAGES): no exception text,
check source or hidden check ever appears in it. The table, one per folder, is rewritten
atomically after each submission by this process only. Running the command again skips rows
that are final and retries those that failed for a reason that may pass (status "timed out" or
"grader error"); --fresh regrades everything.

Before the first submission, the answer key is graded the same way (once per change of the key,
checks, grader or environment) and must score full marks: it shows the sandbox can run the
exercise, and it fills the cache of compiled Python files the sandboxes then read.
"""
from __future__ import annotations

import ast
import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import queue
import re
import resource
import stat
import sys
import tempfile
from pathlib import Path

from grader import SANDBOX_MODULES, limits, module_files, sandbox
from grader import checks as checks_module

# The grader's own seed, not the book's: the sandbox seeds `random` and NumPy's global generator
# with it before a submission's first cell, so a draw with no seed of its own grades the same
# every time it is graded.
GRADER_SEED = 20261122
# Reading and analysing a submission happens outside the sandbox, in a process of its own with
# limits (grader/limits.py); a notebook past the caps is not graded.

GRADED, NOT_GRADED, TIMED_OUT, GRADER_ERROR = "graded", "not graded", "timed out", "grader error"
NOT_ANALYSED = "not analysed"  # retried once; a second failure makes the row final ("not graded")
TRANSIENT = {TIMED_OUT, GRADER_ERROR, NOT_ANALYSED}  # retried when the command runs again
ANALYSIS_PROBLEMS = {  # why a notebook could not be analysed; final ones are not retried
    "cells": (f"it has more than {limits.MAX_CELLS} cells", True),
    "cell size": (f"a cell has more than {limits.MAX_CELL_CHARS} characters", True),
    "time": (f"reading it took more than {limits.ANALYSIS_SECONDS} s", False),
    "failed": ("reading it failed or needed too much memory", False),
}

# Every message a row can carry (a row joins several with "; ", so none contains one). The fields
# are filled only with: variable names and question numbers from the exercise, cell numbers,
# exception class names, type names, the time limit, and a public check's own assertion message.
MESSAGES = {
    "all passed": "all checks passed",
    "not a notebook": "not a valid notebook: download it again with File > Download (.ipynb) and resubmit it",
    "not analysed": "this notebook could not be analysed: {reason}, so it was not graded (split or shorten it "
                    "and resubmit it)",
    "link": "a link, not a notebook file: not graded",
    "folder": "a folder, not a notebook: not graded (each submission must be a notebook directly in the folder)",
    "dotfile": "a hidden file (its name starts with a dot): not graded",
    "not a file": "not a regular file: not graded",
    "syntax": "syntax error in {where}, so nothing in it ran",
    "raised": "{where} raised {error}",
    "stopped": "stopped after {seconds} s in {where}, so the cells after it did not run: look for a loop that "
               "never ends or a computation that takes far too long",
    "stopped hard": "stopped after {seconds} s: the notebook did not finish and its answers could not be read",
    "died": "the kernel died in {where}, from a crash or too much memory, so the cells after it did not run",
    "memory": "stopped: the notebook used more than {gib} GiB of memory",
    "checks edited": "check cells were deleted or changed (the grader runs every check itself, so this changes nothing)",
    "not answered": "{question}: not answered yet",
    "undefined": "{question}: {variable} is not defined",
    "not reached": "{question}: {variable} was not defined before the notebook stopped",
    "defining cell raised": "{question}: {variable} is not defined because {where}, which defines it, raised {error}",
    "defining cell syntax": "{question}: {variable} is not defined because {where}, which defines it, has a syntax error",
    "unsupported": "{question}: {variable} is a {type}, which the grader cannot read: store it as a number, a "
                   "string, a list or a NumPy, pandas or xarray object",
    "unsupported values": "{question}: {variable} is a {type} holding {holds} values, which the grader cannot "
                          "read: convert them to numbers or strings (for example with .astype(float))",
    "too large": "{question}: {variable} is too large for the grader to read",
    "unreadable": "{question}: the answers could not be read",
    "public failed": "{question}: a check failed: {message}",
    "public failed plain": "{question}: a check failed",
    "public error": "{question}: a check could not use the answer ({error})",
    "check timeout": "{question}: a check took too long on the answer",
    "hidden failed": "{question}: a hidden check failed",
    "no answers": "the notebook's answers could not be read",
    "sandbox failed": "the grader could not start its sandbox (not the student's fault, and it will be retried)",
    "checks failed": "the grader could not run the checks (not the student's fault, and it will be retried)",
    "grader failed": "the grader could not finish running this notebook (it will be retried)",
}


def message(key: str, **fields) -> str:
    return MESSAGES[key].format(**fields)


@dataclasses.dataclass
class Exercise:
    """Where an exercise's graded material lives (a book's folder, or a Gradescope zip)."""

    name: str
    checks: Path  # all checks, public and hidden
    public_checks: Path  # the public checks, as students have them
    template: Path | None = None  # the student notebook, for its check cells
    key: Path | None = None  # the answer key

    @classmethod
    def from_book(cls, name: str, root: Path) -> "Exercise":
        """An exercise of the book whose folder is `root`: its checks as `make exercises` writes them."""
        checks = root / "solutions" / "tests" / name
        if not checks.is_dir():
            if not (root / "solutions" / "tests").is_dir():
                raise SystemExit(f"{root} holds no exercise checks (solutions/tests/): pass the book's folder "
                                 "with --book, or run `make exercises` there first.")
            known = sorted(p.name for p in (root / "solutions" / "tests").iterdir() if p.is_dir())
            raise SystemExit(f"Unknown exercise '{name}'. Exercises: {', '.join(known)}. "
                             "If you edited an exercise, run `make exercises` first.")
        return cls(name, checks, root / "exercises" / "tests" / name, root / "exercises" / f"{name}.ipynb",
                   root / "solutions" / f"{name}.ipynb")

    @property
    def questions(self) -> list[str]:
        return list(checks_module.check_files(self.checks))

    def points(self) -> dict[str, float]:
        from otter.test_files import ExceptionTestFile

        return {q: float(ExceptionTestFile.from_file(str(p)).possible)
                for q, p in checks_module.check_files(self.checks).items()}

    def variables(self) -> list[str]:
        return checks_module.variable_names(self.checks)

    def question_variables(self) -> dict[str, list[str]]:
        """Per question, every variable its checks (public and hidden) take: its snapshot."""
        return {question: sorted({n for case in checks_module.arguments(path) for n in case})
                for question, path in checks_module.check_files(self.checks).items()}

    def public_arguments(self) -> dict[str, set[str]]:
        """Per question, the variables its public cases take (they may be named in messages)."""
        found = {}
        for question in self.questions:
            path = self.public_checks / f"{question}.py"
            found[question] = {n for case in checks_module.arguments(path) for n in case} if path.exists() else set()
        return found

    def check_cells(self) -> list[str]:
        if self.template is None or not self.template.exists():
            return []
        import nbformat

        template = nbformat.read(self.template, as_version=4)
        return [c.source.strip() for c in template.cells if "check" in c.metadata.get("tags", [])]


# Reading a submission --------------------------------------------------------------------------

@dataclasses.dataclass
class Cell:
    index: int  # position in the clean notebook
    number: int  # 1-based among code cells: what the messages call "code cell N"
    source: str
    question: str | None  # "Question 3" if it sits under that prompt
    defines: set[str]
    syntax_error: bool
    is_check: bool

    @property
    def where(self) -> str:
        return f"code cell {self.number}" + (f" (under {self.question})" if self.question else "")


class NotAnalysed(Exception):
    """A submission past the analysis caps or limits; args[0] is a key of ANALYSIS_PROBLEMS."""


def prepare(path: Path):
    """(clean notebook, its cells) of a submitted file, or None if it is not a notebook: read and
    analysed in a process of its own, under a time and memory limit (the file is the student's,
    and reading or analysing one can be made slow). Raises NotAnalysed."""
    import subprocess

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limits.ANALYSIS_MEMORY, limits.ANALYSIS_MEMORY))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    code = "import sys; from grader import grade; grade._analysis_child(sys.argv[1])"
    try:
        # -P: the working folder is not put on the module path (the grader's package is the installed one).
        done = subprocess.run([sys.executable, "-P", "-c", code, os.fsdecode(path)], capture_output=True,
                              timeout=limits.ANALYSIS_SECONDS, preexec_fn=limit, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise NotAnalysed("time") from None
    try:
        result = json.loads(done.stdout) if done.returncode == 0 else {}
    except ValueError:
        result = {}
    kind = result.get("kind")
    if kind == "invalid":
        return None
    if kind in ANALYSIS_PROBLEMS:
        raise NotAnalysed(kind)
    if kind != "notebook":
        print(f"    analysis failed: {inert(done.stderr.decode(errors='replace')[-500:], keep_newlines=True)}",
              file=sys.stderr)
        raise NotAnalysed("failed")
    import nbformat

    cells = [Cell(**{**cell, "defines": set(cell["defines"])}) for cell in result["cells"]]
    return nbformat.reads(result["notebook"], as_version=4), cells


def _analysis_child(path: str) -> None:
    """In the analysing process: print what `prepare` returns as JSON."""
    import nbformat

    try:
        nb = read_submission(Path(path))
        if nb is None:
            result = {"kind": "invalid"}
        else:
            result = {"kind": "notebook", "notebook": nbformat.writes(nb),
                      "cells": [{**dataclasses.asdict(cell), "defines": sorted(cell.defines)} for cell in analyse(nb)]}
    except NotAnalysed as problem:
        result = {"kind": problem.args[0]}
    except MemoryError:
        result = {"kind": "failed"}
    sys.stdout.write(json.dumps(result))


def read_submission(path: Path):
    """A clean notebook (cells' sources only) from a submitted file, or None if it is not one.
    Raises NotAnalysed for a notebook past the caps (limits.MAX_CELLS, limits.MAX_CELL_CHARS)."""
    import nbformat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        raw = f.read(limits.MAX_NOTEBOOK_BYTES + 1)
    if len(raw) > limits.MAX_NOTEBOOK_BYTES:
        return None
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict):  # counted before nbformat reads and validates every cell
        found = data.get("cells") if isinstance(data.get("cells"), list) else [
            c for sheet in data.get("worksheets") or [] if isinstance(sheet, dict)
            for c in (sheet.get("cells") if isinstance(sheet.get("cells"), list) else [])]
        if len(found) > limits.MAX_CELLS:
            raise NotAnalysed("cells")
        for cell in found:
            source = cell.get("source", cell.get("input", "")) if isinstance(cell, dict) else ""
            if isinstance(source, (str, list)) and sum(map(len, source)) > limits.MAX_CELL_CHARS:
                raise NotAnalysed("cell size")
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = []
        for cell in nb.cells:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if not isinstance(source, str):
                return None
            if cell.get("cell_type") == "code":
                cells.append(nbformat.v4.new_code_cell(source))
            elif cell.get("cell_type") == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(source))
        if not any(c.cell_type == "code" for c in cells):
            return None
    except Exception:  # noqa: BLE001 - not JSON, not a notebook, binary, truncated: all the same to a student
        return None
    clean = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    for number, cell in enumerate(clean.cells):
        cell.id = f"cell-{number}"
    return clean


def analyse(nb) -> list[Cell]:
    """Each code cell's place, the names it assigns and whether it parses, without running it."""
    from IPython.core.inputtransformer2 import TransformerManager

    transformer = TransformerManager()
    cells, question, number = [], None, 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = re.search(r"\*\*Question\s+(\d+)", cell.source)
            question = f"Question {found.group(1)}" if found else question
            continue
        number += 1
        defines, syntax_error = set(), False
        escapes = len(re.findall(r"^\s*[!%?]|=\s*[!%]|\?\s*$", cell.source, re.M))
        try:
            if escapes > limits.MAX_ESCAPES or escapes * len(cell.source) > limits.ESCAPE_BUDGET:
                # IPython's transformer would take minutes (or give up after 500 escapes): the
                # kernel will say whether the cell runs; here, its plain assignments only.
                raise _Unknown
            tree = ast.parse(transformer.transform_cell(cell.source))
            defines = _assigned_names(tree)
        except (SyntaxError, ValueError, RecursionError, MemoryError, RuntimeError, _Unknown) as error:
            syntax_error = isinstance(error, (SyntaxError, ValueError, RecursionError, MemoryError))
            # What the cell meant to define, from its plain assignments, for the messages.
            for line in cell.source.splitlines():
                target = re.match(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)", line)
                if target:
                    defines.update(name.strip() for name in target.group(1).split(","))
        cells.append(Cell(index, number, cell.source, question, defines, syntax_error,
                          is_check="grader.check(" in cell.source))
    return cells


class _Unknown(Exception):
    pass


def _assigned_names(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


# Grading one submission ------------------------------------------------------------------------

@dataclasses.dataclass
class Graded:
    scores: dict[str, float]
    status: str
    notes: list[str]
    cases: list[dict] = dataclasses.field(default_factory=list)  # per check case, for Gradescope

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def message(self) -> str:
        return "; ".join(dict.fromkeys(self.notes)) if self.notes else MESSAGES["all passed"]


class Grader:
    """Grades submissions of one exercise, each in its own sandbox, checks in a fresh process."""

    def __init__(self, exercise: Exercise, runner, timeout: int, cache: Path | None = None):
        self.exercise = exercise
        self.runner = runner
        self.timeout = timeout
        self.cache = cache
        self.questions = exercise.questions
        self.points = exercise.points()
        self.variables = exercise.variables()
        self.public_arguments = exercise.public_arguments()
        self.check_cells = exercise.check_cells()
        self.public_files = {p.name: p.read_bytes() for p in sorted(exercise.public_checks.glob("q*.py"))}
        self.checker = checks_module.Checker()
        self.checker.start()

    def _zero(self, status: str, notes: list[str]) -> Graded:
        return Graded({q: 0.0 for q in self.questions}, status, notes)

    def grade(self, path: Path, *, writable_cache: bool = False, slot: int = 0) -> Graded:
        try:
            prepared = prepare(path)
        except NotAnalysed as problem:
            reason, final = ANALYSIS_PROBLEMS[problem.args[0]]
            return self._zero(NOT_GRADED if final else NOT_ANALYSED, [message("not analysed", reason=reason)])
        if prepared is None:
            return self._zero(NOT_GRADED, [message("not a notebook")])
        import nbformat

        nb, cells = prepared
        home_files = {"submission.ipynb": nbformat.writes(nb).encode(),
                      **{f"tests/{self.exercise.name}/{name}": data for name, data in self.public_files.items()}}
        job = {"notebook": "submission.ipynb", "names": self.variables, "timeout": self.timeout, "seed": GRADER_SEED,
               "questions": self.exercise.question_variables(), "limits": limits.runner_limits()}
        files = module_files()
        grader_files = {"job.json": json.dumps(job).encode(),
                        **{name: files[name].read_bytes() for name in SANDBOX_MODULES}}
        binds = {}
        if self.cache is not None and writable_cache:
            binds = {f"{sandbox.GRADER_DIR}/pycache": (self.cache / "pycache", True),
                     f"{sandbox.HOME}/.cache/matplotlib": (self.cache / "matplotlib", True)}
        elif self.cache is not None:
            # Compiled files are shared read-only; matplotlib's font list is copied (it wants to write).
            binds = {f"{sandbox.GRADER_DIR}/pycache": (self.cache / "pycache", False)}
            for font_list in sorted((self.cache / "matplotlib").glob("fontlist-*.json")):
                home_files[f".cache/matplotlib/{font_list.name}"] = font_list.read_bytes()
        result = self.runner.run([sys.executable, "{grader}/sandbox_runner.py", "{grader}/job.json"],
                                 timeout=self.timeout + limits.STARTUP_SECONDS, home_files=home_files,
                                 grader_files=grader_files, binds=binds, slot=slot)
        notes = []
        if self.check_cells and not set(self.check_cells) <= {c.source.strip() for c in cells}:
            notes.append(message("checks edited"))
        if result.start_failed:
            return self._zero(GRADER_ERROR, [message("sandbox failed")])
        if result.out_of_memory:
            return self._zero(GRADED, [message("memory", gib=f"{self.runner.limits.memory / 2**30:g}")] + notes)
        if result.timed_out:
            return self._zero(TIMED_OUT, [message("stopped hard", seconds=self.timeout)] + notes)
        try:  # the report comes from inside the sandbox: bounded, and checked field by field below
            report = json.loads(result.output) if len(result.output) <= limits.MAX_REPORT_BYTES else {"cells": []}
        except (ValueError, RecursionError):
            report = None
        if not isinstance(report, dict) or not isinstance(report.get("cells"), list) or report.get("runner_error"):
            print(f"    no report from the sandbox; its log ends:\n{inert(result.log[-1500:], keep_newlines=True)}",
                  file=sys.stderr)
            return self._zero(GRADER_ERROR, notes + [message("grader failed")])
        return self._assess(cells, report, notes)

    def _assess(self, cells: list[Cell], report: dict, notes: list[str]) -> Graded:
        by_index = {c.index: c for c in cells}
        errors = {}
        for entry in report["cells"]:
            if isinstance(entry, dict) and type(entry.get("index")) is int and entry["index"] in by_index and entry.get("error"):
                errors[entry["index"]] = _identifier(entry["error"])
        stopped, died = (value if type(value) is int else None for value in (report.get("stopped_at"), report.get("died_at")))
        status = GRADED
        for cell in cells:
            if cell.syntax_error:
                notes.append(message("syntax", where=cell.where))
            elif cell.index in errors and not cell.is_check:
                notes.append(message("raised", where=cell.where, error=errors[cell.index]))
        if stopped in by_index:
            notes.append(message("stopped", seconds=self.timeout, where=by_index[stopped].where))
            status = TIMED_OUT
        if died in by_index:
            notes.append(message("died", where=by_index[died].where))
        export = report.get("export")
        if not isinstance(export, str):
            if died not in by_index:
                notes.append(message("no answers"))
            return Graded({q: 0.0 for q in self.questions}, status, notes)
        snapshots = report.get("snapshots")
        snapshots = {q: text for q, text in snapshots.items() if q in self.points and isinstance(text, str)} \
            if isinstance(snapshots, dict) else {}
        results, problem = self.checker.run(export, self.exercise.checks, self.exercise.public_checks,
                                            snapshots=snapshots)
        if results is None:
            print(f"    checks: {problem}", file=sys.stderr)
            return self._zero(GRADER_ERROR, notes + [message("checks failed")])
        scores = {q: 0.0 for q in self.questions}
        for case in results:
            if case["question"] in scores:
                scores[case["question"]] = min(float(case["question_score"]), self.points[case["question"]])
        for question in self.questions:
            failures = [c for c in results if c["question"] == question and not c["passed"]]
            for case in failures:
                case["feedback"] = self._failure(question, case, cells, errors, stopped, died)
                notes.append(case["feedback"])
        return Graded(scores, status, notes, results)

    def _failure(self, question: str, case: dict, cells: list[Cell], errors: dict, stopped, died) -> str:
        reason, variable = case["reason"], case.get("variable", "")
        named = variable in self.public_arguments.get(question, set())
        if reason == "ellipsis":
            return message("not answered", question=question)
        if reason in ("missing", "unsupported", "too large", "unreadable") and not named and case["hidden"]:
            return message("hidden failed", question=question)
        if reason == "missing":
            return self._missing(question, variable, cells, errors, stopped, died)
        if reason == "unsupported" and case.get("holds"):
            return message("unsupported values", question=question, variable=variable,
                           type=_type_name(case.get("type", "")), holds=_type_name(case["holds"]))
        if reason == "unsupported":
            return message("unsupported", question=question, variable=variable, type=_type_name(case.get("type", "")))
        if reason == "too large":
            return message("too large", question=question, variable=variable)
        if reason == "unreadable":
            return message("unreadable", question=question)
        if case["hidden"]:
            return message("hidden failed", question=question)
        if reason == "assertion":
            text = case.get("message", "")
            return message("public failed", question=question, message=text) if text else message(
                "public failed plain", question=question)
        if reason == "timeout":
            return message("check timeout", question=question)
        return message("public error", question=question, error=_identifier(case.get("error", "")))

    def _missing(self, question, variable, cells, errors, stopped, died) -> str:
        defining = [c for c in cells if variable in c.defines]
        end = stopped if stopped is not None else died
        if defining and end is not None and all(c.index >= end for c in defining):
            return message("not reached", question=question, variable=variable)
        for cell in defining:
            if cell.syntax_error:
                return message("defining cell syntax", question=question, variable=variable, where=cell.where)
            if cell.index in errors:
                return message("defining cell raised", question=question, variable=variable, where=cell.where,
                               error=errors[cell.index])
        return message("undefined", question=question, variable=variable)


def _identifier(text) -> str:
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]{0,79}", str(text).split(".")[-1])
    return match.group(0) if match else "an error"


def _type_name(text) -> str:
    """A short type name for a message: the class name, letters and digits only."""
    return _identifier(str(text).rsplit(".", 1)[-1]) if text else "value"


# The answer key, once: the cache of compiled files and a check that the sandbox can run it -----

def fingerprint(exercise: Exercise, lock: Path | None = None) -> str:
    """What the answer key's verdict depends on: the key, the checks, the grader's own files, this
    Python installation and the environment's lock file (if the book has one)."""
    digest = hashlib.sha256()
    parts = [exercise.key, *sorted(exercise.checks.glob("q*.py")), *sorted(exercise.public_checks.glob("q*.py")),
             *module_files().values(), Path(sys.prefix) / "pyvenv.cfg"]
    for part in parts:
        if part is not None and part.exists():
            digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    if lock is not None and lock.exists():
        digest.update(lock.read_bytes())
    return digest.hexdigest()


def verify_answer_key(grader: Grader, lock: Path | None = None) -> None:
    """Grade the answer key in the sandbox (filling the compiled-file cache); it must score full marks."""
    exercise, cache = grader.exercise, grader.cache
    if exercise.key is None or not exercise.key.exists() or cache is None:
        return
    marker = cache / f"{exercise.name}.key-ok"
    expected = fingerprint(exercise, lock)
    if marker.exists() and marker.read_text() == expected:
        return
    print(f"Grading the answer key {exercise.key.name} first (once per change)...", flush=True)
    for folder in ("pycache", "matplotlib"):
        (cache / folder).mkdir(parents=True, exist_ok=True)
    owner = grader.runner.uid(0) if (os.geteuid() == 0 and grader.runner.isolated) else None
    if owner is not None:
        _chown_tree(cache, owner)
    timeout, grader.timeout = grader.timeout, max(grader.timeout, limits.DEFAULT_TIMEOUT)  # cold caches are slow
    try:
        graded = grader.grade(exercise.key, writable_cache=True)
    finally:
        grader.timeout = timeout
        if owner is not None:
            _chown_tree(cache, 0)  # read-only for the sandboxes from now on, whatever the mount
    possible = sum(grader.points.values())
    if graded.status != GRADED or graded.total < possible:
        raise SystemExit(f"The answer key scores {graded.total:g} of {possible:g} under the grader "
                         f"({graded.status}: {graded.message}). Nothing was graded: fix the key, the checks "
                         f"or the environment first.")
    marker.write_text(expected)


def _chown_tree(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, uid, uid)


# The score table -------------------------------------------------------------------------------

POINTS_ROW = "(points possible)"


def inert(text: str, keep_newlines: bool = False) -> str:
    """Text a terminal or spreadsheet shows as it is: every control or format character (ESC, BEL,
    carriage return, newline unless kept, bidirectional overrides, ...) and every byte that is not
    UTF-8 written as a visible escape (\\x1b, \\u202e), and backslashes doubled, so that two
    different texts never print alike."""
    import unicodedata

    shown = []
    for character in text:
        code = ord(character)
        if character == "\\":
            shown.append("\\\\")
        elif character == "\n" and keep_newlines:
            shown.append(character)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(character) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            shown.append(character)
    return "".join(shown)


def display_name(name: str) -> str:
    """A file name as the table and the console show it: one line, inert (see `inert`), a formula
    defused with a leading apostrophe, and never the points row's label. Different names always
    show differently, so a row names its file unambiguously."""
    text = inert(os.fsencode(name).decode("utf-8", "surrogateescape"))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "'") or text == POINTS_ROW else text


def entries(folder: Path, out: Path):
    """(name, kind) for everything in the folder, sorted; kind is "submission" or a MESSAGES key."""
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if path == out or path.name.startswith(out.name + "."):
            continue
        if entry.is_symlink():
            kind = "link"
        elif entry.is_dir(follow_symlinks=False):
            kind = "folder"
        elif entry.name.startswith("."):
            kind = "dotfile"
        elif not entry.is_file(follow_symlinks=False):
            kind = "not a file"
        else:
            kind = "submission"
        found.append((entry.name, kind))
    return found


def read_table(out: Path, columns: list[str]) -> dict[str, dict]:
    if not out.exists():
        return {}
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            print(f"{out} has other columns than this exercise's questions: starting a new table")
            return {}
        return {row["submission"]: row for row in reader if row["submission"] != POINTS_ROW}


def write_table(out: Path, columns: list[str], points: dict[str, float], rows: dict[str, dict]) -> None:
    """The whole table, written to a temporary file and moved into place: never half written.
    `rows` are keyed by the names as shown (`display_name`); the points row comes first."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"submission": POINTS_ROW, **{q: f"{p:g}" for q, p in points.items()},
                     "total": f"{sum(points.values()):g}", "status": "", "message": ""})
    for name in sorted(rows):
        writer.writerow({**rows[name], "submission": name})
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.chmod(temporary, 0o644)
    os.replace(temporary, out)


def make_runner(unisolated: bool, readable: list[Path], env: dict[str, str]):
    if unisolated:
        return sandbox.Unisolated(readable, env=env)
    problem = sandbox.problem()
    if problem:
        raise SystemExit(f"Refusing to grade: {problem}")
    return sandbox.Sandbox(readable, env=env)


def sandbox_environment() -> dict[str, str]:
    return {
        "PYTHONPYCACHEPREFIX": "{grader}/pycache",  # the answer key's compiled files, read-only
        "XDG_CACHE_HOME": "{home}/.cache",
        "IPYTHONDIR": "{tmp}/ipython",
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": "{tmp}/jupyter-runtime",
        "JUPYTER_DATA_DIR": "{tmp}/jupyter-data",
        "JUPYTER_CONFIG_DIR": "{tmp}/jupyter-config",
        "PYTENSOR_FLAGS": "base_compiledir={tmp}/pytensor",
        "NUMBA_CACHE_DIR": "{tmp}/numba",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2",
    }


def readable_roots() -> list[Path]:
    """This Python's installation, and the helper package's source folder if installed editable."""
    import importlib.util

    roots = sandbox.python_roots()
    spec = importlib.util.find_spec("hierarchical_helpers")
    if spec is not None and spec.origin:
        package = Path(spec.origin).resolve().parent
        if not any(package.is_relative_to(root) for root in roots):
            roots.append(package)
    return roots


def grade_folder(exercise_name: str, submissions: Path, book: Path, out: Path | None = None,
                 timeout: int = limits.DEFAULT_TIMEOUT, jobs: int = 1, fresh: bool = False,
                 unisolated: bool = False) -> int:
    """Grade every file in `submissions` for one exercise of the book in the folder `book` into a
    score table (`out`, by default SUBMISSIONS-EXERCISE-scores.csv beside the folder)."""
    book = book.resolve()
    folder = submissions.resolve()
    if not folder.is_dir():
        raise SystemExit(f"{submissions} is not a folder of submitted notebooks.")
    out = (out or folder.parent / f"{folder.name}-{exercise_name}-scores.csv").resolve()
    exercise = Exercise.from_book(exercise_name, book)
    if unisolated:
        print("=" * 78 + "\nUNISOLATED: submissions run WITHOUT a sandbox, as your user, able to read and change\n"
              "anything you can, the answer keys and this score table included. Use it only for\n"
              "notebooks you trust.\n" + "=" * 78, flush=True)
    runner = make_runner(unisolated, readable_roots(), sandbox_environment())
    cache = book / "_build" / "grader-cache"
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")  # the checking processes share the cache
    grader = Grader(exercise, runner, timeout, cache=cache)
    verify_answer_key(grader, lock=book / "requirements.lock")

    columns = ["submission", *grader.questions, "total", "status", "message"]
    rows = {} if fresh else read_table(out, columns)
    todo = []
    for name, kind in entries(folder, out):
        previous = rows.get(display_name(name))
        if previous is not None and previous["status"] not in TRANSIENT:
            print(f"{display_name(name)}: already graded, skipped")
        else:
            todo.append((name, kind))
    slots = queue.Queue()
    for slot in range(max(1, jobs)):
        slots.put(slot)

    def grade_entry(name: str, kind: str) -> Graded:
        if kind != "submission":
            return Graded({q: 0.0 for q in grader.questions}, NOT_GRADED, [message(kind)])
        slot = slots.get()
        try:
            return grader.grade(folder / name, slot=slot)
        except Exception as error:  # noqa: BLE001 - a grader bug must not stop the batch
            print(f"{display_name(name)}: grader error {inert(repr(error))}", file=sys.stderr)
            return Graded({q: 0.0 for q in grader.questions}, GRADER_ERROR, [message("grader failed")])
        finally:
            slots.put(slot)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_entry, name, kind): name for name, kind in todo}
        for future in concurrent.futures.as_completed(futures):
            name, graded = futures[future], future.result()
            previous = rows.get(display_name(name))
            if graded.status == NOT_ANALYSED and previous is not None and previous["status"] == NOT_ANALYSED:
                graded.status = NOT_GRADED  # retried once: final now
            rows[display_name(name)] = {"submission": display_name(name), **{q: f"{s:g}" for q, s in graded.scores.items()},
                          "total": f"{graded.total:g}", "status": graded.status, "message": graded.message}
            write_table(out, columns, grader.points, rows)  # only this thread writes the table
            print(f"{display_name(name)}: {graded.total:g} points, {graded.status}: {graded.message}", flush=True)
    write_table(out, columns, grader.points, rows)
    print(f"Scores written to {out}")
    if runner.isolated and os.geteuid() == 0:
        print(f"Sandboxes ran as users {', '.join(map(str, runner.users()))} (this run's own)")
    if unisolated:
        print("UNISOLATED run: these submissions were not sandboxed.")
    return 0

