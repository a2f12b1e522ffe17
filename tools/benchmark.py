"""Measure what the book costs to execute, cold and warm, and compare samplers on its own models.

Usage: python tools/benchmark.py [--only NOTEBOOK ...] [--skip-pages] [--skip-samplers] [--skip-profile]
       (run by `make benchmark`)

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compile_profile  # noqa: E402
from book_layout import ROOT, executed_notebook, kernels_run_this_python, notebook_sources  # noqa: E402

OUT = ROOT / "benchmarks"
CACHES = ROOT / "_build" / "benchmark"

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
        timing = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "pm.sample(" in cell.source and "shell.execute_reply" in timing:
            begin = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            sampling_cells.append(round((end - begin).total_seconds(), 1))
    return {"wall_s": round(wall, 1), "sampling_cells_s": sampling_cells}


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
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-samplers", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                        help="measure only these notebooks (e.g. chapters/eight-schools.md), keeping the other results")
    args = parser.parse_args(argv)
    kernels_run_this_python()
    previous = OUT / "results.json"
    # Keep only what this script writes: a key an older version wrote would outlive its meaning.
    kept = ("pages", "whole_book_one_cold_run_s", "samplers", "compile_profile")
    report = json.loads(previous.read_text()) if previous.exists() else {}
    report = {key: value for key, value in report.items() if key in kept}
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
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "results.md").write_text(markdown(report))
    print(f"wrote {OUT / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
