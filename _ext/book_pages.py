"""What the book's pages need from Sphinx beyond Jupyter Book (loaded through `sphinx.local_extensions`).

* The `runtime` role, `{runtime}`this page``, states how long the page takes to execute, cold (a
  fresh machine: empty compile caches) and warm, as `make benchmark` measured it
  (benchmarks/results.json). A page the benchmark has not measured says so.
* The main edition builds each exercise page from its executed answer key, so its solutions show
  collapsed on the page; the page's download button must still offer only the student notebook.
  After the build, each exercise's downloadable source is replaced by the student notebook that
  tools/build_site.py placed in `_downloads/`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from docutils import nodes


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


def offer_student_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    downloads = Path(app.srcdir) / "_downloads"
    for student in downloads.rglob("*.ipynb") if downloads.exists() else []:
        target = Path(app.outdir) / "_sources" / student.relative_to(downloads)
        if target.exists():
            shutil.copyfile(student, target)


def setup(app):
    app.add_config_value("book_edition", "main", "env")
    app.add_role("runtime", runtime_role)
    app.connect("build-finished", offer_student_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
