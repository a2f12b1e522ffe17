"""The public export (`make public`): everything students may see, and nothing else."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from book_layout import ROOT, exercise_sources, repository
import export_public
import published


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("public") / "public"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "export_public.py"), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_export_holds_exactly_the_public_products(exported):
    files = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()}
    names = [s.stem for s in exercise_sources()]
    expected = {"README.md", "pyproject.toml", "environment.yml", "requirements-nodeps.txt", "postBuild", "jupytext.toml",
                "LICENSE", "LICENSE-CONTENT", "CITATION.cff"}
    expected |= {f"chapters/{p.name}" for p in (ROOT / "chapters").iterdir() if p.suffix in (".md", ".ipynb")}
    expected |= {f"exercises/{n}.ipynb" for n in names}
    expected |= {f"exercises/tests/{n}/{p.name}" for n in names for p in (ROOT / "exercises" / "tests" / n).glob("q*.py")}
    expected |= {f"hierarchical_helpers/{p.name}" for p in (ROOT / "hierarchical_helpers").glob("*.py")}
    expected |= {f".github/workflows/{p.name}" for p in export_public.WORKFLOWS.glob("*.yml")}
    assert files == expected
    assert not any(f.startswith(("solutions/", "tools/", "tests/")) or (f.startswith("exercises/") and f.endswith(".md"))
                   for f in files)


def test_no_solution_or_hidden_check_is_published(exported):
    secrets = published.all_secrets()
    assert secrets
    # The search works: it finds the secrets where they are meant to be.
    assert any(s in source.read_text() for source in exercise_sources() for s in secrets)
    assert any(s in p.read_text() for p in (ROOT / "solutions" / "tests").rglob("q*.py") for s in secrets)
    leaks = [(p.name, s) for p in exported.rglob("*") if p.is_file() for s in secrets if s in p.read_text(errors="replace")]
    assert not leaks, leaks[:5]
    assert "hidden=True" not in "".join(p.read_text() for p in exported.rglob("*.py"))


def test_the_committed_student_products_hold_no_secret():
    """Student notebooks and public checks, as committed (what the export copies)."""
    secrets = published.all_secrets()
    for source in exercise_sources():
        products = [source.with_suffix(".ipynb"), *(ROOT / "exercises" / "tests" / source.stem).glob("q*.py")]
        for path in products:
            text = path.read_text()
            assert not [s for s in secrets if s in text], path


def test_the_export_refuses_to_finish_with_a_leak(tmp_path):
    shutil.copytree(ROOT / "solutions" / "tests" / "shrinkage-arithmetic", tmp_path / "checks")
    assert export_public.leaks(tmp_path)


def test_the_student_readme_points_to_the_release(exported):
    url, _ = repository()
    readme = (exported / "README.md").read_text()
    tag = export_public.release_tag()
    assert f"{url.removeprefix('https://github.com/')}/blob/{tag}/" in readme and "solutions are not part" in readme


def test_the_export_carries_reader_notebooks_that_pair_with_nothing(exported):
    """Colab and Binder open the export's notebooks: reader notebooks, not the MyST-marked-up ones,
    and jupytext (installed on Binder) must not pair them back to their MyST sources."""
    import json
    import re

    for notebook in sorted(exported.glob("*/*.ipynb")):
        nb = json.loads(notebook.read_text())
        assert "jupytext" not in nb["metadata"], notebook
        prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert not re.search(r"\{(glue|term|cite|numref|eq|doc|ref)[:a-z]*\}`", prose), notebook
    chapter = json.loads((exported / "chapters" / "pooling-problem.ipynb").read_text())
    assert any(c.get("outputs") for c in chapter["cells"] if c["cell_type"] == "code"), "outputs were dropped"
    config = (exported / "jupytext.toml").read_text()
    assert not [line for line in config.splitlines() if line.strip() and not line.startswith("#")], config
    student = json.loads((exported / "exercises" / "non-centred.ipynb").read_text())
    assert student["metadata"]["otter"]["tests"], "the student notebook lost its embedded checks"
    assert "MIT" in (exported / "LICENSE").read_text()
    assert "CC BY 4.0" in (exported / "LICENSE-CONTENT").read_text()


def test_the_exports_exercise_notebooks_are_student_reader_notebooks(exported):
    """The public repository's exercise notebooks (what Colab and Binder open) are the student
    notebooks made readable: their code and public checks, no output, written answers left to the
    student, and none of the values the answer key glues from its solutions."""
    import nbformat

    from student_materials import ANSWER_PLACEHOLDER

    for source in exercise_sources():
        nb = nbformat.read(exported / "exercises" / f"{source.stem}.ipynb", as_version=4)
        student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        assert nb.metadata["reader_notebook"]["web_page"].endswith(f"exercises/{source.stem}.html")
        assert [c.source for c in nb.cells if c.cell_type == "code"] == \
            [c.source for c in student.cells if c.cell_type == "code"], source.stem
        assert nb.metadata["otter"] == student.metadata["otter"], source.stem
        assert not any(c.get("outputs") or "solution" in c.metadata.get("tags", []) for c in nb.cells)
        written = {c.source for c in nb.cells if c.cell_type == "markdown" and "answer" in c.metadata.get("tags", [])}
        assert written == {ANSWER_PLACEHOLDER}, source.stem
        assert published.glued_answers(source.stem), f"{source.stem}: no glued answer to look for"
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert not published.glued_answers_shown(source.stem, prose), source.stem


def test_the_public_pyproject_declares_no_grader_and_still_builds_the_helpers():
    """grader/ is not exported: the public pyproject.toml declares neither its command nor its
    extra (a script whose package is absent would install broken), and its package discovery
    finds the helpers alone."""
    import tomllib

    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())
    public = tomllib.loads(export_public.public_pyproject((ROOT / "pyproject.toml").read_text()))
    assert ours["project"]["scripts"] == {"book-grade": "grader.cli:main"} and "grader" in ours["project"][
        "optional-dependencies"]
    assert "scripts" not in public["project"] and "optional-dependencies" not in public["project"]
    assert public["project"] == {
        k: v for k, v in ours["project"].items() if k not in ("scripts", "optional-dependencies")}
    assert public["tool"] == ours["tool"]
