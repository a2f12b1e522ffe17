"""Build the website without any solution, for courses that grade the exercises.

Usage: python tools/build_student_site.py   (run by `make html-student`)

Hiding is not secrecy: a collapsed or removed cell is still in the page's `_sources`, its
downloadable notebook and `jupyter_execute`. So this build starts from sources that never
contain a solution: it copies the book into _build/student-site/, replaces each exercise's
source by its student version (generated from the student notebook), leaves out solutions/
and every hidden check, and builds there. Chapter pages reuse the main build's execution
cache, so they are not executed again when unchanged.

Result: _build/student-site/_build/html/index.html
"""
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, exercise_sources  # noqa: E402

SITE = ROOT / "_build" / "student-site"
COPIED = ["_config.yml", "_toc.yml", "intro.md", "status.md", "bibliography.md", "references.bib", "chapters",
          "hierarchical_helpers", "benchmarks", "_vendor", "_ext", "assets", "_templates"]


def prepare_sources() -> None:
    if SITE.exists():
        shutil.rmtree(SITE)
    SITE.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, SITE / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, SITE / name)
    exercises = SITE / "exercises"
    (exercises / "tests").mkdir(parents=True)
    for source in exercise_sources():
        student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        student.metadata["jupytext"] = {"text_representation": {"extension": ".md", "format_name": "myst"}}
        jupytext.write(student, exercises / source.name, fmt="md:myst")
        shutil.copy2(source.with_suffix(".ipynb"), exercises / source.with_suffix(".ipynb").name)
        shutil.copytree(ROOT / "exercises" / "tests" / source.stem, exercises / "tests" / source.stem)
    config = yaml.safe_load((SITE / "_config.yml").read_text())
    config["title"] = config["title"] + " (student edition)"
    # Reuse the main build's executed chapters; never execute the student exercises, whose
    # answers are blanks.
    config["execute"]["cache"] = str(ROOT / "_build" / ".jupyter_cache")
    config["execute"]["exclude_patterns"] = ["exercises/*"]
    (SITE / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def main():
    prepare_sources()
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), str(SITE)])
    if result.returncode == 0:
        print(f"Student site: {SITE / '_build' / 'html' / 'index.html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
