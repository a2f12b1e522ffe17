"""Reader notebooks: what Colab, Binder and the website's download open, in plain Markdown.

Usage: python tools/reader_notebooks.py [--out FOLDER]   (run by `make public`; default _build/reader/)

The pages are MyST notebooks. Their markdown cells hold roles and directives ({glue:text},
{term}, {cite:p}, {numref}, `(label)=`, `:::{admonition}` ...) that only the website's build
(Sphinx, myst-nb) understands; Colab, JupyterLab, VS Code and GitHub show them as raw markup. A
reader notebook is the executed notebook (outputs kept) whose markdown is CommonMark with LaTeX
math, as those renderers show it:

* glued values pasted as the web page shows them, formatted by myst-nb's own code
  (`format_plain_text` for `{glue:text}`name:.1f``; `{glue:md}` pastes the Markdown, `{glue}`
  the plain text); the values are the glue outputs of the executed notebook;
* `{term}` as its word, linked to its entry in the website's glossary;
* citations as "(Rubin, 1981)" / "Rubin (1981)", labelled as the website's references page labels
  them (_ext/citation_style.py), and the works cited listed under "References" at the end;
* `{numref}`, `{eq}`, `{ref}` and `{doc}` as the text the web page shows ("Fig. 3", "(2)", the
  page's title), with the website's numbers, linked to the website; numbered display equations
  keep their number (`\\tag{2}`);
* admonitions and dropdowns as block quotes opened by their title in bold; `{runtime}` as the
  benchmark's words; `literalinclude` as the included code; labels, `:class:` options, `+++` and
  other MyST-only lines removed.

The numbers and anchors are the website's own: they come from the Sphinx environment of the main
edition's build (tools/build_site.py, run first when needed), so they cannot drift from the pages.
Chapters are made from chapters/<page>.ipynb; an exercise's reader notebook is its student
notebook (no solution, its checks in its metadata), whose glued values come from the answer key.
Both website editions offer these (the student edition's from its own build, in
_build/student-site/reader/), and the public repository carries them. A value the answer key
glues from a solution (a cell tagged `solution`, or a visible cell reading a variable a solution
computes: `answer_glue`) would give the answer away: if the students' text glues one, the
generator refuses, naming the exercise and the value, and says how to fix the source.

The reader notebooks carry no jupytext metadata, so a jupytext-enabled Jupyter (Binder) opens
them as they are instead of re-reading the paired MyST file.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import pickle
import re
import sys
import textwrap
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, exercise_sources  # noqa: E402

OUT = ROOT / "_build" / "reader"
# Where each website edition's build writes the reader notebooks its download buttons offer.
EDITION_OUT = {"main": OUT, "student": ROOT / "_build" / "student-site" / "reader"}
SITE_SOURCE = ROOT / "_build" / "site-src" / "main"
ENVIRONMENT = SITE_SOURCE / "_build" / ".doctrees" / "environment.pickle"
ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<text>[^`]*)`")
# "text <target>" inside a role
EXPLICIT = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
LABEL_LINE = re.compile(r"^\([A-Za-z0-9_:.\-]+\)=[ \t]*$", re.MULTILINE)
FENCE_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[a-z-]+)\}[ \t]*(?P<argument>.*)$")
DISPLAY_MATH_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[A-Za-z0-9_:.\-]+)\)[ \t]*$", re.MULTILINE)
ADMONITION_TITLES = {"note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
                     "caution": "Caution", "hint": "Hint", "attention": "Attention", "danger": "Danger",
                     "error": "Error", "seealso": "See also"}


class ReaderError(Exception):
    """A role, directive or label the reader notebook cannot render: the message says where."""


def site_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = (config.get("html") or {}).get("baseurl", "")
    if not url:
        raise ReaderError("_config.yml has no html: baseurl: (the website's address); reader notebooks "
                          "link terms, references and cross-references to it")
    return url.rstrip("/") + "/"


class Website:
    """What the built website knows: numbers, titles and anchors, from its Sphinx environment."""

    def __init__(self, environment: Path = ENVIRONMENT, base: str | None = None):
        if not environment.exists():
            raise ReaderError(f"{environment} is missing: build the website first (`make html`)")
        with open(environment, "rb") as file:
            env = pickle.load(file)
        self.base = base or site_url()
        std = env.domaindata["std"]
        self.labels = {label: (doc, anchor) for label, (doc, anchor) in std["anonlabels"].items()}
        self.section_titles = {label: title for label, (_, _, title) in std["labels"].items()}
        # Sphinx finds a term whatever its case.
        self.terms = {name.lower(): (doc, anchor) for (kind, name), (doc, anchor) in std["objects"].items()
                      if kind == "term"}
        self.equations = {label: (doc, number) for label, (doc, number) in env.domaindata["math"]["objects"].items()}
        self.titles = {doc: title.astext() for doc, title in env.titles.items()}
        self.figure_numbers = env.toc_fignumbers
        self.numfig_format = env.config.numfig_format
        # key -> (label, anchor, page, entry as Markdown), as the references page formats them.
        self.citations = {}
        for citation in env.domaindata.get("cite", {}).get("citations", []):
            entry = citation.formatted_entry
            self.citations[citation.key] = (entry.label, citation.citation_id,
                                            citation.bibliography_key.docname, entry.text.render_as("markdown"))

    def url(self, doc: str, anchor: str = "") -> str:
        return f"{self.base}{doc}.html" + (f"#{anchor}" if anchor else "")


def _resolve_doc(current: str, target: str) -> str:
    parts = (current.split("/")[:-1] if not target.startswith("/") else []) + target.lstrip("/").split("/")
    out = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part not in ("", "."):
            out.append(part)
    return "/".join(out)


def _split(text: str) -> tuple[str | None, str]:
    match = EXPLICIT.match(text.strip())
    return (match["title"], match["target"]) if match else (None, text.strip())


def glue_values(nb) -> dict[str, dict]:
    """Every glued value of an executed notebook: name -> its output's data (myst-nb's own reader)."""
    from myst_nb.ext.glue import extract_glue_data_cell

    values = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for name, output in extract_glue_data_cell(cell):
                values[name] = output["data"]
    return values


def _statements(source: str) -> list[tuple[set[str], set[str]]] | None:
    """(names it assigns, names it reads) for each top-level statement of a code cell, in order;
    None if the cell cannot be parsed. An assignment into an item or attribute
    (`table["x"] = ...`) counts as assigning `table`, and `x += 1` as reading x too."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None
    statements = []
    for statement in tree.body:
        assigned, read = set(), set()
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                (read if isinstance(node.ctx, ast.Load) else assigned).add(node.id)
            elif isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(node.ctx, ast.Load):
                base = node.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    assigned.add(base.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                read.add(node.target.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                assigned.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                assigned.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        statements.append((assigned, read))
    return statements


def answer_glue(answer_key) -> dict[str, str]:
    """The glued values of an executed answer key that a student must not be given, by name, with
    where each comes from: every value glued by a cell tagged `solution`, and every value glued by
    a cell students do run but that reads a variable a solution computed (directly or through
    other cells), since in the answer key that variable holds the solution's value. A variable
    that visible code assigns again from visible values only is the student's own again."""
    from myst_nb.ext.glue import extract_glue_data_cell

    from_solution: dict[str, str] = {}  # variable -> how it comes from a solution
    withheld = {}
    for number, cell in enumerate(answer_key.cells, start=1):
        if cell.cell_type != "code":
            continue
        statements = _statements(cell.source)
        origin = None
        if "solution" in cell.metadata.get("tags", []):
            origin = f"computed in a solution cell (code cell {number} of the answer key)"
            for assigned, _ in statements or []:
                from_solution.update(dict.fromkeys(assigned, origin))
        elif statements is None:
            # Code the guard cannot read: assume the worst once anything comes from a solution.
            if from_solution:
                origin = f"computed in code cell {number} (which the guard cannot parse) after a solution"
        else:
            for assigned, read in statements:
                used = sorted(read & from_solution.keys())
                if used:
                    origin = origin or (f"computed in code cell {number} from {used[0]!r}, "
                                        f"{from_solution[used[0]]}")
                    from_solution.update(dict.fromkeys(assigned, origin))
                else:
                    for name in assigned:
                        from_solution.pop(name, None)
        if origin:
            # A copy: myst-nb's reader takes the glue outputs out of the cell it reads.
            for name, _ in extract_glue_data_cell(copy.deepcopy(cell)):
                withheld[name] = origin
    return withheld


def runtime_text(docname: str) -> str:
    """The `{runtime}` role's words (_ext/book_pages.py), from benchmarks/results.json."""
    results = ROOT / "benchmarks" / "results.json"
    measured = json.loads(results.read_text()).get("pages", {}) if results.exists() else {}
    phases = measured.get(f"{docname}.md")
    if not phases or not phases.get("cold", {}).get("wall_s"):
        return "a time not yet measured by the benchmark"
    cold, warm = phases["cold"]["wall_s"], phases.get("warm", {}).get("wall_s")
    message = f"about {cold:.0f} s on a fresh machine with 2 cores"
    return message + (f" ({warm:.0f} s when run again)" if warm else "")


def literal_include(path: Path, pyobject: str | None) -> str:
    text = path.read_text()
    if not pyobject:
        return text
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.name == pyobject:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[start - 1:node.end_lineno]) + "\n"
    raise ReaderError(f"{path} has no {pyobject}")


class Converter:
    """Turns one page's MyST markdown cells into CommonMark, as the page `docname` shows them."""

    def __init__(self, website: Website, docname: str, glue: dict[str, dict],
                 withheld: dict[str, str] | None = None):
        self.site, self.docname, self.glue = website, docname, glue
        # Glued values a student must not be given (`answer_glue`): name -> where it comes from.
        self.withheld = withheld or {}
        self.cited: list[str] = []

    # -- roles -----------------------------------------------------------------------------
    def _glue(self, role: str, text: str) -> str:
        from myst_nb.core.variables import format_plain_text

        if role == "glue:text":
            key, _, fmt = text.rpartition(":") if ":" in text else (text, "", "s")
            key = key or text
            data = self._glue_data(key)
            return format_plain_text(data["text/plain"], fmt)
        if role == "glue:md":
            key = text.rsplit(":", 1)[0] if ":" in text else text
            return self._glue_data(key)["text/markdown"]
        data = self._glue_data(text)  # {glue}: what the page shows, Markdown before plain text
        return data.get("text/markdown") or data["text/plain"]

    def _glue_data(self, key: str) -> dict:
        if key in self.withheld:
            # Refused rather than pasted or blanked. Pasted, the number would give the answer away.
            # Blanked ("[your result]"), the question would read as if it were complete while
            # saying nothing; and the student edition's web page could not show it either (its
            # page is the unexecuted student notebook: myst-nb finds no such glue value and warns,
            # which stops that build). A sentence that
            # needs the answer's value belongs in the solution's dropdown, which students never
            # get: only the author can move it there, so the build stops and says so.
            raise ReaderError(
                f"{self.docname}: the students' text glues {key!r}, a value {self.withheld[key]}; "
                "pasted into the student's notebook it would give the answer away. Move the sentence "
                "into the solution's dropdown, or glue the value from a cell students run (not tagged "
                "`solution`, and reading no variable a solution computes).")
        if key not in self.glue:
            raise ReaderError(f"{self.docname}: no glued value named {key!r} in the executed notebook")
        return self.glue[key]

    def _cite(self, role: str, text: str) -> str:
        keys = [k.strip() for k in text.split(",") if k.strip()]
        parts = []
        for key in keys:
            if key not in self.site.citations:
                raise ReaderError(f"{self.docname}: {key!r} is not in the website's references")
            if key not in self.cited:
                self.cited.append(key)
            label, anchor, doc, _ = self.site.citations[key]
            names, _, year = label.rpartition(", ")
            shown = f"{names} ({year})" if role == "cite:t" else label
            parts.append(f"[{shown}]({self.site.url(doc, anchor)})")
        return "; ".join(parts) if role == "cite:t" else "(" + "; ".join(parts) + ")"

    def _term(self, text: str) -> str:
        shown, target = _split(text)
        found = self.site.terms.get(" ".join(target.split()).lower())
        if found is None:
            raise ReaderError(f"{self.docname}: the glossary has no term {target!r}")
        return f"[{shown or target}]({self.site.url(*found)})"

    def _numref(self, text: str) -> str:
        shown, label = _split(text)
        if label not in self.site.labels:
            raise ReaderError(f"{self.docname}: no label {label!r} on the website")
        doc, anchor = self.site.labels[label]
        for kind, numbers in self.site.figure_numbers.get(doc, {}).items():
            if anchor in numbers:
                number = ".".join(str(n) for n in numbers[anchor])
                template = shown if shown else self.site.numfig_format[kind]
                return f"[{template.replace('%s', number).replace('{number}', number)}]({self.site.url(doc, anchor)})"
        raise ReaderError(f"{self.docname}: {label!r} has no number on the website")

    def _eq(self, text: str) -> str:
        label = text.strip()
        if label not in self.site.equations:
            raise ReaderError(f"{self.docname}: no equation labelled {label!r} on the website")
        doc, number = self.site.equations[label]
        return f"[({number})]({self.site.url(doc, 'equation-' + label)})"

    def _ref(self, text: str) -> str:
        shown, label = _split(text)
        if label not in self.site.labels:
            raise ReaderError(f"{self.docname}: no label {label!r} on the website")
        doc, anchor = self.site.labels[label]
        return f"[{shown or self.site.section_titles.get(label) or self.site.titles.get(doc, label)}]({self.site.url(doc, anchor)})"

    def _doc(self, text: str) -> str:
        shown, target = _split(text)
        doc = _resolve_doc(self.docname, target)
        if doc not in self.site.titles:
            raise ReaderError(f"{self.docname}: no page {target!r} on the website")
        return f"[{shown or self.site.titles[doc]}]({self.site.url(doc)})"

    def role(self, match: re.Match) -> str:
        role, text = match["role"], match["text"]
        if role in ("glue", "glue:text", "glue:md", "glue:any"):
            return self._glue(role, text)
        if role in ("cite:p", "cite:t", "cite"):
            return self._cite(role, text)
        handlers = {"term": self._term, "numref": self._numref, "eq": self._eq, "ref": self._ref,
                    "doc": self._doc, "runtime": lambda _: runtime_text(self.docname)}
        if role not in handlers:
            raise ReaderError(f"{self.docname}: the role {{{role}}} has no plain-Markdown rendering")
        return handlers[role](text)

    # -- blocks ----------------------------------------------------------------------------
    def _directive(self, name: str, argument: str, body: list[str]) -> list[str]:
        options = {}
        while body and re.match(r"^:[a-z-]+:", body[0]):
            key, _, value = body.pop(0)[1:].partition(":")
            options[key] = value.strip()
        while body and not body[0].strip():
            body.pop(0)
        inner = self.markdown("\n".join(body)).splitlines()
        if name in ("admonition", "dropdown") or name in ADMONITION_TITLES:
            title = argument.strip() or ADMONITION_TITLES.get(name, name.title())
            title = self.inline(title)
            quoted = [f"> **{title}**", ">"] + [f"> {line}" if line.strip() else ">" for line in inner]
            return quoted
        if name == "literalinclude":
            path = (ROOT / self.docname).parent / argument.strip()
            code = literal_include(path.resolve(), options.get("pyobject"))
            return ["```python", *code.rstrip("\n").splitlines(), "```"]
        raise ReaderError(f"{self.docname}: the directive {{{name}}} has no plain-Markdown rendering")

    def inline(self, text: str) -> str:
        return ROLE.sub(self.role, text)

    def _equation_numbers(self, text: str) -> str:
        def tagged(match):
            label = match["label"]
            number = self.site.equations.get(label, (None, None))[1]
            if number is None:
                raise ReaderError(f"{self.docname}: no equation labelled {label!r} on the website")
            return f"\\tag{{{number}}}\n$$"
        return DISPLAY_MATH_LABEL.sub(tagged, text)

    def markdown(self, source: str) -> str:
        lines = LABEL_LINE.sub("", self._equation_numbers(source)).splitlines()
        out, index = [], 0
        while index < len(lines):
            line = lines[index]
            opening = FENCE_OPEN.match(line)
            if opening:
                fence = opening["fence"]
                depth, body, index = 1, [], index + 1
                while index < len(lines):
                    inner = lines[index]
                    nested = FENCE_OPEN.match(inner)
                    if nested and nested["fence"] == fence:
                        depth += 1
                    elif inner.strip() == fence:
                        depth -= 1
                        if depth == 0:
                            break
                    body.append(inner)
                    index += 1
                else:
                    raise ReaderError(f"{self.docname}: an unclosed {{{opening['name']}}} block")
                out.extend(self._directive(opening["name"], opening["argument"], body))
                index += 1
                continue
            if line.strip() == "+++" or line.strip().startswith("+++ {"):
                index += 1
                continue
            out.append(line)
            index += 1
        text = "\n".join(out)
        # Roles in code spans and code blocks stay as they are: split them out first.
        pieces = re.split(r"(```.*?```|``[^`]+``(?!`))", text, flags=re.DOTALL)
        return "".join(piece if piece.startswith("``") else self.inline(piece) for piece in pieces)

    def references(self) -> str:
        """The works this notebook cites, as the website's references page lists and labels them."""
        lines = ["## References", ""]
        for key in sorted(self.cited, key=lambda k: self.site.citations[k][0]):
            label, anchor, doc, entry = self.site.citations[key]
            lines.append(f"* [{label}]({self.site.url(doc, anchor)}) {' '.join(entry.split())}")
        return "\n".join(lines) + "\n"


def reader_notebook(executed: Path, docname: str, website: Website, glue_from: Path | None = None):
    """The reader notebook of one page: `executed`'s cells, markdown converted, outputs kept."""
    nb = nbformat.read(executed, as_version=4)
    glued = nbformat.read(glue_from or executed, as_version=4)
    # An exercise's glued values come from its answer key; those of its solutions are not the student's.
    withheld = answer_glue(glued) if glue_from else {}
    converter = Converter(website, docname, glue_values(glued), withheld)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
        if cell.cell_type == "code" and figure.get("caption"):
            # The web page's caption, numbered as there, under the figure (a notebook shows no
            # cell metadata).
            number = website.figure_numbers.get(docname, {}).get("figure", {}).get(figure.get("name"))
            label = website.numfig_format["figure"].replace("%s", ".".join(map(str, number))) if number else ""
            caption = converter.markdown(figure["caption"]).strip()
            cells.append(nbformat.v4.new_markdown_cell(f"**{label}** {caption}" if label else caption,
                                                       metadata={"tags": ["figure-caption"]}))
        if cell.cell_type == "markdown":
            try:
                cell.source = converter.markdown(cell.source).strip("\n")
            except ReaderError:
                raise
            except Exception as exc:  # a glue format that fails, a missing mime type ...
                raise ReaderError(f"{docname}: a markdown cell starting {cell.source[:60]!r}: {exc!r}") from exc
    nb.cells = cells
    if converter.cited:
        nb.cells.append(nbformat.v4.new_markdown_cell(converter.references(), metadata={"tags": ["references"]}))
    nb.metadata.pop("jupytext", None)
    nb.metadata["reader_notebook"] = {
        "generated_by": "tools/reader_notebooks.py",
        "web_page": website.url(docname),
    }
    return nb


def pages() -> list[tuple[str, Path, Path | None]]:
    """(docname, notebook to convert, notebook holding its glue outputs) for every reader notebook."""
    found = [(f"chapters/{p.stem}", p, None) for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
    found += [(f"exercises/{s.stem}", s.with_suffix(".ipynb"), ROOT / "solutions" / f"{s.stem}.ipynb")
              for s in exercise_sources()]
    return found


def ensure_site() -> None:
    """The main edition's Sphinx environment, built (incrementally) by tools/build_site.py."""
    import build_site

    if build_site.build("main") != 0:
        raise ReaderError("the website's build failed: reader notebooks take their numbers from it")


def generate(out: Path = OUT, build: bool = True) -> list[Path]:
    if build:
        ensure_site()  # the main edition's build writes the reader notebooks into OUT
        if out == OUT:
            return [OUT / f"{docname}.ipynb" for docname, _, _ in pages()]
    return write_all(out, Website())


def write_all(out: Path, website: Website) -> list[Path]:
    written = []
    for docname, notebook, glue_from in pages():
        nb = reader_notebook(notebook, docname, website, glue_from)
        target = out / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-build", action="store_true", help="use the website's last build as it is")
    args = parser.parse_args(argv)
    try:
        written = generate(args.out, build=not args.no_build)
    except ReaderError as exc:
        print(f"reader notebooks: {exc}", file=sys.stderr)
        return 1
    print(f"{len(written)} reader notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
