"""Citations in one style: the references page labels each work as the text cites it.

The pages cite with sphinxcontrib-bibtex's author-year style (`bibtex_reference_style:
author_year`): {cite:p} gives "(Rubin, 1981)", {cite:t} "Rubin (1981)". Its default bibliography
style labels the list with alpha codes such as [Rub81], which a reader cannot match with the text.
This extension registers the pybtex style `book_author_year` (set as `bibtex_default_style`):
the list is sorted by author, year and title, and each entry is labelled as the text names it,
"Rubin, 1981", "Efron and Morris, 1975", "Gelman et al., 2013", with a, b, ... after the year
when two works would share a label.
"""
from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

STYLE = "book_author_year"


def _plain(latex: str) -> str:
    return Text.from_latex(latex).render_as("text")


def author_year_label(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    surnames = [_plain(" ".join(person.prelast_names + person.last_names)) for person in persons]
    if not surnames:
        names = _plain(entry.fields.get("title", entry.key))
    elif len(surnames) == 1:
        names = surnames[0]
    elif len(surnames) == 2:
        names = f"{surnames[0]} and {surnames[1]}"
    else:
        names = f"{surnames[0]} et al."
    return f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(entry) for entry in entries]
        shared = {label for label, count in Counter(labels).items() if count > 1}
        suffix = Counter()
        for label in labels:
            if label in shared:
                yield label + "abcdefghijklmnopqrstuvwxyz"[suffix[label]]
                suffix[label] += 1
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = STYLE
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
