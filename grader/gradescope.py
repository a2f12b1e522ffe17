"""The Gradescope autograder: the same sandboxed grading, for courses larger than one machine.

Usage: python tools/gradescope.py build EXERCISE [--out ZIP]   (run by `make gradescope EXERCISE=...`)
       python grader/gradescope.py run                        (inside the autograder, by run_autograder)

`build` writes _build/gradescope/<exercise>.zip, to upload as a Gradescope "autograder" (its
hidden checks make it instructors-only, like solutions/). Its `setup.sh`, run once by Gradescope
when it builds the image, installs bubblewrap and this book's exact environment (Python 3.13 and
requirements.lock, by uv) and the helper package. Its `run_autograder`, run for each submission,
grades the submitted notebook exactly as `make grade` does (tools/grade.py: a bubblewrap sandbox,
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

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

GRADER_FILES = ["gradescope.py", "grade.py", "checks.py", "answers.py", "sandbox.py", "sandbox_runner.py"]
DEFAULT_TIMEOUT = 300

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
python3 -m uv pip install --python .venv/bin/python --no-deps ./helpers
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
# Compiled once here, read-only for every sandbox afterwards.
.venv/bin/python -m compileall -q -j 0 .venv/lib || true
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission: grade it and write results/results.json.
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-$ROOT/source/.venv/bin/python}"
exec "$PYTHON" "$ROOT/source/grader/gradescope.py" run --root "$ROOT"
"""


def build(exercise_name: str, out: Path | None = None, unisolated: bool = False, timeout: int = DEFAULT_TIMEOUT) -> Path:
    from book_layout import ROOT, read_lock

    import grade

    exercise = grade.Exercise.from_repository(exercise_name, ROOT)
    out = out or ROOT / "_build" / "gradescope" / f"{exercise_name}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "setup.sh": SETUP.format(uv=f"uv=={read_lock()['uv']}").encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        "requirements.lock": (ROOT / "requirements.lock").read_bytes(),
        "helpers/pyproject.toml": (ROOT / "pyproject.toml").read_bytes(),
        "exercise/exercise.json": json.dumps({"name": exercise_name, "timeout": timeout,
                                              "unisolated": unisolated}).encode(),
    }
    for name in GRADER_FILES:
        files[f"grader/{name}"] = (ROOT / "tools" / name).read_bytes()
    for path in sorted((ROOT / "hierarchical_helpers").glob("*.py")):
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
    import grade
    import sandbox

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
    grader = grade.Grader(exercise, runner, int(config.get("timeout", DEFAULT_TIMEOUT)))
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("build", help="write the autograder zip")
    making.add_argument("exercise")
    making.add_argument("--out", type=Path)
    making.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT)
    making.add_argument("--unisolated", action="store_true", help="run submissions WITHOUT a sandbox")
    running = commands.add_parser("run", help="grade /autograder/submission (inside Gradescope)")
    running.add_argument("--root", type=Path, default=Path(os.environ.get("GRADESCOPE_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    if args.command == "build":
        out = build(args.exercise, args.out, args.unisolated, args.timeout)
        print(f"Gradescope autograder: {out} (it holds the hidden checks: instructors only)")
        return 0
    return run(args.root)


if __name__ == "__main__":
    sys.exit(main())
