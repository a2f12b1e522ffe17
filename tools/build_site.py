"""Build the website from the committed executed notebooks, without executing anything.

Usage: python tools/build_site.py [main|student] [--book DIR]   (run by `make html`, `make html-student`)

The site shows exactly the notebooks `make notebooks` executed and committed, the ones Colab and
Binder open: one execution feeds both. The build assembles its sources in _build/site-src/<edition>/
and runs Jupyter Book there with execution switched off, failing on any warning:

* chapters: the executed notebooks chapters/*.ipynb;
* exercises, main edition: the executed answer key without its checks (solutions collapsed on
  the page); its download button offers the student notebook instead, so no published file
  carries a solution or a hidden check;
* exercises, student edition (for graded courses): the student notebook, with no solution at all.

Both editions' download buttons offer each page's reader notebook (tools/reader_notebooks.py,
written from the edition's own Sphinx environment to _build/reader/ (main) or
_build/student-site/reader/ (student)): the notebook Colab and Binder open from the public
repository, whose Markdown any Jupyter renders. An exercise's is its student notebook made
readable, in both editions: no solution, and no value glued by a solution.

Files are copied only when their content changed, so an unchanged rebuild is quick.
Output: _build/html (main) or _build/student-site/html (student). The main edition offers the
book's PDF (copied to `book.pdf`, linked from the landing page) whenever `make pdf` has written
_build/pdf/book.pdf (or the file BOOK_PDF names).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, exercise_sources, release_tag  # noqa: E402
from colab_setup import local_install_command  # noqa: E402
from vendor_assets import install_mathjax  # noqa: E402

# Copied as they are into the assembled sources.
BOOK_FILES = ["_toc.yml", "intro.md", "status.md", "glossary.md", "bibliography.md", "references.bib"]
BOOK_FOLDERS = ["_ext", "_templates", "assets", "benchmarks", "_vendor", "hierarchical_helpers"]
OUTPUT = {"main": ROOT / "_build" / "html", "student": ROOT / "_build" / "student-site" / "html"}
# Where `make pdf` writes the book's PDF (tools/build_pdf.py); the main edition offers it if it exists.
BOOK_PDF = ROOT / "_build" / "pdf" / "book.pdf"


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sync_folder(source: Path, target: Path) -> None:
    wanted = set()
    for file in source.rglob("*"):
        if file.is_file() and "__pycache__" not in file.parts:
            relative = file.relative_to(source)
            wanted.add(relative)
            _write_if_changed(target / relative, file.read_bytes())
    for file in list(target.rglob("*")) if target.exists() else []:
        if file.is_file() and file.relative_to(target) not in wanted:
            file.unlink()


def exercise_web_notebook(answer_key: Path) -> nbformat.NotebookNode:
    """The answer key as the main website shows it: solutions and their outputs, no checks."""
    nb = nbformat.read(answer_key, as_version=4)
    nb.cells = [cell for cell in nb.cells
                if cell.cell_type != "raw" and "check" not in cell.metadata.get("tags", [])]
    return nb


def site_config(edition: str, book: Path = ROOT) -> dict:
    config = yaml.safe_load((book / "_config.yml").read_text())
    if edition == "student":
        config["title"] = config.get("title", "") + " (student edition)"
    # Used by the book's Sphinx extension: which edition this is, and where each exercise's
    # student notebook is (the main edition offers it as the exercise page's download).
    config.setdefault("sphinx", {}).setdefault("config", {})["book_edition"] = edition
    # Colab and Binder open the notebooks of the public repository's release tag, the same tag
    # the set-up cells install the helpers and download the public checks from.
    if (book / "pyproject.toml").exists():
        config["sphinx"]["config"]["book_release_tag"] = release_tag(book)
    identity(config, book)
    # The exercise pages' "How to work" box: the one line that installs what a local Jupyter needs.
    if book == ROOT:
        config["sphinx"]["config"]["book_local_install"] = local_install_command()
    return config


def release_date(book: Path = ROOT) -> str:
    """The release's date, `date-released` of CITATION.cff (the file a maintainer updates with the
    version), as a reader writes it: "23 November 2026"."""
    import datetime

    citation = book / "CITATION.cff"
    released = yaml.safe_load(citation.read_text()).get("date-released") if citation.exists() else None
    if not released:
        return ""
    day = released if isinstance(released, datetime.date) else datetime.date.fromisoformat(str(released))
    return f"{day.day} {day:%B %Y}"


def identity(config: dict, book: Path = ROOT) -> None:
    """Version, date and licences in every page's footer (and so in the PDF, printed from the pages),
    and the site's address for the Open Graph tags."""
    html = config.setdefault("html", {})
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    if html.get("baseurl"):
        sphinx_config["ogp_site_url"] = html["baseurl"]
    if not (book / "pyproject.toml").exists():
        return
    date = release_date(book)
    release = f"Release {release_tag(book)}" + (f", {date}" if date else "")
    line = f"{release}. Text and figures: CC BY 4.0; code: MIT licence."
    html["extra_footer"] = f'<p class="book-release">{line}</p>'
    sphinx_config["book_release_line"] = line  # printed in the PDF (_ext/book_identity.py)


def assemble(edition: str, book: Path = ROOT) -> Path:
    source = book / "_build" / "site-src" / edition
    _write_if_changed(source / "_config.yml", yaml.safe_dump(site_config(edition, book), sort_keys=False).encode())
    for name in BOOK_FILES:
        if (book / name).exists():
            _write_if_changed(source / name, (book / name).read_bytes())
    for name in BOOK_FOLDERS:
        if (book / name).exists():
            _sync_folder(book / name, source / name)
    for notebook in sorted((book / "chapters").glob("*.ipynb")):
        _write_if_changed(source / "chapters" / notebook.name, notebook.read_bytes())
    for exercise in exercise_sources(book):
        student = exercise.with_suffix(".ipynb")
        if edition == "main":
            page = exercise_web_notebook(book / "solutions" / student.name)
            _write_if_changed(source / "exercises" / student.name, nbformat.writes(page).encode())
            # The download offered on the exercise page: the student notebook.
            _write_if_changed(source / "_downloads" / "exercises" / student.name, student.read_bytes())
        else:
            _write_if_changed(source / "exercises" / student.name, student.read_bytes())
    return source


BANNER_RULE = re.compile(r"^(\x1b\[[0-9;]*m)?={20,}")


def without_closing_banner(log: str) -> str:
    """Jupyter Book's log without its closing banner (from its first rule of "=" signs on)."""
    lines = log.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if BANNER_RULE.match(line) and "Finished generating HTML" in "".join(lines[number:number + 4]):
            return "".join(lines[:number])
    return log


def offer_reader_notebooks(edition: str, source: Path, built: Path) -> None:
    """The page's download button offers its reader notebook (tools/reader_notebooks.py): plain
    Markdown with the numbers, terms and citations the page shows, the outputs kept; for an
    exercise, in both editions, the student notebook made readable the same way (no solution,
    no value glued by a solution, its public checks in its metadata). Each edition's are made
    from its own build's Sphinx environment, so they carry the numbers its pages show."""
    import reader_notebooks

    out = reader_notebooks.EDITION_OUT[edition]
    website = reader_notebooks.Website(source / "_build" / ".doctrees" / "environment.pickle")
    for path in reader_notebooks.write_all(out, website):
        target = built / "_sources" / path.relative_to(out)
        if target.exists():
            shutil.copyfile(path, target)


def build(edition: str = "main", book: Path = ROOT) -> int:
    start = time.perf_counter()
    if book == ROOT:
        install_mathjax()
    source = assemble(edition, book)
    output = OUTPUT[edition] if book == ROOT else book / "_build" / edition / "html"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(source), "--builder", "html", "-W", "-n", "--keep-going"]
    environment = dict(os.environ)
    if book == ROOT and "BOOK_PDF" not in environment:
        environment["BOOK_PDF"] = str(BOOK_PDF)  # linked only if it exists (_ext/book_pages.py)
    result = subprocess.run(command, cwd=source, env=environment, stdout=subprocess.PIPE, text=True)
    # Jupyter Book's closing banner names the assembled copy it built in (_build/site-src/...),
    # not the site this command writes: print the log without it, and say where the site is.
    sys.stdout.write(without_closing_banner(result.stdout))
    sys.stdout.flush()
    if result.returncode != 0:
        print("\nThe build failed: see the warnings above.", file=sys.stderr)
        return result.returncode
    built = source / "_build" / "html"
    if book == ROOT:
        offer_reader_notebooks(edition, source, built)
    if output.exists():
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(built, output)
    index = output / "index.html"
    where = index.relative_to(ROOT) if index.is_relative_to(ROOT) else index
    print(f"\nBuilt the website in {time.perf_counter() - start:.0f} s: open {where} "
          f"({index.as_uri()})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("edition", nargs="?", choices=sorted(OUTPUT), default="main")
    parser.add_argument("--book", type=Path, default=ROOT, help="the book's folder (default: this repository)")
    args = parser.parse_args(argv)
    return build(args.edition, args.book.resolve())


if __name__ == "__main__":
    sys.exit(main())
