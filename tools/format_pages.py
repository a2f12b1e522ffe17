"""Format the code cells of the book's MyST pages with ruff, at 88 columns (run by `make format`).

Usage: python tools/format_pages.py [--check] [FILE.md ...]   (default: chapters/*.md, exercises/*.md)

Only the code inside each ```{code-cell} block changes; the prose, the cells' options and the
file's front matter are left byte for byte as they are (jupytext's own round trip would rewrite
the YAML). Full-line comments and docstrings, which ruff leaves as they are, are wrapped at 88
columns too. Cells holding IPython magics or shell lines (`%pip`, `!pip`: the generated Colab set-up
cell), which ruff cannot parse as Python, are left alone. Each changed page's executed notebook
then takes the new code with its outputs kept (`jupytext --to notebook --update`): layout does not change what the code computes,
so nothing is executed. Ruff runs at a pinned version through uv (`uv tool run`), outside the
book's lock. `--check` changes nothing and exits 1 if a page would change.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT  # noqa: E402

LINE_LENGTH = 88
RUFF = "ruff==0.14.0"
CODE_CELL = re.compile(r"^(```\{code-cell\}[^\n]*\n)(.*?)(^```[ \t]*$)", re.MULTILINE | re.DOTALL)
MAGIC = re.compile(r"^\s*[%!]", re.MULTILINE)


def split_options(body: str) -> tuple[str, str]:
    """A code cell's body as (options, code): options are a `---` YAML block or `:key:` lines."""
    if body.startswith("---\n"):
        end = body.index("\n---\n", 3) + len("\n---\n")
        options, code = body[:end], body[end:]
    else:
        lines = body.splitlines(keepends=True)
        count = 0
        while count < len(lines) and lines[count].startswith(":"):
            count += 1
        options, code = "".join(lines[:count]), "".join(lines[count:])
    # The blank line between options and code belongs to the options.
    stripped = code.lstrip("\n")
    return options + code[: len(code) - len(stripped)], stripped


def code_cells(text: str):
    """(match, options, code) of each code cell of a MyST page."""
    for match in CODE_CELL.finditer(text):
        options, code = split_options(match[2])
        yield match, options, code


def pages(arguments: list[str]) -> list[Path]:
    if arguments:
        return [Path(a).resolve() for a in arguments]
    return sorted((ROOT / "chapters").glob("*.md")) + sorted((ROOT / "exercises").glob("*.md"))


def ruff_format(codes: list[str]) -> list[str]:
    """The codes formatted by ruff at LINE_LENGTH, in one run over a folder of files."""
    uv = Path(sys.executable).parent / "uv"
    with tempfile.TemporaryDirectory(prefix="format-pages-") as folder:
        files = [Path(folder) / f"cell{number:04d}.py" for number in range(len(codes))]
        for file, code in zip(files, codes):
            file.write_text(code)
        result = subprocess.run(
            [str(uv), "tool", "run", "--quiet", "--from", RUFF, "ruff", "format", "--no-cache",
             "--isolated", "--line-length", str(LINE_LENGTH), folder],
            capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"ruff could not format the code cells:\n{result.stderr}{result.stdout}")
        return [file.read_text() for file in files]


COMMENT_LINE = re.compile(r"^(?P<indent>[ \t]*)# (?P<text>.*)$")


def wrap_comments(code: str) -> str:
    """Blocks of full-line comments with a line longer than LINE_LENGTH, which ruff leaves alone,
    reflowed as one paragraph at it (wrapping each long line alone would leave a ragged block)."""
    lines = code.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = COMMENT_LINE.match(lines[index])
        if match is None:
            out.append(lines[index])
            index += 1
            continue
        block = [match]
        index += 1
        while index < len(lines):
            following = COMMENT_LINE.match(lines[index])
            if following is None or following["indent"] != match["indent"]:
                break
            block.append(following)
            index += 1
        if all(len(item.string) <= LINE_LENGTH for item in block):
            out += [item.string for item in block]
            continue
        prefix = match["indent"] + "# "
        out += textwrap.wrap(" ".join(item["text"].strip() for item in block), width=LINE_LENGTH,
                             initial_indent=prefix, subsequent_indent=prefix,
                             break_long_words=False, break_on_hyphens=False)
    return "\n".join(out)


def wrap_docstrings(code: str) -> str:
    """Docstring lines longer than LINE_LENGTH, which ruff leaves alone, wrapped at it: a one-line
    docstring becomes a docstring of several lines."""
    import io
    import tokenize

    lines = code.split("\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code
    previous, docstrings = tokenize.NEWLINE, []
    for token in tokens:
        if token.type in (tokenize.COMMENT, tokenize.NL):
            continue
        if (token.type == tokenize.STRING and token.string.startswith('"""')
                and previous in (tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT)):
            docstrings.append(token)
        previous = token.type
    for token in reversed(docstrings):  # from the end, so that inserted lines move nothing unseen
        first, last = token.start[0] - 1, token.end[0] - 1
        indent = lines[first][: token.start[1]]
        width = LINE_LENGTH - len(indent)
        for number in range(last, first - 1, -1):
            line = lines[number]
            if len(line) <= LINE_LENGTH:
                continue
            text = line.strip()
            opens, closes = text.startswith('"""'), text.endswith('"""') and (number == last)
            body = text[3 if opens else 0: len(text) - (3 if closes else 0)]
            wrapped = textwrap.wrap(body, width=width - 6, break_long_words=False, break_on_hyphens=False)
            wrapped = [indent + piece for piece in wrapped]
            if opens:
                wrapped[0] = indent + '"""' + wrapped[0][len(indent):]
            if closes:
                wrapped[-1] += '"""'
            lines[number: number + 1] = wrapped
    return "\n".join(lines)


def long_code_lines(code: str) -> list[str]:
    """Lines of a cell longer than LINE_LENGTH. (A long string other than a docstring, which no
    formatter breaks, is split by hand into pieces that Python joins.)"""
    return [line for line in code.splitlines() if len(line) > LINE_LENGTH]


def format_page(path: Path, check: bool) -> bool:
    """Format one page's code cells; returns whether it changed (or would)."""
    text = path.read_text()
    cells = [(m, o, c) for m, o, c in code_cells(text) if c.strip() and not MAGIC.search(c)]
    formatted = [wrap_docstrings(wrap_comments(code))
                 for code in ruff_format([code for _, _, code in cells])]
    pieces, position, changed = [], 0, False
    for (match, options, code), new in zip(cells, formatted):
        new = new.rstrip("\n") + "\n" if code.endswith("\n") else new.rstrip("\n")
        if new != code:
            changed = True
        pieces += [text[position:match.start()], match[1], options, new, match[3]]
        position = match.end()
    pieces.append(text[position:])
    if changed and not check:
        path.write_text("".join(pieces))
        twin = paired_notebook(path)
        subprocess.run([str(Path(sys.executable).parent / "jupytext"), "--quiet", "--to", "notebook",
                        "--update", "--output", str(twin), str(path)], check=True)
    return changed


def paired_notebook(path: Path) -> Path:
    """The executed notebook a source is paired with (jupytext.toml)."""
    if path.parent.name == "exercises":
        return path.parent.parent / "solutions" / path.with_suffix(".ipynb").name
    return path.with_suffix(".ipynb")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page would change")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    changed = [path for path in pages(args.files) if format_page(path, args.check)]
    for path in changed:
        print(f"{'would reformat' if args.check else 'reformatted'} {path.relative_to(ROOT)}")
    if changed and not args.check:
        print("Executed notebooks updated with their outputs kept; run `make exercises` to "
              "regenerate the student notebooks.")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
