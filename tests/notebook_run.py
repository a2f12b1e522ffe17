"""How `make test` re-executes the notebooks (a pytest plugin, see pytest.ini).

nbval re-executes every committed notebook (chapters, answer keys, student notebooks) and compares
its text outputs; tests/figure_check.py compares its figures in the same run. This plugin decides
where the kernels run, so that the one execution checks several things at once:

* in the Binder-faithful environment (tests/reader_environments.py: environment.yml + postBuild,
  nothing of the development environment), each kernel started in its notebook's own folder;
* with OpenBLAS on another CPU kernel (Prescott) and one thread, so that an output that depends on
  floating-point noise in the last digits fails here rather than on a reader's machine;
* measuring each kernel's peak memory (VmHWM), which must stay under Binder's 1 GiB guarantee;
  the figures are written to _build/notebook-peak-memory.json for the README.

`--notebook-kernel=current` runs the kernels in the development environment instead (quicker,
for a maintainer's local loop). nbval cells are marked `slow`, so `make check` skips them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from book_layout import ROOT

BINDER_MEMORY_LIMIT = 1024**3  # mybinder.org guarantees 1 GiB
PEAK_MEMORY_REPORT = ROOT / "_build" / "notebook-peak-memory.json"
KERNEL_ENV = {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "PYDEVD_DISABLE_FILE_VALIDATION": "1"}

_peaks: dict[str, int] = {}


def pytest_addoption(parser):
    parser.addoption("--notebook-kernel", choices=("binder", "current"), default="binder",
                     help="where nbval runs the notebooks: the Binder-faithful environment (default) or this one")


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_nbval_cell(item):
            item.add_marker(pytest.mark.slow)


def _prepare_kernel(config) -> None:
    if getattr(config, "_notebook_kernel_ready", False):
        return
    config._notebook_kernel_ready = True
    if config.getoption("--notebook-kernel") == "current":
        config.option.nbval_current_env = True
        return
    from reader_environments import ENVIRONMENTS, binder_environment, kernelspec

    python = binder_environment()
    kernels = kernelspec(ENVIRONMENTS / "kernels", "binder-sim", python, KERNEL_ENV)
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(kernels.parent), os.environ.get("JUPYTER_PATH", "")])
    config.option.nbval_current_env = False
    config.option.nbval_kernel_name = "binder-sim"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _is_nbval_cell(item):
        _prepare_kernel(item.config)


def _kernel_peak_memory(item) -> int | None:
    kernel = getattr(item.parent, "kernel", None)
    provisioner = getattr(getattr(kernel, "km", None), "provisioner", None)
    process = getattr(provisioner, "process", None)
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except (AttributeError, OSError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if _is_nbval_cell(item):
        siblings = [other for other in item.session.items if other.parent is item.parent]
        if siblings and siblings[-1] is item:
            peak = _kernel_peak_memory(item)
            if peak is not None:
                notebook = Path(item.path).resolve().relative_to(ROOT).as_posix()
                _peaks[notebook] = peak
                if item.config.getoption("--notebook-kernel") == "binder" and peak > BINDER_MEMORY_LIMIT:
                    pytest.fail(f"{notebook}: the kernel's peak memory was {peak / 2**20:.0f} MiB, over "
                                f"Binder's guaranteed {BINDER_MEMORY_LIMIT / 2**30:.0f} GiB", pytrace=False)
    return result


def pytest_sessionfinish(session):
    if _peaks:
        PEAK_MEMORY_REPORT.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(PEAK_MEMORY_REPORT.read_text()) if PEAK_MEMORY_REPORT.exists() else {}
        previous.update({name: round(peak / 2**20) for name, peak in _peaks.items()})
        PEAK_MEMORY_REPORT.write_text(json.dumps(dict(sorted(previous.items())), indent=1) + "\n")
