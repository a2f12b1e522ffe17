"""Exercises: one source, and student products that never contain a solution or hidden check."""
import html
import json
import re
import subprocess
import sys

import jupytext
import nbformat
import pytest

from book_layout import ROOT, exercise_sources
import student_materials
from execute_notebooks import failed_checks

SOURCES = exercise_sources()
IDS = [s.stem for s in SOURCES]


def _public_text() -> str:
    """Everything a student may see: chapters and every exercise's non-solution cells."""
    parts = [p.read_text() for p in (ROOT / "chapters").glob("*.md")]
    for source in SOURCES:
        for cell in jupytext.read(source).cells:
            if "solution" not in cell.metadata.get("tags", []) and cell.cell_type != "raw":
                parts.append(cell.source)
            parts.append(cell.metadata.get("student", ""))
    return "\n".join(parts)


PUBLIC_TEXT = _public_text()


def solution_strings(source) -> set[str]:
    """Distinctive text of the solutions and hidden checks: lines that appear nowhere a student may look."""
    secret = []
    for cell in jupytext.read(source).cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags or (cell.cell_type == "raw" and cell.metadata.get("hidden")):
            secret.extend(line.strip() for line in cell.source.splitlines())
    return {line for line in secret
            if len(line) >= 25 and line not in PUBLIC_TEXT and not line.startswith((":::", "import ", "from "))}


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_answer_key_passes_every_check(source):
    """The committed answer key ran every check, hidden ones included, and none failed."""
    key = nbformat.read(ROOT / "solutions" / f"{source.stem}.ipynb", as_version=4)
    checks = [c for c in key.cells if c.cell_type == "code" and "check" in c.metadata.get("tags", [])]
    assert checks and all(c.outputs for c in checks), f"{source.stem}: the answer key has unexecuted checks"
    failures = failed_checks(key)
    assert not failures, f"{source.stem}: run `make notebooks PAGES=exercises/{source.stem}.md`\n" + "\n".join(failures)


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
    leaks = [s for s in solution_strings(source) if s in text]
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


def _visible_text(path):
    raw = path.read_text(errors="replace")
    if path.suffix == ".html":
        return raw + "\n" + html.unescape(re.sub(r"<[^>]+>", "", raw))
    return raw


def test_student_site_contains_no_solution_text():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_student_site.py")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    built = ROOT / "_build" / "student-site" / "_build"
    files = [p for p in built.rglob("*") if p.is_file() and p.suffix in {".html", ".md", ".ipynb", ".txt", ".js", ".json", ".py"}]
    assert (built / "html" / "exercises" / "shrinkage-arithmetic.html").exists()
    secrets = set().union(*(solution_strings(s) for s in SOURCES))
    assert secrets, "no distinctive solution strings were found to search for"
    # The search works: the ordinary site, which does carry the solutions, is caught by it.
    main_sources = ROOT / "_build" / "html" / "_sources" / "exercises"
    if main_sources.exists():
        assert any(s in _visible_text(p) for p in main_sources.iterdir() for s in secrets)
    leaks = {(str(p.relative_to(built)), s) for p in files for s in secrets if s in _visible_text(p)}
    assert not leaks, f"solution text in the student site: {sorted(leaks)[:5]}"
    assert not (built / "html" / "solutions").exists()
