"""The first cell of every notebook: what it installs when it runs on Google Colab.

Usage: python tools/colab_setup.py   (run by `make colab-cells`: rewrites the cell in every source)

Colab starts with its own versions of many packages (tests/data/colab/ has the published list).
The set-up cell installs only what Colab lacks or holds at a version that changes the book's
results, pinned to requirements.lock; it never asks for a package Colab's kernel imported at
start-up (numpy, PIL, IPython, traitlets), because the running kernel would keep the old one. It
shows pip's output (Colab's restart prompt would be hidden by --quiet) and ends with a check that
asks the student to restart the runtime if an already imported package was replaced anyway.

The book's helpers (and an exercise's public checks) come from the release of the public
repository named in _config.yml, tag v<version> of pyproject.toml, never from a moving branch.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, normalise, notebook_sources, read_lock, release_tag, repository  # noqa: E402

# What every notebook needs that Colab lacks or has at another major version (Colab: PyMC 5,
# ArviZ 0.22; the book: PyMC 6, ArviZ 1). PyMC 6 needs a newer SciPy than Colab's, which pip
# upgrades (SciPy is not imported when Colab starts, so no restart is needed).
CORE = ("pymc", "pytensor", "arviz", "arviz-base", "arviz-stats", "arviz-plots")
# Installed without their dependencies: nutpie's own tree adds its optional zarr storage
# (zarr, obstore, numcodecs, donfig, msgspec: 7.7 MB) that PyMC's sampling never uses; nutpie
# needs only arro3-core besides what Colab has.
SAMPLER = ("nutpie", "arro3-core")
# Imported by some notebooks and absent from Colab: import name -> distribution.
EXTRAS = {"daft": "daft-pgm"}
# otter-grader's full dependency tree pulls Playwright and Sphinx (over 100 MB); `otter.Notebook`
# and `grader.check` need only these, the rest being on Colab already.
OTTER = ("otter-grader", "fica", "ipylab", "python-frontmatter")
# Never installed on Colab: its kernel imported them before the first cell ran.
IMPORTED_AT_START = ("numpy", "pillow", "ipython", "traitlets")

CELL_TAGS = ["remove-cell", "colab-setup", "nbval-ignore-output"]


def release() -> tuple[str, str]:
    """(public repository URL, release tag) the Colab cells install from."""
    url, _ = repository()
    return url, release_tag()


def pinned(names) -> list[str]:
    pins = read_lock()
    out = []
    for name in names:
        assert normalise(name) not in IMPORTED_AT_START, f"{name} must never be installed on Colab"
        out.append(f"{name}=={pins[normalise(name)]}")
    return out


def packages_for(code: str) -> list[str]:
    """The distributions a notebook's set-up installs, from the modules its code imports."""
    imported = set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, re.MULTILINE))
    return [*CORE, *(dist for module, dist in EXTRAS.items() if module in imported)]


def setup_cell(code: str, checks: tuple[str, list[str]] | None = None) -> str:
    """The Colab set-up cell of a notebook whose code is `code`.

    `checks` is (exercise name, public check file names) for a student notebook: it then also
    installs what `grader.check` needs and downloads the exercise's public checks.
    """
    url, tag = release()
    helpers = f'"hierarchical-helpers @ git+{url}@{tag}"'
    lines = [
        "# On Colab: install what this book needs that Colab lacks (elsewhere this cell does nothing).",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        f"    %pip install {' '.join(pinned(packages_for(code)))} {helpers}",
        f"    %pip install --no-deps {' '.join(pinned(SAMPLER + (OTTER if checks is not None else ())))}",
    ]
    if checks is not None:
        name, files = checks
        raw = url.replace("https://github.com/", "https://raw.githubusercontent.com/") + f"/{tag}"
        lines += [
            "    import pathlib",
            "    import urllib.request",
            "",
            f'    checks = pathlib.Path("tests/{name}")',
            "    checks.mkdir(parents=True, exist_ok=True)",
            f"    for check in {files!r}:",
            f'        urllib.request.urlretrieve(f"{raw}/exercises/tests/{name}/{{check}}", checks / check)',
        ]
    lines += [
        "    from hierarchical_helpers.colab import check_restart",
        "",
        "    check_restart()",
    ]
    return "\n".join(lines)


# Installed on a reader's own computer besides CORE: the sampler, the grader's `grader.check`, and
# JupyterLab to open the notebook.
LOCAL = ("nutpie", "otter-grader", "jupyterlab")


def local_install_command() -> str:
    """The one `pip install` line that prepares a reader's own Python 3.13 for any exercise: the
    book's pinned packages (pymc, pytensor, arviz, nutpie, otter-grader, JupyterLab) and the
    helpers from the release tag. Pip resolves the rest (SciPy, pandas ...) from their dependencies."""
    url, tag = release()
    pins = read_lock()
    wanted = [name for name in (*CORE, *LOCAL) if not name.startswith("arviz-")]
    packages = " ".join(f"{name}=={pins[normalise(name)]}" for name in wanted)
    return f'pip install {packages} "hierarchical-helpers @ git+{url}@{tag}"'


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and "google.colab" in cell.source


def notebook_code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not is_setup_cell(c))


SETUP_BLOCK = re.compile(r"```\{code-cell\} ipython3\n(?::tags: \[[^\]\n]*\]\n)?\n(?P<body>(?:(?!```).)*?google\.colab(?:(?!```).)*?)```",
                         re.DOTALL)


def update_source(source: Path) -> bool:
    """Rewrite the set-up cell of one MyST source in place (text only); True if it changed."""
    text = source.read_text()
    match = SETUP_BLOCK.search(text)
    if not match:
        raise SystemExit(f"{source.relative_to(ROOT)} has no Colab set-up cell (a code cell testing "
                         '`"google.colab" in sys.modules`); add one as its first code cell.')
    wanted = (f"```{{code-cell}} ipython3\n:tags: [{', '.join(CELL_TAGS)}]\n\n"
              f"{setup_cell(notebook_code(jupytext.read(source)))}\n```")
    if match.group(0) == wanted:
        return False
    source.write_text(text[:match.start()] + wanted + text[match.end():])
    return True


def main():
    changed = [s for s in notebook_sources() if s.parent.name in ("chapters", "exercises") and update_source(s)]
    for source in changed:
        print(f"updated the Colab set-up cell of {source.relative_to(ROOT)}")
    print("Colab set-up cells are current" if not changed else "run `make notebooks` for the pages above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
