"""Export what students may see into _build/public/: the contents of the public repository.

Usage: python tools/export_public.py [--out FOLDER]   (run by `make public`)

The instructor's repository (this one) holds every exercise's single source (exercises/*.md),
the answer keys and all checks (solutions/), the tools and the tests. None of that may reach a
student. The public repository, named in _config.yml (`repository: url:`), is what Colab, Binder
and the student site's links open, and what the Colab set-up cells download from, at the release
tag v<version of pyproject.toml>. This command writes its contents:

  chapters/*.md                         the chapter's pages as MyST sources (what "edit" opens)
  chapters/*.ipynb                      the reader notebooks: executed, outputs kept, prose in plain
                                        Markdown (tools/reader_notebooks.py); Colab and Binder open them
  exercises/*.ipynb                     the student notebooks made readable the same way (no solution,
                                        no hidden check, no value glued by a solution; their public
                                        checks in their metadata): what the student website's
                                        download buttons offer too
  exercises/tests/<name>/q*.py          the public checks the student notebooks read
  hierarchical_helpers/, pyproject.toml the helper package (Colab installs it from the tag by git)
  environment.yml, requirements-nodeps.txt, postBuild
                                        what Binder installs
  jupytext.toml                         pairs nothing (see PUBLIC_JUPYTEXT)
  LICENSE, LICENSE-CONTENT, CITATION.cff the licences (code MIT, text and figures CC BY 4.0), how to cite
  README.md                             a short guide for students
  .github/workflows/*.yml               its GitHub Actions (publish/workflows/): the website deployed
                                        to GitHub Pages from each release, a weekly link check, the
                                        notebooks run in Binder's environment on pull requests

and nothing else. Before finishing it searches every exported file for the text of solutions and
hidden checks, and for the exercise sources' own markers, and fails if it finds any.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

import jupytext

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, exercise_sources, repository  # noqa: E402
import reader_notebooks  # noqa: E402
from colab_setup import local_install_command  # noqa: E402

OUT = ROOT / "_build" / "public"
ROOT_FILES = ["environment.yml", "requirements-nodeps.txt", "postBuild", "LICENSE", "LICENSE-CONTENT",
              "CITATION.cff"]
# The grader (grader/, its `book-grade` command and the `grader` extra) is instructors' tooling
# and is not exported: the public pyproject.toml leaves out these tables of this one.
GRADER_TABLES = ("project.optional-dependencies", "project.scripts")
# The public repository's GitHub Actions workflows, kept here and copied as they are.
WORKFLOWS = ROOT / "publish" / "workflows"
# In this repository jupytext pairs each chapter's MyST source with its executed notebook. The
# public repository's notebooks are reader notebooks, generated from both: paired, a jupytext-enabled
# Jupyter (Binder installs jupytext) would open a chapter's notebook with the MyST text of its
# twin, and saving one would overwrite the other. So the public repository pairs nothing: each
# .md opens as a MyST notebook of its own and each .ipynb as the reader notebook it is.
PUBLIC_JUPYTEXT = """# The public repository pairs nothing: chapters/*.ipynb are reader notebooks generated from the
# MyST sources chapters/*.md and their executed notebooks, and each opens on its own.
"""


def release_tag(root: Path = ROOT) -> str:
    return "v" + tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def student_readme() -> str:
    url, _ = repository()
    tag = release_tag()
    path = url.removeprefix("https://github.com/")
    lines = [
        "# Hierarchical Models and Partial Pooling: notebooks and exercises",
        "",
        "The chapter's pages as notebooks (`chapters/`) and its exercises as notebooks for you to",
        "complete (`exercises/`). Every notebook runs top to bottom on its own.",
        "",
        "## Opening a notebook",
        "",
        f"* **Google Colab**: `https://colab.research.google.com/github/{path}/blob/{tag}/<folder>/<notebook>.ipynb`.",
        "  The first cell installs what Colab lacks; run it first. If it asks you to restart the",
        "  runtime, do so and run the notebook again from the top.",
        f"* **Binder**: `https://mybinder.org/v2/gh/{path}/{tag}` builds this repository's environment",
        "  (`environment.yml`, then `postBuild` installs `requirements-nodeps.txt` without their",
        "  dependencies and the helper package).",
        "* **Your own computer**: Python 3.13, then `pip install -r` the packages listed in",
        "  `environment.yml`, `pip install --no-deps -r requirements-nodeps.txt` and `pip install .`",
        "  in this folder. A single exercise notebook needs only",
        f"  `{local_install_command()}`.",
        "",
        "## Exercises",
        "",
        "Answer each question in the cell below it, replacing `...`, and run the check cell after it",
        "(`grader.check(\"q1\")`): it runs the public checks in `exercises/tests/<exercise>/`, or, for a",
        "notebook downloaded on its own, the same checks stored in the notebook. Passing them",
        "means your answer has the right form; your course grades it with further checks that are not",
        "published. Hand in the notebook file itself (File > Download > .ipynb) as your course asks.",
        "",
        f"This is release {tag}. The exercises' solutions are not part of it.",
        "",
        "The code is under the MIT licence (`LICENSE`), the text and figures under CC BY 4.0",
        "(`LICENSE-CONTENT`); `CITATION.cff` says how to cite the book.",
    ]
    return "\n".join(lines) + "\n"


def public_text() -> str:
    """Everything a student may see anyway: the chapters, the helper package (whose models the
    chapters show), every exercise's non-solution cells and its public checks."""
    parts = [p.read_text() for p in (ROOT / "chapters").glob("*.md")]
    parts += [p.read_text() for p in (ROOT / "hierarchical_helpers").glob("*.py")]
    parts += [p.read_text() for p in (ROOT / "exercises" / "tests").glob("*/q*.py")]
    for source in exercise_sources():
        for cell in jupytext.read(source).cells:
            if "solution" not in cell.metadata.get("tags", []) and cell.cell_type != "raw":
                parts.append(cell.source)
            parts.append(cell.metadata.get("student", ""))
    return "\n".join(parts)


def secret_strings(source: Path, public: str | None = None) -> set[str]:
    """The distinctive text of one exercise's solutions and hidden checks: their lines of 25
    characters or more that appear nowhere public, and the names of its hidden check functions."""
    public = public_text() if public is None else public
    lines, names = set(), set()
    for cell in jupytext.read(source).cells:
        hidden = cell.cell_type == "raw" and cell.metadata.get("hidden")
        if hidden or "solution" in cell.metadata.get("tags", []):
            lines.update(line.strip() for line in cell.source.splitlines())
        if hidden:
            names.add(cell.source.split("(")[0].replace("def ", "").strip())
    lines = {line for line in lines
             if len(line) >= 25 and line not in public and not line.startswith((":::", "import ", "from "))}
    return lines | {name for name in names if name and name not in public}


def all_secrets() -> set[str]:
    public = public_text()
    return set().union(*(secret_strings(source, public) for source in exercise_sources()))


def leaks(folder: Path) -> list[str]:
    """Exported files that hold solution or hidden-check text, or exercise-source markers."""
    secrets = all_secrets()
    markers = ["hidden=True", "hidden: true", "tags: [solution", "{dropdown} Solution", "```{raw-cell}"]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        hits = [m for m in markers if m in text] + [s for s in secrets if s in text]
        if hits:
            found.append(f"{path.relative_to(folder)}: {hits[0][:80]!r}")
    return found


def public_pyproject(text: str) -> str:
    """This repository's pyproject.toml without GRADER_TABLES (each with the comment lines just
    above its header): the public copy declares no command whose package it does not ship."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[") and header.endswith("]"):
            dropping = header.strip("[]").strip() in GRADER_TABLES
            if dropping:
                while kept and kept[-1].lstrip().startswith("#"):
                    kept.pop()
        if not dropping:
            kept.append(line)
    public = "".join(kept)
    parsed = tomllib.loads(public)
    if "scripts" in parsed["project"] or "optional-dependencies" in parsed["project"]:
        raise SystemExit("the public pyproject.toml would still declare the grader")
    return public


def export(out: Path = OUT, build_site: bool = True) -> list[Path]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    readers = reader_notebooks.generate(reader_notebooks.OUT, build=build_site)
    reader = {path.relative_to(reader_notebooks.OUT).as_posix(): path for path in readers}
    (out / "chapters").mkdir()
    for path in sorted((ROOT / "chapters").iterdir()):
        if path.suffix == ".md":
            shutil.copy2(path, out / "chapters" / path.name)
        elif path.suffix == ".ipynb":
            shutil.copy2(reader[f"chapters/{path.name}"], out / "chapters" / path.name)
    (out / "exercises" / "tests").mkdir(parents=True)
    for source in exercise_sources():
        shutil.copy2(reader[f"exercises/{source.stem}.ipynb"], out / "exercises" / f"{source.stem}.ipynb")
        shutil.copytree(ROOT / "exercises" / "tests" / source.stem, out / "exercises" / "tests" / source.stem,
                        ignore=ignore)
    shutil.copytree(ROOT / "hierarchical_helpers", out / "hierarchical_helpers", ignore=ignore)
    for name in ROOT_FILES:
        shutil.copy2(ROOT / name, out / name)
    (out / "pyproject.toml").write_text(public_pyproject((ROOT / "pyproject.toml").read_text()))
    (out / "jupytext.toml").write_text(PUBLIC_JUPYTEXT)
    (out / "README.md").write_text(student_readme())
    shutil.copytree(WORKFLOWS, out / ".github" / "workflows")
    problems = leaks(out)
    if problems:
        shutil.rmtree(out)
        raise SystemExit("Refusing to export: solution or hidden-check text in\n  " + "\n  ".join(problems))
    return sorted(p for p in out.rglob("*") if p.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    files = export(args.out)
    print(f"{len(files)} files in {args.out}, the public repository's contents for release {release_tag()}.")
    print("Commit them to the public repository and tag the commit with that release (CONTRIBUTING.md, \"Releases\").")
    return 0


if __name__ == "__main__":
    sys.exit(main())
