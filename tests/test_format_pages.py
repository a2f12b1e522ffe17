"""The pages' code cells fit 88 columns (`make format`, tools/format_pages.py), so that no code
line is cut off on the website, and the formatter keeps everything but the code as it was.
Only the generated Colab set-up cell (IPython magics) is not counted."""
import pytest

from book_layout import ROOT
from format_pages import LINE_LENGTH, MAGIC, code_cells, long_code_lines, pages

SOURCES = pages([])


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_code_cell_lines_fit_88_columns(path):
    long = []
    for _, _, code in code_cells(path.read_text()):
        if not MAGIC.search(code):  # the generated Colab set-up cell (tools/colab_setup.py)
            long += long_code_lines(code)
    assert not long, (f"{path.relative_to(ROOT)} has code lines longer than {LINE_LENGTH} columns "
                      f"(run `make format`): {[line[:60] + '...' for line in long[:3]]}")


def test_code_cells_are_found_with_their_options_apart():
    page = ("# Title\n\n```{code-cell} ipython3\n:tags: [hide-input]\n\nx = 1\n```\n\n"
            "```{code-cell} ipython3\n---\nmystnb:\n  figure:\n    caption: |\n      A figure.\n---\n"
            "plot(x)\n```\n")
    cells = [(options, code) for _, options, code in code_cells(page)]
    assert cells == [(":tags: [hide-input]\n\n", "x = 1\n"),
                     ("---\nmystnb:\n  figure:\n    caption: |\n      A figure.\n---\n", "plot(x)\n")]


def test_long_comments_are_wrapped():
    from format_pages import wrap_comments
    comment = "    # " + " ".join(["word"] * 30)
    wrapped = wrap_comments(comment)
    assert all(len(line) <= LINE_LENGTH and line.startswith("    # ") for line in wrapped.splitlines())
    assert " ".join(wrapped.replace("    # ", "").split()) == " ".join(["word"] * 30)
    # A block with one long line is reflowed as one paragraph, not left ragged; short blocks stay.
    block = "# " + " ".join(["first"] * 16) + "\n# short tail\n# " + " ".join(["end"] * 10) + "\nx = 1"
    reflowed = wrap_comments(block).splitlines()
    assert reflowed[-1] == "x = 1" and all(len(line) <= LINE_LENGTH for line in reflowed)
    assert len(reflowed) == 3 and len(reflowed[0]) > LINE_LENGTH - 10 and "short tail" in reflowed[1]
    assert wrap_comments("# one\n# two\nx = 1") == "# one\n# two\nx = 1"
    code = "def f():\n    return " + "a + " * 30 + "a\n"
    assert long_code_lines(code) == [code.splitlines()[1]]


def test_long_docstrings_are_wrapped_whatever_their_form():
    from format_pages import wrap_docstrings
    one_line = '    """' + " ".join(["word"] * 25) + '."""'
    just_over = '    """' + " ".join(["abc"] * 20) + '."""'  # 90 columns, its text alone 80
    many = '    """Summary.\n\n    ' + " ".join(["more"] * 25) + "\n    " + '"""'
    code = f"def f():\n{one_line}\n    return 1\n\n\ndef g():\n{many}\n\n\ndef h():\n{just_over}\n"
    wrapped = wrap_docstrings(code)
    assert all(len(line) <= LINE_LENGTH for line in wrapped.splitlines())
    assert " ".join(wrapped.split()) == " ".join(code.split())  # only whitespace changed
    namespace = {}
    exec(wrapped, namespace)  # still Python, the same functions
    assert namespace["f"]() == 1 and " ".join(namespace["f"].__doc__.split()) == " ".join(["word"] * 25) + "."
