"""What must never be published: the distinctive text of solutions and hidden checks.

Shared by the leak tests of the public export, the student notebooks, the public checks and the
grader's feedback. A line counts as secret when it is long enough to be distinctive and appears
nowhere a student may legitimately look (the chapters and the questions of every exercise).
"""
from __future__ import annotations

import functools

import jupytext

from book_layout import ROOT, exercise_sources


@functools.cache
def public_text() -> str:
    """Everything a student may see: chapters and every exercise's non-solution cells."""
    parts = [p.read_text() for p in (ROOT / "chapters").glob("*.md")]
    for source in exercise_sources():
        for cell in jupytext.read(source).cells:
            if "solution" not in cell.metadata.get("tags", []) and cell.cell_type != "raw":
                parts.append(cell.source)
            parts.append(cell.metadata.get("student", ""))
    return "\n".join(parts)


def secret_strings(source) -> set[str]:
    """Lines of the solutions and hidden checks of one exercise that appear nowhere public, and the
    names of its hidden check functions."""
    secret, names = [], set()
    for cell in jupytext.read(source).cells:
        tags = cell.metadata.get("tags", [])
        hidden = cell.cell_type == "raw" and cell.metadata.get("hidden")
        if "solution" in tags or hidden:
            secret.extend(line.strip() for line in cell.source.splitlines())
        if hidden:
            names.add(cell.source.split("(")[0].replace("def ", "").strip())
    public = public_text()
    lines = {line for line in secret
             if len(line) >= 25 and line not in public and not line.startswith((":::", "import ", "from "))}
    return lines | {name for name in names if name and name not in public}


def all_secrets() -> set[str]:
    return set().union(*(secret_strings(s) for s in exercise_sources()))
