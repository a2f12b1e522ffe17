"""What must never be published: the distinctive text of solutions and hidden checks, and the
values the answer keys glue from their solutions.

The definition of the text lives in tools/export_public.py, which refuses to export anything
holding it; the leak tests of the public export, the student notebooks and the grader's feedback
search for it. The glued values are refused by tools/reader_notebooks.py (`answer_glue`); the tests
of the notebooks students get (the student website's downloads, the public export) look for them.
"""
import re

import nbformat

from book_layout import ROOT
from export_public import all_secrets, public_text, secret_strings  # noqa: F401

NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?![\w])")


def glued_answers(name: str) -> set[str]:
    """Each value exercise `name`'s answer key glues from a solution, formatted as the exercise's
    source pastes it (in its solutions' text): what a leak would look like. Only distinctive ones:
    four characters or more (a "3" is found anywhere)."""
    from myst_nb.core.variables import format_plain_text
    import reader_notebooks

    key = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    withheld = reader_notebooks.answer_glue(key)
    glued = reader_notebooks.glue_values(key)
    source = (ROOT / "exercises" / f"{name}.md").read_text()
    shown = set()
    for key_name, fmt in re.findall(r"\{glue(?::text)?\}`([^`:]+):?([^`]*)`", source):
        if key_name in withheld:
            shown.add(format_plain_text(glued[key_name]["text/plain"], fmt or "s").strip("'\""))
    return {text for text in shown if len(text) >= 4}


def glued_answers_shown(name: str, prose: str) -> list[str]:
    """The values of `glued_answers(name)` that `prose` shows (numbers as whole numbers: "1.15" is
    not in "11.15"), leaving out those the student notebook's own questions say."""
    student = nbformat.read(ROOT / "exercises" / f"{name}.ipynb", as_version=4)
    given = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    numbers = set(NUMBER.findall(prose))
    return sorted(value for value in glued_answers(name)
                  if (value in numbers if NUMBER.fullmatch(value) else value in prose) and value not in given)
