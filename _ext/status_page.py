"""The status page's table: every page in book order, its state in words and its execution time.

Loaded through `sphinx.local_extensions`. The site shows the notebooks `make notebooks` executed
and committed, without executing anything, so a page's status is read from the notebook the site
is built from (the answer key for an exercise, its checks removed):

* "executed without errors": every code cell ran, in order, and printed nothing to stderr;
* "executed, with stderr output in N cells", "has an error in cell N", "not executed (N code cells
  without a run)": what to fix, with `make notebooks`.

The directive `{page-status}` draws the table. On the status page, any table whose rows are named by
page paths (the benchmark's own table of execution times, included from benchmarks/results.md) is
also put in book order.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml
from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

STATUS_DOC = "status"
PAGE_PATH = re.compile(r"^[\w-]+/[\w-]+(\.md|\.ipynb)?$")


def toc_order(srcdir: Path) -> list[str]:
    """The docnames of _toc.yml, root first, in reading order."""
    toc = yaml.safe_load((Path(srcdir) / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(str(Path(node["file"]).with_suffix("")))
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return names


def notebook_status(path: Path) -> str:
    """What a reader should know about an executed notebook, in words."""
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    not_run = [cell for cell in code if cell.get("execution_count") is None]
    if not_run:
        return f"not executed ({len(not_run)} of {len(code)} code cells without a run)"
    for number, cell in enumerate(code, start=1):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return f"has an error in code cell {number}"
    counts = [cell.execution_count for cell in code]
    if counts != sorted(counts):
        return "executed out of order"
    stderr = sum(any(o.get("name") == "stderr" for o in cell.get("outputs", [])) for cell in code)
    if stderr:
        return f"executed, with stderr output in {stderr} code cell{'s' if stderr > 1 else ''}"
    return "executed without errors"


def _row(*cells) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += cell if isinstance(cell, nodes.paragraph) else nodes.paragraph("", "", *(
            [cell] if isinstance(cell, nodes.Node) else [nodes.Text(str(cell))]))
        row += entry
    return row


class PageStatusDirective(SphinxDirective):
    """A table of the book's notebook pages, in book order, with their status."""

    def run(self):
        srcdir = Path(self.env.srcdir)
        headers = ["page", "notebook shown", "status"]
        table = nodes.table(classes=["page-status"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        group.extend(nodes.colspec(colwidth=1) for _ in headers)
        head = nodes.thead()
        head += _row(*headers)
        group += head
        body = nodes.tbody()
        for docname in toc_order(srcdir):
            notebook = srcdir / f"{docname}.ipynb"
            if not notebook.exists():
                continue
            self.env.note_dependency(str(notebook))
            link = addnodes.pending_xref("", nodes.inline("", docname), refdomain="std", reftype="doc",
                                         reftarget="/" + docname, refexplicit=False, refwarn=True)
            shown = "answer key, checks removed" if docname.startswith("exercises/") else f"{docname}.ipynb"
            body += _row(link, nodes.literal("", shown) if shown.endswith(".ipynb") else shown,
                         notebook_status(notebook))
        group += body
        return [table]


def _first_cell_text(row) -> str:
    return row[0].astext().strip() if len(row) else ""


def put_page_tables_in_book_order(app, doctree):
    if app.env.docname != STATUS_DOC:
        return
    order = {name: rank for rank, name in enumerate(toc_order(Path(app.srcdir)))}
    for body in doctree.findall(nodes.tbody):
        rows = list(body.children)
        names = [re.sub(r"\.(md|ipynb)$", "", _first_cell_text(row)) for row in rows]
        if rows and all(PAGE_PATH.match(_first_cell_text(row)) for row in rows) and all(n in order for n in names):
            body.children = [row for _, row in sorted(zip(names, rows), key=lambda pair: order[pair[0]])]


def setup(app):
    app.add_directive("page-status", PageStatusDirective)
    app.connect("doctree-read", put_page_tables_in_book_order)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
