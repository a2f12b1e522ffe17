"""The book's layout, shared by its tools and tests.

Everything here is about the repository's layout: which pages exist, where their executed
notebooks and reference figures live, and what the pinned environment is.
"""
from __future__ import annotations

import base64
import os
import re
import sys
import tomllib
from pathlib import Path

import yaml

# BOOK_ROOT lets the tests run the figure check on a throw-away book of their own.
ROOT = Path(os.environ.get("BOOK_ROOT") or Path(__file__).resolve().parent.parent)
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")
FIGURE_MIME = "image/png"


def kernels_run_this_python() -> None:
    """Make the kernel named "python3" the one of the environment running this tool.

    `make` sets JUPYTER_PATH for this; a tool run by hand (`.venv/bin/python tools/...`) would
    otherwise start whatever "python3" kernel the machine registered elsewhere, with other packages.
    """
    here = str(Path(sys.prefix) / "share" / "jupyter")
    paths = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
    if here not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([here, *filter(None, paths)])


def toc_docnames(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every `file:` entry of a Jupyter Book table of contents, root first, in order."""
    toc = yaml.safe_load(toc_path.read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return names


def is_myst_notebook(path: Path) -> bool:
    """A MyST Markdown file is a notebook when its front matter names a kernel."""
    text = path.read_text()
    if not text.startswith("---\n"):
        return False
    front = text.split("\n---\n", 1)[0]
    return "kernelspec:" in front


def notebook_sources(root: Path = ROOT) -> list[Path]:
    """The MyST notebook sources of the book: pages, exercises and answer keys."""
    found = []
    for folder in NOTEBOOK_DIRS:
        found.extend(p for p in sorted((root / folder).glob("*.md")) if is_myst_notebook(p))
    return found


def executed_notebook(source: Path) -> Path:
    """The executed twin of a MyST source, as jupytext.toml pairs them.

    For a chapter page it sits beside the source (and is what Colab opens). For an exercise it
    is the answer key in solutions/: the notebook beside an exercise's source is the student
    notebook, which has no solutions and is not executed.
    """
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file
    from jupytext.formats import long_form_one_format
    from jupytext.paired_paths import paired_paths

    root = source.resolve().parent.parent
    config = load_jupytext_configuration_file(find_jupytext_configuration_file(str(root)))
    relative = source.resolve().relative_to(root).as_posix()
    formats = config.default_formats(relative)
    twins = paired_paths(relative, long_form_one_format("md:myst"), formats) if formats else []
    executed = [path for path, fmt in twins if fmt["extension"] == ".ipynb"]
    if not executed:
        raise ValueError(f"{relative} has no executed twin in jupytext.toml")
    return root / executed[0]


def exercise_sources(root: Path = ROOT) -> list[Path]:
    """The single source of every exercise."""
    return [p for p in notebook_sources(root) if p.parent.name == "exercises"]


def repository(root: Path = ROOT) -> tuple[str, str]:
    """(GitHub URL, branch) of the book's repository, from _config.yml: the one place they live."""
    config = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return config["url"].rstrip("/"), config.get("branch", "main")


def release_tag(root: Path = ROOT) -> str:
    """The release, `v<version>` of pyproject.toml: the public repository's tag that Colab and
    Binder links, the helpers' install and the public checks' download all point at."""
    return "v" + tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def reference_dir(notebook: Path, root: Path = ROOT) -> Path:
    """Where the reference images of a notebook's figures are kept."""
    relative = notebook.resolve().relative_to(root.resolve()).with_suffix("")
    return root / "figures" / relative


def figure_name(cell_metadata: dict) -> str | None:
    """The name a cell gives its figure (myst-nb `mystnb.figure.name`), if any."""
    return ((cell_metadata.get("mystnb") or {}).get("figure") or {}).get("name")


def cell_figures(cell_metadata: dict, outputs: list, cell_label: str) -> dict[str, bytes]:
    """The PNG images among one cell's outputs, keyed by the file name of their reference.

    A cell with one figure is stored as `<name>.png`, several as `<name>-1.png`, ...
    A figure without a name is keyed by `cell_label`, so that it still has to be matched.
    A figure's phone rendition (in the output's metadata, see hierarchical_helpers.phone_figures)
    is stored next to it as `<name>.phone.png`.
    """
    from hierarchical_helpers.phone_figures import PHONE_METADATA_KEY

    images = []
    for out in outputs:
        if FIGURE_MIME in (out.get("data") or {}):
            phone = ((out.get("metadata") or {}).get(PHONE_METADATA_KEY) or {}).get(FIGURE_MIME)
            images.append((base64.b64decode(out["data"][FIGURE_MIME]), phone and base64.b64decode(phone)))
    stem = figure_name(cell_metadata) or cell_label
    names = [stem] if len(images) == 1 else [f"{stem}-{k}" for k in range(1, len(images) + 1)]
    figures = {}
    for name, (png, phone) in zip(names, images):
        figures[f"{name}.png"] = png
        if phone:
            figures[f"{name}.phone.png"] = phone
    return figures


def notebook_figures(nb) -> dict[str, bytes]:
    """All figures of an executed notebook, keyed as in `cell_figures`.

    Unnamed figures are labelled by code-cell number, counted from 0 as nbval does.
    """
    figures = {}
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        figures.update(cell_figures(cell.metadata, cell.get("outputs", []), f"cell-{number}"))
    return figures


LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def read_lock(path: Path = ROOT / "requirements.lock") -> dict[str, str]:
    """Package name (normalised) -> pinned version, from a `name==version` lock file."""
    pins = {}
    for line in path.read_text().splitlines():
        match = LOCK_LINE.match(line.strip())
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def requirement_names(path: Path) -> list[str]:
    """The (normalised) package names a requirements input file lists, one a line, comments dropped."""
    names = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [normalise(name) for name in names if name]


def normalise(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


BINDER_PYTHON = "python=3.13"


def binder_environment_yml(runtime_pins: str) -> str:
    """environment.yml, what Binder (repo2docker) installs, from the runtime pins `make lock` resolved."""
    pins = [line.strip() for line in runtime_pins.splitlines() if LOCK_LINE.match(line.strip())]
    lines = [
        "# Binder's runtime environment: what the notebooks import and nothing of the build or tests.",
        "# Generated by `make lock` from requirements-runtime.in, constrained to requirements.lock;",
        "# postBuild then installs requirements-nodeps.txt without dependencies and the book's helper",
        "# module. Tests fail when this drifts from the lock.",
        "name: partial-pooling",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - {BINDER_PYTHON}",
        "  - pip",
        "  - pip:",
        *(f"      - {pin}" for pin in pins),
    ]
    return "\n".join(lines) + "\n"
