"""Measure what the book costs to execute, cold and warm, and compare samplers on its own models.

Usage: python tools/benchmark.py [--only NOTEBOOK ...] [--skip-pages] [--skip-samplers] [--skip-profile]
                                [--skip-reader-path]   (run by `make benchmark`: everything)
       python tools/benchmark.py --reader-path [--only NOTEBOOK ...]   (only part 4)
       python tools/benchmark.py --report-only   (rewrites results.md from results.json)

Not part of the test suite: timings are measurements, not pass/fail checks. Writes
benchmarks/results.json and benchmarks/results.md, which the status page shows and from which
each page's "Running it takes ..." line is taken.

1. Every chapter page and answer key is executed top to bottom twice: cold, with empty compile
   caches (PyTensor's and Numba's, as on a fresh Colab session or CI machine), then warm, with the
   caches that run left. Then the whole book once more, every notebook in turn from one initially
   empty cache: what a cold build of the whole book costs.
2. The models the pages fit, imported from hierarchical_helpers (so the benchmark times exactly what
   the pages run), are sampled with PyMC's own NUTS and with nutpie, each in a fresh process with
   empty caches (cold) and a second time in that process (warm), with the same draws. Per model and
   sampler: compile-and-initialise time, sampling time, gradient evaluations, and effective draws
   per second of sampling for the model's key parameter.
3. Where cold time goes (tools/compile_profile.py): every notebook once more, cold, its time split
   into imports, Numba compiling, PyTensor rewriting and linking, sampling and the rest, and the
   most expensive compiled functions of the book with the ops that dominate each.
4. The reader's path: the three slowest notebooks (by their last cold time in results.json) run as
   a student meets them on Colab, in a fresh simulated Colab runtime (tests/reader_environments.py:
   Colab's preinstalled packages, a fresh home folder, empty pip and compile caches), set-up cell
   and its install included. Per notebook: the set-up cell's wall time, the wall time from the
   start of the set-up cell to the end of the last cell, and the kernel's CPU time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))  # the simulated Colab runtime
import compile_profile  # noqa: E402
from book_layout import (ROOT, executed_notebook, kernels_run_this_python, notebook_sources,  # noqa: E402
                         repository)
from reader_environments import (colab_environment, colab_kernel, execute_in_kernels,  # noqa: E402
                                 imported_modules, public_repository, reader_home, setup_commands,
                                 student_environment)

OUT = ROOT / "benchmarks"
CACHES = ROOT / "_build" / "benchmark"
READER_PATH_NOTEBOOKS = 3  # how many of the slowest notebooks the reader's path is measured for
# Appended to a notebook for the reader's path only, after its last cell: the CPU time of the kernel
# process (all its threads: imports, compiling, sampling) and of the child processes it waited for
# (the set-up cell's pip).
CPU_PROBE = """import json, resource
print(json.dumps({name: round(usage.ru_utime + usage.ru_stime, 1) for name, usage in (
    ("kernel_cpu_s", resource.getrusage(resource.RUSAGE_SELF)),
    ("install_cpu_s", resource.getrusage(resource.RUSAGE_CHILDREN)))}))"""

# Each entry: key parameter, and the code that builds the model from the helpers.
MODELS = {
    "exam partial pooling": ("tau", "from hierarchical_helpers import exam_partial_pooling_model, simulate_exam\n"
                                    "model = exam_partial_pooling_model(simulate_exam(seed=20261122)[0])"),
    "eight schools, non-centred": ("tau", "from hierarchical_helpers import eight_schools_data\n"
                                          "from hierarchical_helpers.eight_schools import eight_schools_model\n"
                                          "model = eight_schools_model('non-centred', eight_schools_data())"),
    "survey, Dirichlet-Multinomial": ("alpha", "import numpy as np\n"
                                               "from hierarchical_helpers.survey import simulate_survey, survey_model\n"
                                               "model = survey_model(simulate_survey(2025)[0], "
                                               "pm.LogNormal.dist(mu=np.log(20), sigma=1.5))"),
    "survey, shares integrated out": ("alpha", "import numpy as np\n"
                                               "from hierarchical_helpers.survey import simulate_survey, survey_marginal_model\n"
                                               "model = survey_marginal_model(simulate_survey(2025)[0], "
                                               "pm.LogNormal.dist(mu=np.log(20), sigma=1.5))"),
}

SAMPLER_SCRIPT = r'''
import json, sys, time
from hierarchical_helpers import setup_page
setup_page()
import arviz as az
import pymc as pm
exec(sys.argv[3])
key, sampler = sys.argv[1], sys.argv[2]
runs = []
for phase in ("cold", "warm"):
    start = time.perf_counter()
    with model:
        idata = pm.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False, nuts_sampler=sampler)
    total = time.perf_counter() - start
    sampling = float(idata.posterior.attrs.get("sampling_time", float("nan")))
    stats = idata.sample_stats
    steps = "n_steps" if "n_steps" in stats else "tree_size"
    ess = float(az.ess(idata, var_names=[key])[key])
    runs.append({"phase": phase, "total_s": total, "sampling_s": sampling, "compile_and_init_s": total - sampling,
                 "ess": ess, "ess_per_s": ess / sampling, "gradient_evaluations": int(stats[steps].sum()),
                 "divergences": int(stats["diverging"].sum())})
print(json.dumps(runs))
'''


def cold_environment(cache: Path) -> dict:
    """Environment variables that point every compile cache at `cache`, emptied first: PyTensor's
    base directory holds both its C and its Numba caches, and Numba's own cache holds nutpie's."""
    shutil.rmtree(cache, ignore_errors=True)
    (cache / "numba").mkdir(parents=True)
    return {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache / 'pytensor'}", "NUMBA_CACHE_DIR": str(cache / "numba")}


def execute(source: Path, env: dict) -> dict:
    """Execute one notebook in a fresh kernel with `env`; wall time and the time of each sampling cell."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    previous = dict(os.environ)
    os.environ.update(env)  # the kernel inherits it
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=True,
                       resources={"metadata": {"path": str(executed_notebook(source).parent)}}).execute()
        wall = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(previous)
    sampling_cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "pm.sample(" in cell.source and "shell.execute_reply" in cell.metadata.get(
                "execution", {}):
            begin, end = cell_interval(cell)
            sampling_cells.append(round((end - begin).total_seconds(), 1))
    return {"wall_s": round(wall, 1), "sampling_cells_s": sampling_cells}


def cell_interval(cell) -> tuple[datetime, datetime]:
    """When an executed cell started and finished, from the timing nbclient records in its metadata."""
    timing = cell.metadata["execution"]
    return tuple(datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                 for key in ("iopub.execute_input", "shell.execute_reply"))


def benchmark_pages(only=None) -> dict:
    results = {}
    for source in notebook_sources():
        name = source.relative_to(ROOT).as_posix()
        if only and name not in only:
            continue
        env = cold_environment(CACHES / "page")
        for phase in ("cold", "warm"):
            try:
                results.setdefault(name, {})[phase] = execute(source, env)
            except Exception as error:  # a dead kernel must not lose the other measurements
                results.setdefault(name, {})[phase] = {"wall_s": None, "sampling_cells_s": [],
                                                        "error": f"{type(error).__name__}: {error}"[:200]}
            print(f"{phase:>4} {name}: {results[name][phase]['wall_s']} s", flush=True)
    return results


def whole_book_one_cold_run() -> float:
    """Every notebook in turn, starting from one empty set of compile caches, as a cold build does."""
    env = cold_environment(CACHES / "book")
    start = time.perf_counter()
    for source in notebook_sources():
        execute(source, env)
    total = round(time.perf_counter() - start, 1)
    print(f"whole book, one cold run: {total} s", flush=True)
    return total


def benchmark_samplers() -> dict:
    results = {}
    for model, (key, code) in MODELS.items():
        for sampler in ("pymc", "nutpie"):
            run = subprocess.run([sys.executable, "-c", SAMPLER_SCRIPT, key, sampler, code], capture_output=True,
                                 text=True, env=cold_environment(CACHES / f"sampler-{sampler}"))
            label = f"{model} / {sampler}"
            if run.returncode != 0:
                results[label] = {"error": (run.stderr.strip().splitlines() or ["no output"])[-1]}
            else:
                results[label] = json.loads(run.stdout.strip().splitlines()[-1])
            print(label, results[label], flush=True)
    return results


def slowest_notebooks(pages: dict, count: int = READER_PATH_NOTEBOOKS) -> list[str]:
    """The `count` notebooks with the longest cold run in `pages` (the benchmark's page results)."""
    cold = {name: phases["cold"]["wall_s"] for name, phases in pages.items()
            if phases.get("cold", {}).get("wall_s") is not None}
    return sorted(cold, key=cold.get, reverse=True)[:count]


def _setup_cell_index(nb) -> int:
    return next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "google.colab" in cell.source)


def reader_notebook(name: str):
    """What a reader runs on Colab for the notebook source `name`, and a description of it.

    A chapter page: its executed notebook. An exercise: its answer key with the student notebook's
    set-up cell (which also installs otter and downloads the public checks that the key's
    `grader.check` cells run), that is, the notebook of a student who answers every question. The
    student notebook itself would not do: its questions are unanswered, so its expensive fits never
    run.
    """
    source = ROOT / name
    nb = nbformat.read(executed_notebook(source), as_version=4)
    described = executed_notebook(source).relative_to(ROOT).as_posix()
    if source.parent.name == "exercises":
        student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        nb.cells[_setup_cell_index(nb)] = student.cells[_setup_cell_index(student)]
        described += " with the student notebook's set-up cell"
    return nb, described


def reader_path_timings(nb) -> dict:
    """From a notebook executed with CPU_PROBE as its last cell: the set-up cell's wall time, the
    wall time from the start of the set-up cell to the end of the notebook's own last cell, and
    the CPU time of the kernel and of the install."""
    *cells, probe = [cell for cell in nb.cells if cell.cell_type == "code"]
    setup_start, setup_end = cell_interval(nb.cells[_setup_cell_index(nb)])
    _, last_end = cell_interval(cells[-1])
    printed = "".join(output["text"] for output in probe.outputs if output.get("name") == "stdout")
    return {"setup_cell_s": round((setup_end - setup_start).total_seconds(), 1),
            "to_last_cell_s": round((last_end - setup_start).total_seconds(), 1), **json.loads(printed)}


def reader_path(name: str, public: Path, public_url: str) -> dict:
    """The notebook source `name` run as a student meets it on Colab: a fresh simulated runtime
    (Colab's preinstalled packages in a fresh environment, a fresh home folder, so empty pip,
    PyTensor and Numba caches) and its set-up cell's install included."""
    nb, described = reader_notebook(name)
    python = colab_environment("reader-path", setup_commands(nb), imported_modules(nb))
    runtime = CACHES / "reader-path"  # the runtime's home folder; the notebook runs in its content/
    shutil.rmtree(runtime, ignore_errors=True)
    (runtime / "content").mkdir(parents=True)
    kernels = colab_kernel(python, runtime, public, public_url)
    # Nothing of this machine's compile cache settings: Colab sets none.
    launch_env = {key: value for key, value in student_environment(reader_home(runtime)).items()
                  if not key.startswith(("PYTENSOR", "NUMBA", "XDG_CACHE"))}
    nb.cells.append(nbformat.v4.new_code_cell(CPU_PROBE))
    try:
        execute_in_kernels(nb, kernels, "colab-sim", runtime / "content", timeout=1800, launch_env=launch_env)
    except Exception as error:  # a failing notebook must not lose the other measurements
        return {"notebook": described, "error": f"{type(error).__name__}: {error}"[:200]}
    finally:  # kept for a look at what ran, until the next notebook's runtime replaces it
        nbformat.write(nb, runtime / "content" / "executed.ipynb")
    return {"notebook": described, **reader_path_timings(nb)}


def benchmark_reader_path(names: list[str]) -> dict:
    public_url, _ = repository()
    public = public_repository(CACHES / "public-repository")
    results = {}
    for name in names:
        results[name] = reader_path(name, public, public_url)
        print(f"reader's path {name}: {results[name]}", flush=True)
    return results


def markdown(report: dict) -> str:
    lines = [f"Measured on {report['machine']} ({report['date']}).", ""]
    if report.get("pages"):
        lines += ["| notebook | cold (s) | warm (s) | sampling cells, cold (s) |", "|---|---:|---:|---|"]
        order = [s.relative_to(ROOT).as_posix() for s in notebook_sources()]
        for name in sorted(report["pages"], key=lambda n: order.index(n) if n in order else len(order)):
            phases = report["pages"][name]
            cells = ", ".join(str(s) for s in phases["cold"]["sampling_cells_s"]) or "none"
            cold, warm = (phases[p]["wall_s"] if phases[p]["wall_s"] is not None else "failed" for p in ("cold", "warm"))
            lines.append(f"| `{name}` | {cold} | {warm} | {cells} |")
        one_run = report.get("whole_book_one_cold_run_s")
        lines += ["", "Whole book (pages and answer keys), executed in turn from one empty set of compile caches: "
                      f"{one_run if one_run is not None else 'not measured'} s.", ""]
    if report.get("samplers"):
        lines += ["| model / sampler | phase | compile + init (s) | sampling (s) | gradient evaluations | "
                  "ESS/s (key parameter) | divergences |", "|---|---|---:|---:|---:|---:|---:|"]
        for label, runs in report["samplers"].items():
            if isinstance(runs, dict):
                lines.append(f"| {label} | failed: {runs['error']} | | | | | |")
                continue
            for run in runs:
                lines.append(f"| {label} | {run['phase']} | {run['compile_and_init_s']:.1f} | {run['sampling_s']:.2f} | "
                             f"{run['gradient_evaluations']} | {run['ess_per_s']:.0f} | {run['divergences']} |")
    if report.get("compile_profile"):
        lines += ["", compile_profile.markdown(report["compile_profile"])]
    if report.get("reader_path"):
        lines += ["", "### The reader's path on simulated Colab", "",
                  "The slowest notebooks run as a student meets them on Colab, from a fresh runtime (Colab's "
                  "packages, empty pip and compile caches), the set-up cell's install included. Kernel CPU "
                  "counts all the kernel's threads; the install's CPU is pip's.", "",
                  "| notebook | set-up cell (s) | set-up cell to last cell (s) | kernel CPU (s) | install CPU (s) |",
                  "|---|---:|---:|---:|---:|"]
        for name, run in report["reader_path"].items():
            if "error" in run:
                lines.append(f"| `{run['notebook']}` | failed: {run['error']} | | | |")
                continue
            lines.append(f"| `{run['notebook']}` | {run['setup_cell_s']} | {run['to_last_cell_s']} | "
                         f"{run['kernel_cpu_s']} | {run['install_cpu_s']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-samplers", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-reader-path", action="store_true")
    parser.add_argument("--reader-path", action="store_true",
                        help="measure only the reader's path on simulated Colab (of the three slowest notebooks, "
                             "or of the --only notebooks)")
    parser.add_argument("--report-only", action="store_true", help="rewrite results.md from results.json")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                        help="measure only these notebooks (e.g. chapters/eight-schools.md), keeping the other results")
    args = parser.parse_args(argv)
    previous = OUT / "results.json"
    # Keep only what this script writes: a key an older version wrote would outlive its meaning.
    kept = ("machine", "date", "pages", "whole_book_one_cold_run_s", "samplers", "compile_profile", "reader_path")
    report = json.loads(previous.read_text()) if previous.exists() else {}
    report = {key: value for key, value in report.items() if key in kept}
    if args.report_only:
        (OUT / "results.md").write_text(markdown(report))
        print(f"wrote {OUT / 'results.md'}")
        return 0
    if args.reader_path:
        args.skip_pages = args.skip_samplers = args.skip_profile = True
    kernels_run_this_python()
    report.update(machine=f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
                  date=time.strftime("%Y-%m-%d"))
    if not args.skip_pages:
        measured = benchmark_pages(args.only)
        report["pages"] = {**report.get("pages", {}), **measured} if args.only else measured
        if not args.only:
            report["whole_book_one_cold_run_s"] = whole_book_one_cold_run()
    if not args.skip_samplers:
        report["samplers"] = benchmark_samplers()
    if not args.skip_profile:
        measured = compile_profile.profile_pages(set(args.only) if args.only else None)
        report["compile_profile"] = {**report.get("compile_profile", {}), **measured} if args.only else measured
    if not args.skip_reader_path:
        measured = benchmark_reader_path(args.only or slowest_notebooks(report.get("pages", {})))
        report["reader_path"] = {**report.get("reader_path", {}), **measured} if args.only else measured
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "results.md").write_text(markdown(report))
    print(f"wrote {OUT / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
