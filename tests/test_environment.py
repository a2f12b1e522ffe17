"""The pinned environments: one lock, and the subsets Binder and Colab install from it."""
import re
import shutil
import subprocess

import jupytext
import yaml

from book_layout import ROOT, normalise, notebook_sources, read_lock
from colab_setup import IMPORTED_AT_START, is_setup_cell, notebook_code, release, setup_cell


def _binder_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    return {normalise(pin.split("==")[0]): pin.split("==")[1] for pin in pip_section}


def test_binder_environment_is_the_lock_s_runtime_subset():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.13" in env["dependencies"]
    pins, lock = _binder_pins(), read_lock()
    drifted = {name: (version, lock.get(name)) for name, version in pins.items() if lock.get(name) != version}
    assert not drifted, f"environment.yml pins differ from requirements.lock (run `make lock`): {drifted}"
    wanted = {normalise(line.split("#")[0].strip()) for line in (ROOT / "requirements-runtime.in").read_text().splitlines()
              if line.split("#")[0].strip()}
    assert wanted <= set(pins), f"requirements-runtime.in lists {sorted(wanted - set(pins))}, missing from environment.yml"
    for build_tool in ("jupyter-book", "myst-nb", "pytest", "nbval", "linkchecker", "pytest-playwright", "uv"):
        assert build_tool not in pins, f"Binder's runtime environment carries the build/test tool {build_tool}"


def test_binder_installs_the_helpers():
    post_build = (ROOT / "postBuild").read_text()
    assert re.search(r"pip install .*\s\.\s*$", post_build, re.MULTILINE), "postBuild must install this repository's helpers"


def test_every_requirement_is_pinned_in_lock():
    pins = read_lock()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, _, wanted = line.partition("==")
        assert normalise(name) in pins, f"{name} is in requirements.in but not in requirements.lock (run `make lock`)"
        if wanted:
            assert pins[normalise(name)] == wanted, f"{name}: lock has {pins[normalise(name)]}, wanted {wanted}"


def test_the_stack_is_the_current_one():
    pins = read_lock()
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book 2.x is a different tool"
    assert pins["pymc"].startswith("6.") and pins["arviz"].startswith("1.")
    assert not {"jax", "jaxlib", "numpyro", "sphinx-exercise", "pytest-xdist"} & set(pins), "unused packages in the lock"


def test_colab_setup_cells_are_current():
    """Every notebook source's first cell is what tools/colab_setup.py generates for it."""
    for source in notebook_sources():
        if source.parent.name != "chapters":
            continue
        nb = jupytext.read(source)
        cell = next((c for c in nb.cells if is_setup_cell(c)), None)
        assert cell is not None, f"{source.name}: no Colab set-up cell"
        assert cell.source == setup_cell(notebook_code(nb)), f"{source.name}: stale Colab set-up cell (run `make colab-cells`)"


def test_colab_setup_never_replaces_what_colab_imported_at_start():
    for source in notebook_sources():
        cell = next((c for c in jupytext.read(source).cells if is_setup_cell(c)), None)
        for name, _ in re.findall(r"([A-Za-z0-9_.-]+)==(\S+)", cell.source if cell else ""):
            assert normalise(name) not in IMPORTED_AT_START, f"{source.name} installs {name} on Colab"


def test_colab_installs_from_the_public_release():
    url, tag = release()
    cell = setup_cell("import pymc")
    assert f"git+{url}@{tag}" in cell and "@main" not in cell
    student = setup_cell("import pymc", checks=("shrinkage-arithmetic", ["q1.py"]))
    assert f"/{tag}/exercises/tests/shrinkage-arithmetic/" in student


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make html" in readme
    assert re.search(r"^\s*make test\s*$", ci, re.MULTILINE), ".ci/run must run the README's `make test`"


def test_python_finder_explains_itself_when_there_is_no_python_3_13(tmp_path):
    for tool in ("cat", "grep", "sort"):  # a PATH with the shell's tools and no Python, no pyenv
        (tmp_path / tool).symlink_to(shutil.which(tool))
    result = subprocess.run([str(ROOT / "tools" / "find-python")], capture_output=True, text=True,
                            env={"PATH": str(tmp_path), "PYTHON": ""})
    assert result.returncode != 0 and "No Python 3.13 found" in result.stderr and "pyenv install 3.13" in result.stderr
