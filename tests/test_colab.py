"""Every chapter and student notebook, run as a student meets it on Google Colab.

The simulated runtime (tests/reader_environments.py) has Colab's published package versions, imports
google.colab (and with it numpy and PIL) when the kernel starts, and installs from PyPI and from a
local copy of the book's public repository tagged with the release the set-up cells name (GitHub
itself is unreachable here). Each notebook runs top to bottom with no edits, in an empty folder as
in Colab's /content, and nbval compares every output with the committed notebook (text only:
Colab's matplotlib is not the book's, so figures are compared in the Binder-faithful run instead),
on OpenBLAS's own CPU kernel with two threads (the Binder-faithful run uses another kernel and one).

Notebooks whose set-up cells install the same packages share one fresh runtime: the first of them
installs into it, which times the install a student waits for; the others find the packages
installed, as in a second notebook of the same Colab session. _build/colab-report.md records each
group's download size and install time.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest

from book_layout import ROOT, exercise_sources, repository
from colab_setup import IMPORTED_AT_START
from reader_environments import (colab_environment, colab_kernel, imported_modules, public_repository,
                                 setup_commands, setup_download_bytes, student_environment)

pytestmark = pytest.mark.slow

DOWNLOAD_LIMIT = 60 * 10**6  # bytes a set-up cell may download
NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "chapters").glob("*.ipynb")) + [
    s.with_suffix(".ipynb").relative_to(ROOT).as_posix() for s in exercise_sources()]
REPORT = ROOT / "_build" / "colab-report.md"


def read(notebook: str):
    return nbformat.read(ROOT / notebook, as_version=4)


def run_nbval(notebooks: list[Path], kernels: Path, junit: Path) -> str:
    """nbval over `notebooks` with the simulated Colab kernel; returns its output."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(junit.parent), "-p", "no:cacheprovider",
         "--nbval", "--nbval-kernel-name", "colab-sim", "--nbval-cell-timeout", "900",
         f"--nbval-sanitize-with={ROOT / 'tests' / 'sanitize.cfg'}", f"--junitxml={junit}", "-q",
         *map(str, notebooks)],
        capture_output=True, text=True, cwd=junit.parent,
        env=student_environment({"JUPYTER_PATH": str(kernels.parent)}))
    return run.stdout[-4000:] + run.stderr[-2000:]


def cell_results(junit: Path) -> dict[str, list[tuple[str, float, str | None]]]:
    """Per notebook (file stem): (cell, seconds, failure or None) from nbval's JUnit report."""
    results: dict[str, list] = {}
    if not junit.exists():
        return results
    for case in ElementTree.parse(junit).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        stem = case.get("classname", "").removesuffix(".ipynb").rsplit(".", 1)[-1]
        results.setdefault(stem, []).append(
            (case.get("name", ""), float(case.get("time", 0)),
             None if problem is None else f"{problem.get('message', '')}\n{problem.text or ''}"[-3000:]))
    return results


def installed(python: Path) -> dict[str, str]:
    frozen = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, check=True, env=student_environment()).stdout
    return {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower(): line.split("==")[1]
            for line in frozen.splitlines() if "==" in line}


@pytest.fixture(scope="module")
def colab_runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("colab")
    url, _ = repository()
    public = public_repository(home / "public")
    groups: dict[tuple, list[str]] = {}
    for notebook in NOTEBOOKS:
        groups.setdefault(tuple(setup_commands(read(notebook))), []).append(notebook)
    runs = {}
    report = ["# Simulated Colab: what each notebook's set-up cell costs", "",
              "| notebooks | download | install |", "|---|---:|---:|"]
    for number, (commands, members) in enumerate(groups.items()):
        python = colab_environment(f"group{number}", list(commands),
                                   set().union(*(imported_modules(read(notebook)) for notebook in members)))
        runtime = home / f"runtime{number}"
        kernels = colab_kernel(python, runtime, public, url)
        git = {k: v for k, v in (json.loads((kernels / "colab-sim" / "kernel.json").read_text())["env"]).items()
               if k.startswith("GIT_")}
        download = setup_download_bytes(python, list(commands), student_environment(git))
        before = installed(python)
        copies = []
        for notebook in members:  # each alone in an empty folder, like Colab's /content
            folder = runtime / "content" / Path(notebook).stem
            folder.mkdir(parents=True)
            copies.append(Path(shutil.copy(ROOT / notebook, folder / Path(notebook).name)))
        output = run_nbval(copies[:1], kernels, runtime / "first.xml")
        after = installed(python)
        if copies[1:]:
            output += run_nbval(copies[1:], kernels, runtime / "rest.xml")
        cells = {**cell_results(runtime / "first.xml"), **cell_results(runtime / "rest.xml")}
        first_cells = cells.get(Path(members[0]).stem, [])
        install_seconds = first_cells[0][1] if first_cells else float("nan")
        for notebook in members:
            runs[notebook] = {"cells": cells.get(Path(notebook).stem, []), "output": output}
        runs[members[0]].update(download=download, replaced={
            name: (before[name], after.get(name)) for name in IMPORTED_AT_START
            if name in before and after.get(name) != before[name]})
        report.append(f"| {', '.join(members)} | {sum(download.values()) / 1e6:.1f} MB "
                      f"({len(download)} files) | {install_seconds:.0f} s |")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(report) + "\n")
    return runs


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_on_simulated_colab(colab_runs, notebook):
    run = colab_runs[notebook]
    assert run["cells"], f"{notebook} did not run on simulated Colab:\n{run['output']}"
    failures = [f"{name}: {failure}" for name, _, failure in run["cells"] if failure]
    assert not failures, (f"{notebook} on simulated Colab: {len(failures)} cells failed, the first:\n"
                          + "\n\n".join(failures)[:6000])


def test_setup_cells_download_little_and_need_no_restart(colab_runs):
    first_runs = {nb: run for nb, run in colab_runs.items() if "download" in run}
    for notebook, run in first_runs.items():
        total = sum(run["download"].values())
        assert total <= DOWNLOAD_LIMIT, (
            f"{notebook}'s set-up cell downloads {total / 1e6:.1f} MB: {run['download']}")
        assert not run["replaced"], (
            f"{notebook}'s set-up cell replaced packages Colab imported at start-up: {run['replaced']}")
    assert any(sum(run["download"].values()) > 1e6 for run in first_runs.values()), (
        "no set-up cell downloads anything: the simulated runtime already had the book's packages")
