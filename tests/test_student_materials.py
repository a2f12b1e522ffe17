"""Student notebooks from each exercise's single source: every prompt kept, the Colab set-up right."""
from __future__ import annotations

import json
import re

import jupytext
import nbformat
import pytest

from book_layout import ROOT, exercise_sources, read_lock
from export_public import secret_strings
import colab_setup
import student_materials

SOURCES = exercise_sources()
IDS = [s.stem for s in SOURCES]


def _student(source):
    nb = jupytext.read(source)
    questions = student_materials.tests_by_question(nb)
    public = sorted(f"{q}.py" for q, cases in questions.items() if any(not c.metadata.get("hidden") for c in cases))
    return student_materials.student_notebook(nb, source.stem, public)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_question_prompt_reaches_the_student_notebook(source):
    prompts = re.findall(r"\*\*Question \d+\.\*\*[^\n]*", source.read_text())
    assert prompts, f"{source.name} has no '**Question N.**' prompt"
    text = "\n".join(c.source for c in _student(source).cells if c.cell_type == "markdown")
    missing = [p for p in prompts if p not in text]
    assert not missing, f"{source.name}: prompts missing from the student notebook: {missing}"


def _with_solution_text(text: str):
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": ["solution"]})
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Exercise"), cell])


def test_a_solution_cell_that_swallows_the_next_prompt_is_refused():
    swallowing = ":::{dropdown} Solution\nBecause.\n:::\n\n**Question 5.** By what percentage...?"
    with pytest.raises(SystemExit, match="holds more than its dropdown"):
        student_materials.student_notebook(_with_solution_text(swallowing), "example", [])
    with pytest.raises(SystemExit, match="holds more than its dropdown"):
        student_materials.student_notebook(_with_solution_text("The answer is 4."), "example", [])
    fine = student_materials.student_notebook(_with_solution_text(":::{dropdown} Solution\nBecause.\n:::\n"), "example", [])
    assert fine.cells[1].source == student_materials.ANSWER_PLACEHOLDER


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_the_colab_cell_installs_the_grader_and_fetches_public_checks_from_the_release(source):
    setup = next(c for c in _student(source).cells if "colab-setup" in c.metadata.get("tags", []))
    pins = read_lock()
    url, tag = colab_setup.release()
    raw = url.replace("https://github.com/", "https://raw.githubusercontent.com/")
    no_deps = next(line for line in setup.source.splitlines() if "%pip install --no-deps" in line)
    for package in ("otter-grader", "fica", "ipylab", "python-frontmatter"):
        assert f"{package}=={pins[package]}" in no_deps
    assert f"{raw}/{tag}/exercises/tests/{source.stem}/" in setup.source and "@main" not in setup.source
    assert "check_restart()" in setup.source


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_generated_products_are_current(source):
    nb = jupytext.read(source)
    questions = student_materials.tests_by_question(nb)
    public = sorted(f"{q}.py" for q, cases in questions.items() if any(not c.metadata.get("hidden") for c in cases))
    expected = student_materials.student_notebook(nb, source.stem, public)
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert nbformat.writes(expected) == nbformat.writes(committed), "student notebook is stale: run `make exercises`"
    for question, cases in questions.items():
        full = ROOT / "solutions" / "tests" / source.stem / f"{question}.py"
        assert full.read_text() == student_materials.test_file(question, cases), f"{full.name} is stale: run `make exercises`"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_student_notebook_has_no_solutions_or_hidden_checks(source):
    text = source.with_suffix(".ipynb").read_text()
    student = json.loads(text)
    for cell in student["cells"]:
        assert not cell.get("outputs"), "student notebooks carry no outputs"
        assert not cell.get("attachments"), "student notebooks carry no attachments"
        assert set(cell["metadata"]) <= {"tags"}, "student notebooks carry only tags as cell metadata"
    leaks = [s for s in secret_strings(source) if s in text]
    assert not leaks, f"solution text in the student notebook: {leaks[:3]}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_public_checks_hold_no_hidden_case(source):
    nb = jupytext.read(source)
    hidden = [c.source.split("(")[0].replace("def ", "").strip()
              for c in nb.cells if c.cell_type == "raw" and c.metadata.get("hidden")]
    public_text = "".join(p.read_text() for p in (ROOT / "exercises" / "tests" / source.stem).glob("*.py"))
    assert hidden and not any(name in public_text for name in hidden)
    assert "hidden=True" not in public_text


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_student_notebook_sets_itself_up_on_colab(source):
    student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    setup = student.cells[1]
    assert "colab-setup" in setup.metadata["tags"] and 'if "google.colab" in sys.modules' in setup.source
    assert f"exercises/tests/{source.stem}/" in setup.source and "urlretrieve" in setup.source
    checks = [c for c in student.cells if "check" in c.metadata.get("tags", [])]
    assert checks and all("grader.check(" in c.source for c in checks)
