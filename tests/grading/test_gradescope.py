"""The Gradescope autograder zip, run in a simulated Gradescope layout."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from book_layout import ROOT
import published
from grader import module_files, sandbox

pytestmark = pytest.mark.slow  # grades notebooks in sandboxes

EXERCISE = "shrinkage-arithmetic"


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / f"{EXERCISE}.zip"
    built = subprocess.run([str(Path(sys.executable).parent / "book-grade"), "gradescope", EXERCISE, "--book", str(ROOT), "--out", str(out),
                            "--timeout", "120"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _submission(answered: set[str] | None):
    student = nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)
    key = nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)
    solutions = [c.source for c in key.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    nb = copy.deepcopy(student)
    answers = [c for c in nb.cells if c.cell_type == "code" and "answer" in c.metadata.get("tags", [])]
    for number, (cell, solution) in enumerate(zip(answers, solutions)):
        if answered is None or number in answered:
            cell.source = solution
    return nb


def run_autograder(autograder, tmp_path, nb) -> dict:
    """Gradescope's layout: the zip unpacked in source/, the submission in submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    nbformat.write(nb, root / "submission" / "my work.ipynb")
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_the_grader_and_the_checks_but_no_answer_key(autograder):
    names = set(zipfile.ZipFile(autograder).namelist())
    assert {"setup.sh", "run_autograder", "requirements.lock", "exercise/exercise.json", "helpers/pyproject.toml",
            *(f"helpers/grader/{name}" for name in module_files())} <= names  # the whole package, installed by setup.sh
    assert {f"exercise/checks/q{n}.py" for n in range(1, 7)} <= names
    assert not any("solutions" in n or n.endswith(".md") for n in names)
    setup = zipfile.ZipFile(autograder).read("setup.sh").decode()
    assert "apt-get install -y --no-install-recommends bubblewrap" in setup and "uv pip sync" in setup


@pytest.mark.usefixtures("sandbox_here")
def test_one_submission_graded_as_make_grade_does(autograder, tmp_path):
    """Questions 1-3 right, the rest left, comparisons patched (which would pass q5 and q6's
    hidden checks inside the kernel): 10 of 19, public feedback shown, hidden output never."""
    nb = _submission({0, 1, 2})
    cheat = "import builtins, numpy\nnumpy.allclose = lambda *a, **k: True\nbuiltins.abs = lambda x: 0"
    setup = next(i for i, c in enumerate(nb.cells) if "otter.Notebook" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(cheat))
    result = run_autograder(autograder, tmp_path, nb)
    assert result["score"] == 10 and sum(t["max_score"] for t in result["tests"]) == 19
    assert sum(t["score"] for t in result["tests"]) == 10
    hidden = [t for t in result["tests"] if "hidden" in t["name"]]
    assert hidden and all(t["output"] == "" and t["visibility"] == "after_published" for t in hidden)
    assert any(t["output"] == "q4: not answered yet" for t in result["tests"] if "hidden" not in t["name"])
    text = json.dumps(result)
    assert not [s for s in published.all_secrets() if s in text]
