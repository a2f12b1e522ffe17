"""Where a page's cold run time goes: imports, PyTensor, Numba compilation per function, sampling.

Usage: python tools/compile_profile.py [NOTEBOOK ...]   (also run by `make benchmark`)

Each notebook (default: every chapter page and answer key) is executed top to bottom in a fresh
kernel, cold as a reader's new Colab or Binder session is (empty PyTensor and Numba caches, a
fresh HOME), with a first cell that only listens:

* Numba's own compile events (`numba.core.event`, "numba:compile"): every function Numba compiles,
  nested as Numba compiles them. A top-level event is one compiled function of the page (PyTensor
  hands Numba one function per graph, `numba_funcified_fgraph`, plus helpers it calls first); the
  events inside it are the ops and library routines it is made of, so their self times (an
  event's time minus its children's) say which ops the compile spends its time on;
* PyTensor's graph rewriting and linking (`FunctionMaker.__init__` and `.create`), Numba time
  inside them subtracted;
* nutpie's sampling (`nutpie.sample`), Numba time inside it subtracted;
* each cell's wall and CPU time (IPython's pre/post-run events).

Every compiled function is named by who asked for it: the nearest caller in PyMC or nutpie
(`nutpie.compile_pymc._make_functions`: the log density and its gradient; `pymc.sampling.forward`:
prior or posterior predictive draws; ...) or, failing that, the page itself. Times are CPU
seconds of the kernel process (Numba compiles on one thread, so on a shared machine CPU time,
unlike wall time, still measures the cost) with the wall time beside them.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, executed_notebook, kernels_run_this_python, notebook_sources  # noqa: E402

# The listening cell, run first in the page's kernel. It must not change what the page computes:
# it only wraps functions to time them and registers a Numba event listener.
HOOKS = r'''
import inspect as _inspect, json as _json, os as _os, time as _time
from numba.core import event as _event
import pytensor.compile.maker as _maker

_profile = {"numba": [], "pytensor": [], "sampling": [], "cells": []}
_numba_stack = []
_OWN = ("pytensor", "numba", "llvmlite", "_profile_hooks")

def _caller():
    """The nearest caller outside PyTensor and Numba: PyMC's or nutpie's function, or the page."""
    for frame in _inspect.stack(context=0)[2:]:
        module = frame.frame.f_globals.get("__name__", "")
        if module.startswith(("pymc", "nutpie")):
            return f"{module}.{frame.function}"
        if not module.startswith(_OWN) and module not in ("contextlib", "functools", "threading"):
            if module == "__main__":
                return "the page's code"
    return "the page's code"

class _NumbaListener(_event.Listener):
    def on_start(self, ev):
        _numba_stack.append([_time.perf_counter(), _time.process_time(), 0.0, 0.0])
    def on_end(self, ev):
        start_wall, start_cpu, child_wall, child_cpu = _numba_stack.pop()
        wall, cpu = _time.perf_counter() - start_wall, _time.process_time() - start_cpu
        dispatcher = (ev.data or {}).get("dispatcher")
        function = getattr(dispatcher, "py_func", None)
        name = getattr(function, "__qualname__", None) or type(dispatcher).__name__
        module = getattr(function, "__module__", "") or ""
        depth = len(_numba_stack)
        if _numba_stack:
            _numba_stack[-1][2] += wall
            _numba_stack[-1][3] += cpu
        _profile["numba"].append({"depth": depth, "name": name, "module": module, "wall": wall, "cpu": cpu,
                                  "self_cpu": cpu - child_cpu, "caller": _caller() if depth == 0 else None,
                                  "cell": len(_profile["cells"])})

_event.register("numba:compile", _NumbaListener())

def _numba_cpu_total():
    return sum(e["cpu"] for e in _profile["numba"] if e["depth"] == 0)

_active = set()

def _timed(kind, original, label=None):
    def wrapper(*args, **kwargs):
        if _numba_stack or kind in _active:  # inside a compile or a call already timed: counted there
            return original(*args, **kwargs)
        _active.add(kind)
        numba_before = _numba_cpu_total()
        start_wall, start_cpu = _time.perf_counter(), _time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _active.discard(kind)
            numba = _numba_cpu_total() - numba_before
            _profile[kind].append({"what": label or original.__qualname__, "caller": _caller(),
                                   "wall": _time.perf_counter() - start_wall,
                                   "cpu": _time.process_time() - start_cpu - numba,
                                   "cell": len(_profile["cells"])})
    wrapper.__wrapped__ = original
    return wrapper

_maker.FunctionMaker.__init__ = _timed("pytensor", _maker.FunctionMaker.__init__, "graph rewriting")
_maker.FunctionMaker.create = _timed("pytensor", _maker.FunctionMaker.create, "linking")
import nutpie as _nutpie
_nutpie.sample = _timed("sampling", _nutpie.sample, "nutpie.sample")

def _pre(info):
    _profile["_cell_start"] = (_time.perf_counter(), _time.process_time())
def _post(result):
    if "_cell_start" not in _profile:  # the listening cell itself: not one of the page's
        return
    start_wall, start_cpu = _profile.pop("_cell_start")
    _profile["cells"].append({"wall": _time.perf_counter() - start_wall, "cpu": _time.process_time() - start_cpu})

_ip = get_ipython()
_ip.events.register("pre_run_cell", _pre)
_ip.events.register("post_run_cell", _post)
'''

DUMP = r'''
_ip.events.unregister("post_run_cell", _post)
_ip.events.unregister("pre_run_cell", _pre)
_profile.pop("_cell_start", None)
with open(_os.environ["COMPILE_PROFILE_OUT"], "w") as _file:
    _json.dump(_profile, _file)
'''

CACHES = ROOT / "_build" / "compile-profile"


def run(source: Path, folder: Path | None = None) -> dict:
    """Execute one notebook cold with the listening cell; the raw profile and the page's cells.

    The kernel starts in the executed notebook's folder, as the page's own runs do (`folder`
    overrides it)."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    page_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    nb.cells = [nbformat.v4.new_code_cell(HOOKS), *nb.cells, nbformat.v4.new_code_cell(DUMP)]
    shutil.rmtree(CACHES, ignore_errors=True)
    (CACHES / "numba").mkdir(parents=True)
    (CACHES / "home").mkdir()
    out = CACHES / "profile.json"
    env = {"PYTENSOR_FLAGS": f"base_compiledir={CACHES / 'pytensor'}", "NUMBA_CACHE_DIR": str(CACHES / "numba"),
           "HOME": str(CACHES / "home"), "MPLCONFIGDIR": str(CACHES / "home" / ".matplotlib"),
           "COMPILE_PROFILE_OUT": str(out)}
    previous = dict(os.environ)
    os.environ.update(env)  # the kernel inherits it
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(folder or executed_notebook(source).parent)}}).execute()
        wall = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(previous)
    profile = json.loads(out.read_text())
    profile["wall_s"] = wall
    profile["page_cells"] = [cell.source for cell in page_cells]
    return profile


def summarise(name: str, profile: dict) -> dict:
    """Split the page's time into imports, compilation, sampling and the rest; name its compiled functions."""
    cells = profile["cells"]  # the page's cells, in order (the listening and dumping cells are not counted)
    sources = profile["page_cells"]
    set_up = next((i for i, s in enumerate(sources) if "setup_page(" in s), 0)
    total_cpu = sum(c["cpu"] for c in cells)
    total_wall = sum(c["wall"] for c in cells)
    import_cpu = sum(c["cpu"] for c in cells[:set_up + 1])
    # An event's "cell" is the page cell that was running (cells finished before it).
    top = [e for e in profile["numba"] if e["depth"] == 0 and e["cell"] > set_up]
    numba_cpu = sum(e["cpu"] for e in top)
    pytensor_cpu = sum(e["cpu"] for e in profile["pytensor"] if e["cell"] > set_up)
    sampling_cpu = sum(e["cpu"] for e in profile["sampling"])
    functions = []
    events = profile["numba"]
    # Children of a top-level event are the events recorded before it since the previous top-level one.
    start = 0
    for index, event in enumerate(events):
        if event["depth"] != 0:
            continue
        children = events[start:index]
        start = index + 1
        ops: dict[str, float] = {}
        for child in children:
            ops[child["name"]] = ops.get(child["name"], 0.0) + child["self_cpu"]
        ops[event["name"]] = ops.get(event["name"], 0.0) + event["self_cpu"]
        dominant = sorted(ops.items(), key=lambda item: -item[1])[:3]
        functions.append({"notebook": name, "cell": event["cell"], "caller": event["caller"],
                          "function": event["name"], "cpu_s": round(event["cpu"], 2), "wall_s": round(event["wall"], 2),
                          "dominant": [(op, round(seconds, 2)) for op, seconds in dominant]})
    return {
        "wall_s": round(profile["wall_s"], 1), "cells_wall_s": round(total_wall, 1), "cpu_s": round(total_cpu, 1),
        "imports_cpu_s": round(import_cpu, 1), "numba_compile_cpu_s": round(numba_cpu, 1),
        "pytensor_cpu_s": round(pytensor_cpu, 1), "sampling_cpu_s": round(sampling_cpu, 1),
        "rest_cpu_s": round(total_cpu - import_cpu - numba_cpu - pytensor_cpu - sampling_cpu, 1),
        "compiled_functions": sorted(functions, key=lambda f: -f["cpu_s"]),
    }


def profile_pages(only=None) -> dict:
    kernels_run_this_python()
    results = {}
    for source in notebook_sources():
        name = source.relative_to(ROOT).as_posix()
        if only and name not in only:
            continue
        try:
            results[name] = summarise(name, run(source))
        except Exception as error:  # one failing page must not lose the others' measurements
            results[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
        entry = results[name]
        print(f"profile {name}: " + (entry.get("error") or
              f"{entry['cpu_s']} CPU s (imports {entry['imports_cpu_s']}, Numba {entry['numba_compile_cpu_s']}, "
              f"PyTensor {entry['pytensor_cpu_s']}, sampling {entry['sampling_cpu_s']}, rest {entry['rest_cpu_s']})"),
              flush=True)
    return results


def markdown(profile: dict, top: int = 5) -> str:
    lines = ["### Where cold time goes", "",
             "Each notebook executed cold (empty PyTensor and Numba caches, fresh HOME) with Numba's compile "
             "events recorded (`tools/compile_profile.py`). CPU seconds of the kernel; wall seconds of the whole "
             "run beside them.", "",
             "| notebook | wall (s) | CPU (s) | imports | Numba compiling | PyTensor rewriting and linking | "
             "sampling | the rest |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    functions = []
    for name, entry in profile.items():
        if "error" in entry:
            lines.append(f"| `{name}` | failed: {entry['error']} | | | | | | |")
            continue
        lines.append(f"| `{name}` | {entry['wall_s']} | {entry['cpu_s']} | {entry['imports_cpu_s']} | "
                     f"{entry['numba_compile_cpu_s']} | {entry['pytensor_cpu_s']} | {entry['sampling_cpu_s']} | "
                     f"{entry['rest_cpu_s']} |")
        functions += entry["compiled_functions"]
    functions.sort(key=lambda f: -f["cpu_s"])
    lines += ["", f"The {top} most expensive compiled functions of the book (a function compiled again by "
                  "another page counts again):", "",
              "| page, code cell | asked for by | Numba function | CPU (s) | ops taking the most time (self CPU s) |",
              "|---|---|---|---:|---|"]
    for function in functions[:top]:
        ops = ", ".join(f"`{op}` {seconds}" for op, seconds in function["dominant"])
        # The page's name without its path: the status page keeps tables of page paths in book order.
        page = Path(function["notebook"]).stem
        lines.append(f"| {page}, {function['cell']} | `{function['caller']}` | "
                     f"`{function['function']}` | {function['cpu_s']} | {ops} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    profile = profile_pages(set(names) or None)
    print(markdown(profile))
    return 0 if all("error" not in entry for entry in profile.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
