"""The pinned environment: one lock, used by the local setup, CI, Binder and Colab."""
import re

import jupytext
import yaml

from book_layout import ROOT, environment_yml, normalise, notebook_sources, read_lock


def test_environment_yml_matches_lock():
    expected = environment_yml((ROOT / "requirements.lock").read_text())
    actual = (ROOT / "environment.yml").read_text()
    assert actual == expected, "environment.yml has drifted from requirements.lock: run `make lock`"


def test_environment_yml_is_valid_for_binder():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert all("==" in pin for pin in pip_section)


def test_every_requirement_is_pinned_in_lock():
    pins = read_lock()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, _, wanted = line.partition("==")
        assert normalise(name) in pins, f"{name} is in requirements.in but not in requirements.lock"
        if wanted:
            assert pins[normalise(name)] == wanted, f"{name}: lock has {pins[normalise(name)]}, wanted {wanted}"


def test_jupyter_book_is_the_1x_series():
    assert read_lock()["jupyter-book"].startswith("1."), "Jupyter Book 2.x is a different tool"


COLAB_PIN = re.compile(r"([A-Za-z0-9_.-]+)==([^\s\"']+)")


def test_colab_setup_cells_install_the_locked_versions():
    pins = read_lock()
    for source in notebook_sources():
        setup = [c.source for c in jupytext.read(source).cells if "google.colab" in c.source]
        assert setup, f"{source.name}: no Colab set-up cell"
        for name, version in COLAB_PIN.findall(setup[0]):
            assert pins.get(normalise(name)) == version, (
                f"{source.name}: Colab installs {name}=={version}, the lock has {pins.get(normalise(name))}"
            )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make html" in readme
    assert re.search(r"^\s*make test\s*$", ci, re.MULTILINE), ".ci/run must run the README's `make test`"


def test_binder_has_what_it_needs():
    """Binder installs environment.yml: it must open MyST pages as notebooks (jupytext) and
    need no system package (no graphviz: the plate diagram is drawn with daft-pgm)."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    names = {pin.split("==")[0].lower() for pin in pip_section}
    assert {"jupytext", "ipykernel", "pymc", "arviz"} <= names
    apt = ROOT / "apt.txt"
    for source in notebook_sources():
        if re.search(r"^\s*(import|from)\s+graphviz", source.read_text(), re.MULTILINE):
            assert apt.exists() and "graphviz" in apt.read_text(), (
                f"{source.name} uses graphviz, which Binder installs only when apt.txt lists it")
