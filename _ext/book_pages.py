"""What the book's pages need from Sphinx beyond Jupyter Book (loaded through `sphinx.local_extensions`).

* The `runtime` role, `{runtime}`this page``, states how long the page takes to execute, cold (a
  fresh machine: empty compile caches) and warm, as `make benchmark` measured it
  (benchmarks/results.json). A page the benchmark has not measured says so.
* `{glue:md}`name`` pastes a glued Markdown value as MyST, so that a formula glued with
  `glue_math` (`$\\hat\\tau = 3.59$`) renders as math. myst-nb parses it as plain CommonMark,
  without math, unless the role names a format (`name:myst`).
* The main edition builds each exercise page from its executed answer key, so its solutions show
  collapsed on the page; the page's download button must still offer only the student notebook.
  After the build, each exercise's downloadable source is replaced by the student notebook that
  tools/build_site.py placed in `_downloads/`.
* The whole book as one PDF (tools/build_pdf.py, `make pdf`): when the build is given the PDF
  (`BOOK_PDF=path`, which build_pdf sets) and the file exists, it is copied to the site's root as
  `book.pdf` and the `{book-pdf}` directive (on the landing page) links to it. Otherwise the
  directive writes nothing, so an ordinary build has no link to a missing file.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from docutils import nodes
from myst_nb.ext.glue.roles import PasteMarkdownRole
from sphinx.util.docutils import SphinxDirective

PDF_NAME = "book.pdf"


def _benchmark(app) -> dict:
    results = Path(app.srcdir) / "benchmarks" / "results.json"
    return json.loads(results.read_text()).get("pages", {}) if results.exists() else {}


def runtime_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    measured = _benchmark(env.app)
    source = Path(env.doc2path(env.docname)).relative_to(env.srcdir).with_suffix(".md").as_posix()
    phases = measured.get(source)
    if not phases or not phases.get("cold", {}).get("wall_s"):
        message = "a time not yet measured by the benchmark"
    else:
        cold, warm = phases["cold"]["wall_s"], phases.get("warm", {}).get("wall_s")
        message = f"about {cold:.0f} s on a fresh machine with 2 cores"
        if warm:
            message += f" ({warm:.0f} s when run again)"
    return [nodes.Text(message)], []


class PasteMarkdownAsMyst(PasteMarkdownRole):
    """`{glue:md}`name`` parsed as MyST (math included) unless a format is named."""

    def run(self):
        if ":" not in self.text:
            self.text += ":myst"
        return super().run()


def offer_student_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    downloads = Path(app.srcdir) / "_downloads"
    for student in downloads.rglob("*.ipynb") if downloads.exists() else []:
        target = Path(app.outdir) / "_sources" / student.relative_to(downloads)
        if target.exists():
            shutil.copyfile(student, target)


def _book_pdf(config) -> Path | None:
    if not config.book_pdf or config.book_edition != "main":
        return None
    path = Path(config.book_pdf)
    return path if path.is_file() else None


class BookPdfDirective(SphinxDirective):
    """A paragraph offering the whole book as one PDF, when this build has it."""

    def run(self):
        if self.config.book_pdf:
            # Re-read this page when the PDF appears or changes (a missing file counts as changed).
            self.env.note_dependency(str(Path(self.config.book_pdf).resolve()))
        pdf = _book_pdf(self.config)
        if pdf is None:
            return []
        size = pdf.stat().st_size / 1e6
        uri = "../" * self.env.docname.count("/") + PDF_NAME
        paragraph = nodes.paragraph(classes=["book-pdf"])
        paragraph += nodes.strong("", "Read it on paper. ")
        paragraph += nodes.reference("", "Download the whole book as one PDF", refuri=uri)
        paragraph += nodes.Text(f" ({size:.1f} MB): every page as this website shows it, in the "
                                "order of the table of contents, without the exercises' solutions.")
        return [paragraph]


def copy_book_pdf(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    pdf = _book_pdf(app.config)
    if pdf is not None:
        shutil.copyfile(pdf, Path(app.outdir) / PDF_NAME)


def setup(app):
    app.add_config_value("book_edition", "main", "env")
    app.add_config_value("book_release_tag", "", "env")  # empty: launch links use the branch
    # Rebuilt when it changes (an "env" value), so the link appears and disappears with the PDF.
    app.add_config_value("book_pdf", os.environ.get("BOOK_PDF", ""), "env")
    app.add_role("runtime", runtime_role)
    app.add_role_to_domain("glue", "md", PasteMarkdownAsMyst(), override=True)
    app.add_directive("book-pdf", BookPdfDirective)
    app.connect("build-finished", offer_student_notebooks)
    app.connect("build-finished", copy_book_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
