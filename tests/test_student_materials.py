"""Student notebooks from each exercise's single source: every prompt kept, the Colab set-up right."""
from __future__ import annotations

import re

import jupytext
import nbformat
import pytest

from book_layout import exercise_sources, read_lock
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
