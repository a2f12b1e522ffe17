"""The Gradescope autograder: the same sandboxed grading, for courses larger than one machine.

Usage: book-grade gradescope EXERCISE [--book PATH] [--out ZIP]   (run by `make gradescope EXERCISE=...`)
       book-grade gradescope-run                        (inside the autograder, by run_autograder)

`build` writes <book>/_build/gradescope/<exercise>.zip, to upload as a Gradescope "autograder" (its
hidden checks make it instructors-only, like solutions/). Its `setup.sh`, run once by Gradescope
when it builds the image, installs bubblewrap and this book's exact environment (Python 3.13 and
requirements.lock, by uv), the helper package and this grader package. Its `run_autograder`, run for each submission,
grades the submitted notebook exactly as `make grade` does (grader/grade.py: a bubblewrap sandbox,
answers exported as plain data, every check run outside it) and writes Gradescope's
results/results.json: the score (capped at the points possible), the row's message, and one
test per check case. Public cases show their fixed message; hidden cases show only pass or fail,
never any output, and only once the instructor publishes the grades.

If bubblewrap cannot make a sandbox in Gradescope's container, nothing of the submission runs:
the result says so (score 0), unless the zip was built with --unisolated, which runs
submissions without isolation (they could then read the hidden checks and the results file).

The autograder's root is /autograder, or $GRADESCOPE_ROOT (the tests use a temporary folder), and
its Python the environment setup.sh made, or $GRADER_PYTHON.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

from grader import grade, limits, module_files, sandbox

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
apt-get update
# bubblewrap makes each submission's sandbox; g++ compiles PyTensor's C code.
apt-get install -y --no-install-recommends bubblewrap util-linux g++ python3-pip python3-venv
python3 -m pip install --break-system-packages "{uv}" || python3 -m pip install "{uv}"
python3 -m uv python install 3.13
python3 -m uv venv --python 3.13 .venv
python3 -m uv pip sync --python .venv/bin/python requirements.lock
python3 -m uv pip install --python .venv/bin/python --no-deps ./helpers  # the helpers and this grader
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
# Compiled once here, read-only for every sandbox afterwards.
.venv/bin/python -m compileall -q -j 0 .venv/lib || true
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission: grade it and write results/results.json.
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-$ROOT/source/.venv/bin/python}"
# The grader's command, installed beside that Python by setup.sh (from this zip's helpers/).
exec "$(dirname "$PYTHON")/book-grade" gradescope-run --root "$ROOT"
"""


def build(exercise_name: str, book: Path, out: Path | None = None, unisolated: bool = False,
          timeout: int = limits.DEFAULT_TIMEOUT) -> Path:
    """The autograder zip of one exercise of the book in the folder `book`."""
    exercise = grade.Exercise.from_book(exercise_name, book)
    lock = book / "requirements.lock"
    uv = re.search(r"^uv==(\S+)", lock.read_text(), re.M) if lock.exists() else None
    if uv is None:
        raise SystemExit(f"{lock} does not pin uv (uv==...): the autograder installs the environment with it.")
    out = out or book / "_build" / "gradescope" / f"{exercise_name}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "setup.sh": SETUP.format(uv=uv.group(0)).encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        "requirements.lock": lock.read_bytes(),
        "helpers/pyproject.toml": (book / "pyproject.toml").read_bytes(),
        "exercise/exercise.json": json.dumps({"name": exercise_name, "timeout": timeout,
                                              "unisolated": unisolated}).encode(),
    }
    for name, path in module_files().items():
        files[f"helpers/grader/{name}"] = path.read_bytes()
    for path in sorted((book / "hierarchical_helpers").glob("*.py")):
        files[f"helpers/hierarchical_helpers/{path.name}"] = path.read_bytes()
    for path in sorted(exercise.checks.glob("q*.py")):
        files[f"exercise/checks/{path.name}"] = path.read_bytes()
    for path in sorted(exercise.public_checks.glob("q*.py")):
        files[f"exercise/public/{path.name}"] = path.read_bytes()
    if exercise.template is not None and exercise.template.exists():
        files["exercise/template.ipynb"] = exercise.template.read_bytes()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return out


def results(grader, graded, note: str = "") -> dict:
    """Gradescope's results.json for one graded submission."""
    tests = []
    hidden_number: dict[str, int] = {}
    for case in graded.cases:
        question = case["question"]
        if case["hidden"]:
            hidden_number[question] = hidden_number.get(question, 0) + 1
            name, output, visibility = f"{question}: hidden check {hidden_number[question]}", "", "after_published"
        else:
            name = f"{question}: {case['name']}"
            output = "passed" if case["passed"] else case.get("feedback", "failed")
            visibility = "visible"
        tests.append({"name": name, "score": case["points"] if case["passed"] else 0.0,
                      "max_score": case["points"], "output": output, "visibility": visibility})
    possible = sum(grader.points.values())
    return {"score": min(graded.total, possible), "output": (note + graded.message).strip(),
            "tests": tests, "visibility": "visible", "stdout_visibility": "hidden"}


def run(root: Path) -> int:
    source = root / "source"
    config = json.loads((source / "exercise" / "exercise.json").read_text())
    exercise = grade.Exercise(config["name"], source / "exercise" / "checks", source / "exercise" / "public",
                              source / "exercise" / "template.ipynb", None)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(result: dict) -> None:
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".results.")
        with os.fdopen(handle, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(temporary, out)

    if not config.get("unisolated"):
        problem = sandbox.problem()
        if problem:
            print(f"no sandbox: {problem}", file=sys.stderr)
            write({"score": 0, "tests": [], "output": "The autograder could not start its sandbox on this "
                   "Gradescope image, so nothing was run. Your instructor has to fix the autograder; "
                   "resubmit afterwards."})
            return 0
    runner = grade.make_runner(bool(config.get("unisolated")), grade.readable_roots(), grade.sandbox_environment())
    grader = grade.Grader(exercise, runner, int(config.get("timeout", limits.DEFAULT_TIMEOUT)))
    notebooks = sorted(p for p in (root / "submission").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    preferred = [p for p in notebooks if p.name == f"{config['name']}.ipynb"]
    if not notebooks:
        write({"score": 0, "tests": [], "output": "No notebook (.ipynb file) was submitted."})
        return 0
    chosen = (preferred or notebooks)[0]
    note = "" if len(notebooks) == 1 else f"Several notebooks were submitted; {chosen.name} was graded. "
    graded = grader.grade(chosen)
    if graded.status in (grade.GRADER_ERROR, grade.NOT_ANALYSED):
        graded = grader.grade(chosen)  # one retry for a failure of the grader itself
    write(results(grader, graded, note))
    return 0
