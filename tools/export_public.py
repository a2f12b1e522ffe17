"""Export what students may see into _build/public/: the contents of the public repository.

Usage: python tools/export_public.py [--out FOLDER]   (run by `make public`)

The instructor's repository (this one) holds every exercise's single source (exercises/*.md),
the answer keys and all checks (solutions/), the tools and the tests. None of that may reach a
student. The public repository, named in _config.yml (`repository: url:`), is what Colab, Binder
and the student site's links open, and what the Colab set-up cells download from, at the release
tag v<version of pyproject.toml>. This command writes its contents:

  chapters/*.md, chapters/*.ipynb       the chapter's pages, as sources and executed notebooks
  exercises/*.ipynb                     the student notebooks (no solution, no hidden check)
  exercises/tests/<name>/q*.py          the public checks the student notebooks read
  hierarchical_helpers/, pyproject.toml the helper package (Colab installs it from the tag by git)
  environment.yml, postBuild            what Binder installs
  README.md                             a short guide for students

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

OUT = ROOT / "_build" / "public"
ROOT_FILES = ["pyproject.toml", "environment.yml", "postBuild", "jupytext.toml"]


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
        "  (`environment.yml`, then `postBuild` installs the helper package).",
        "* **Your own computer**: Python 3.13, then `pip install -r` the packages listed in",
        "  `environment.yml` and `pip install .` in this folder.",
        "",
        "## Exercises",
        "",
        "Answer each question in the cell below it, replacing `...`, and run the check cell after it",
        "(`grader.check(\"q1\")`): it runs the public checks in `exercises/tests/<exercise>/`. Passing them",
        "means your answer has the right form; your course grades it with further checks that are not",
        "published. Hand in the notebook file itself (File > Download > .ipynb) as your course asks.",
        "",
        f"This is release {tag}. The exercises' solutions are not part of it.",
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


def export(out: Path = OUT) -> list[Path]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    (out / "chapters").mkdir()
    for path in sorted((ROOT / "chapters").iterdir()):
        if path.suffix in (".md", ".ipynb"):
            shutil.copy2(path, out / "chapters" / path.name)
    (out / "exercises" / "tests").mkdir(parents=True)
    for source in exercise_sources():
        shutil.copy2(source.with_suffix(".ipynb"), out / "exercises" / f"{source.stem}.ipynb")
        shutil.copytree(ROOT / "exercises" / "tests" / source.stem, out / "exercises" / "tests" / source.stem,
                        ignore=ignore)
    shutil.copytree(ROOT / "hierarchical_helpers", out / "hierarchical_helpers", ignore=ignore)
    for name in ROOT_FILES:
        shutil.copy2(ROOT / name, out / name)
    (out / "README.md").write_text(student_readme())
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
    print("Commit them to the public repository and tag the commit with that release (README, \"Releases\").")
    return 0


if __name__ == "__main__":
    sys.exit(main())
