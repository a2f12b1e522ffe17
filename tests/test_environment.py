"""The pinned environments: one lock, and the subsets Binder and Colab install from it."""
import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib

import jupytext
import nbformat
import pytest
import yaml
from packaging.requirements import Requirement

from book_layout import ROOT, normalise, notebook_sources, read_lock, requirement_names
from colab_setup import IMPORTED_AT_START, is_setup_cell, notebook_code, release, setup_cell


def _binder_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    return {normalise(pin.split("==")[0]): pin.split("==")[1] for pin in pip_section}


def test_binder_environment_is_the_lock_s_runtime_subset():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.13" in env["dependencies"]
    pins, lock = {**_binder_pins(), **_no_deps_pins()}, read_lock()
    drifted = {name: (version, lock.get(name)) for name, version in pins.items() if lock.get(name) != version}
    assert not drifted, f"environment.yml or requirements-nodeps.txt differ from requirements.lock (run `make lock`): {drifted}"
    wanted = set(requirement_names(ROOT / "requirements-runtime.in"))
    assert wanted <= set(pins), f"requirements-runtime.in lists {sorted(wanted - set(pins))}, missing from environment.yml"
    for build_tool in ("jupyter-book", "myst-nb", "pytest", "nbval", "linkchecker", "pytest-playwright", "uv"):
        assert build_tool not in pins, f"Binder's runtime environment carries the build/test tool {build_tool}"


def _no_deps_pins() -> dict[str, str]:
    lines = [line for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines() if "==" in line]
    return {normalise(line.split("==")[0]): line.split("==")[1] for line in lines}


def test_binder_installs_some_packages_without_their_dependencies():
    no_deps = _no_deps_pins()
    assert list(no_deps) == requirement_names(ROOT / "requirements-nodeps.in"), \
        "requirements-nodeps.txt is not requirements-nodeps.in pinned (run `make lock`)"
    assert not set(no_deps) & set(_binder_pins()), \
        f"environment.yml installs {sorted(set(no_deps) & set(_binder_pins()))} with their dependencies"
    for unused in ("playwright", "greenlet", "sphinx", "python-on-whales", "pydantic", "zarr", "numcodecs", "obstore"):
        assert unused not in _binder_pins(), f"environment.yml installs {unused}, which no notebook uses"


def test_binder_installs_the_helpers_leaving_no_build_files():
    commands = [line.strip() for line in (ROOT / "postBuild").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert "python -m pip install --no-cache-dir --no-deps -r requirements-nodeps.txt" in commands
    install = [c for c in commands if re.search(r"pip install .*--no-deps .*\"\$scratch\"$", c)]
    assert install, "postBuild must install this repository's helpers, built from a copy outside the home folder"
    assert "scratch=$(mktemp -d)" in commands and any(c.startswith("cp -r pyproject.toml hierarchical_helpers") for c in commands)


# The helpers import IPython only inside the notebook kernel that runs them, which is IPython itself.
PROVIDED_BY_THE_KERNEL = {"ipython"}


def test_helpers_declare_exactly_what_they_import():
    """pyproject.toml's dependencies are the distributions whose modules the helpers import
    (anywhere in their code, also inside functions), and nothing else: on Colab every declared
    dependency is resolved again, so an undeclared-but-imported one could be missing and a declared
    one that is never imported costs a download."""
    owners = importlib.metadata.packages_distributions()
    imported = set()
    for path in (ROOT / "hierarchical_helpers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"hierarchical_helpers"}
    unknown = sorted(module for module in third_party if module not in owners)
    assert not unknown, f"the helpers import {unknown}, which no installed distribution provides"
    needed = {normalise(owners[module][0]) for module in third_party} - PROVIDED_BY_THE_KERNEL
    declared = {normalise(Requirement(text).name)
                for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert declared == needed, (f"pyproject.toml declares {sorted(declared - needed)} that the helpers never import "
                                f"and lacks {sorted(needed - declared)} that they import")


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


# A check in otter-grader's own format, as tools/student_materials.py writes them.
OTTER_CHECK = '''from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 1


@test_case(points=1, hidden=False)
def test_q1_is_two(answer):
    assert answer == 2, "answer should be 2"
'''

# Run in Binder's kernel after the cells above: which distributions its modules came from, and
# every distribution those need through their declared dependencies (not through the packages
# installed without dependencies: what those import was loaded, so it is counted directly).
NEEDED_DISTRIBUTIONS = '''
import importlib.metadata as _metadata
import json as _json
import re as _re
import sys as _sys

_loaded = {_name.partition(".")[0] for _name in list(_sys.modules)}
from packaging.requirements import Requirement as _Requirement

def _normalise(name):
    return _re.sub(r"[-_.]+", "-", name).lower()

_owners = _metadata.packages_distributions()
_todo = [(_normalise(d), ()) for m in _loaded for d in _owners.get(m, [])] + [(name, ()) for name in _ROOTS]
_needed, _seen = set(), set()
while _todo:
    _name, _extras = _todo.pop()
    if (_name, _extras) in _seen:
        continue
    _seen.add((_name, _extras))
    try:
        _requires = _metadata.distribution(_name).requires or []
    except _metadata.PackageNotFoundError:
        continue
    _needed.add(_name)
    if _name in _NO_DEPS:
        continue
    for _text in _requires:
        _requirement = _Requirement(_text)
        if _requirement.marker is None or any(_requirement.marker.evaluate({"extra": e}) for e in ("", *_extras)):
            _todo.append((_normalise(_requirement.name), tuple(sorted(_requirement.extras))))
# What is installed in the environment's site-packages (setuptools puts the packages it vendors on
# sys.path when imported; they are part of setuptools, not installed).
import sysconfig as _sysconfig

_installed = _metadata.distributions(path=[_sysconfig.get_paths()["purelib"]])
print(_json.dumps({"installed": sorted(_normalise(d.metadata["Name"]) for d in _installed),
                   "needed": sorted(_needed)}))
'''


def _notebook_imports() -> list[str]:
    """The top-level modules the book's notebooks import, outside the standard library."""
    modules = set()
    for source in notebook_sources():
        code = notebook_code(jupytext.read(source))
        modules.update(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, re.MULTILINE))
    return sorted(modules - set(sys.stdlib_module_names))


@pytest.fixture(scope="module")
def binder_kernel_run(tmp_path_factory):
    """A notebook run in Binder's environment: every module the notebooks import, a fit with
    nutpie, an otter check and a widget, then what the kernel loaded."""
    from reader_environments import binder_environment, execute_with_kernel

    python = binder_environment()
    folder = tmp_path_factory.mktemp("binder-home")
    (folder / "checks").mkdir()
    (folder / "checks" / "q1.py").write_text(OTTER_CHECK)
    cells = {
        "imports": ("import importlib\nimport pkgutil\n\nimport hierarchical_helpers\n\n"
                    f"for module in {_notebook_imports()!r}:\n    importlib.import_module(module)\n"
                    "for info in pkgutil.iter_modules(hierarchical_helpers.__path__):\n"
                    "    importlib.import_module(f'hierarchical_helpers.{info.name}')"),
        "fit": ("import numpy as np\nimport pymc as pm\nfrom hierarchical_helpers import assert_converged, setup_page\n\n"
                "setup_page()\nSEED = 1\nwith pm.Model():\n    mu = pm.Normal('mu', 0, 1)\n"
                "    pm.Normal('y', mu, 1, observed=np.array([0.3, -0.1, 0.5]))\n"
                "    idata = pm.sample(draws=500, tune=500, chains=2, nuts_sampler='nutpie', random_seed=SEED, progressbar=False)\n"
                "print(idata.posterior.sizes['draw'], assert_converged(idata, ['mu'], min_ess=100))"),
        "check": "import otter\n\ngrader = otter.Notebook(tests_dir='checks')\nanswer = 2\ngrader.check('q1')",
        "widget": "import ipywidgets\n\nipywidgets.IntSlider(value=3)",
        # jupytext is the Jupyter server's (it opens the MyST pages), not imported by a kernel.
        "needed": (f"_ROOTS = {['jupytext']!r}\n_NO_DEPS = {requirement_names(ROOT / 'requirements-nodeps.in')!r}\n"
                   + NEEDED_DISTRIBUTIONS),
    }
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code, id=name) for name, code in cells.items()])
    execute_with_kernel(nb, python, "binder-environment", folder,
                        {"OPENBLAS_NUM_THREADS": "1", "HOME": str(folder)}, timeout=900, allow_errors=True)
    outputs = {}
    for cell in nb.cells:
        errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        printed = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        shown = "".join(json.dumps(o.data) for o in cell.outputs if "data" in o)
        outputs[cell.id] = (errors, printed, shown)
    return outputs


@pytest.mark.slow
def test_binder_runs_a_fit_a_check_and_a_widget(binder_kernel_run):
    """Nothing the notebooks need is missing from Binder's lean environment."""
    failed = {name: errors for name, (errors, _, _) in binder_kernel_run.items() if errors}
    assert not failed, f"cells failed in Binder's environment: {failed}"
    _, fitted, _ = binder_kernel_run["fit"]
    assert fitted.startswith("500 converged: 0 divergences"), fitted
    _, printed, shown = binder_kernel_run["check"]
    assert "q1 passed" in printed + shown or "q1 results: All test cases passed" in printed + shown, (printed + shown)[:500]
    assert "application/vnd.jupyter.widget-view+json" in binder_kernel_run["widget"][2]


@pytest.mark.slow
def test_binder_holds_no_package_that_no_notebook_imports(binder_kernel_run):
    errors, printed, _ = binder_kernel_run["needed"]
    assert not errors, errors
    report = json.loads(printed)
    # pip is Binder's installer (environment.yml asks conda for it), not something a notebook uses.
    unused = sorted(set(report["installed"]) - set(report["needed"]) - {"pip"})
    assert not unused, (f"Binder's environment holds {unused}, which neither a notebook's imports nor "
                        "their dependencies need: drop them from requirements-runtime.in or install "
                        "their dependent without dependencies (requirements-nodeps.in)")


@pytest.mark.slow
def test_postbuild_leaves_nothing_in_the_readers_home_folder():
    from reader_environments import BINDER_CHECKOUT, binder_environment

    binder_environment()
    committed = set(filter(None, subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                                check=True).stdout.decode().split("\0")))
    present = {p.relative_to(BINDER_CHECKOUT).as_posix() for p in BINDER_CHECKOUT.rglob("*") if not p.is_dir()}
    extra = sorted(present - committed)
    assert not extra, f"postBuild left files in the reader's home folder: {extra[:20]}"
