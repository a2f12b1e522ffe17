"""Measure what the book costs to execute, cold and warm, and compare samplers.

Usage: python tools/benchmark.py [--skip-pages] [--skip-samplers]   (run by `make benchmark`)

Not part of the test suite: timings are measurements, not pass/fail checks. Writes
benchmarks/results.json and benchmarks/results.md (shown on the status page):

1. Every chapter page and exercise answer key is executed top to bottom twice, first with an
   empty PyTensor compile cache (cold, as on a fresh Colab machine) and then again with the
   cache that run left (warm). Per notebook: wall time, and the time of every cell that
   samples a model (compilation and sampling together).
   Then the whole book once more, every notebook in turn from one initially empty cache: what
   a cold build of the whole book costs (later notebooks may reuse what earlier ones compiled
   with PyTensor's C backend; nutpie's Numba and NumPyro's JAX compilations are not shared).
2. The chapter's main models are sampled with PyMC's default NUTS, nutpie and NumPyro, each in
   a fresh process with an empty compile cache (cold: compilation included) and a second time
   in the same process (warm), with the same number of draws. Per model and sampler:
   compile-and-initialise time, sampling time, and effective draws per second of sampling for
   the model's key parameter.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, notebook_sources  # noqa: E402

OUT = ROOT / "benchmarks"
CACHE = ROOT / "_build" / "benchmark" / "pytensor-cache"

SAMPLER_SCRIPT = r'''
import json, logging, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pymc as pm, arviz as az
logging.getLogger("pymc").setLevel(logging.CRITICAL)
from hierarchical_helpers import eight_schools_data, simulate_exam

def eight_schools():
    d = eight_schools_data()
    with pm.Model() as m:
        tau = pm.HalfNormal("tau", 10); mu = pm.Normal("mu", 0, 20)
        z = pm.Normal("z", 0, 1, shape=8)
        pm.Normal("y", mu + tau * z, d["sigma"].to_numpy(), observed=d["y"].to_numpy())
    return m, "tau"

def exam():
    exam, _ = simulate_exam(20261122)
    idx = exam["instructor"].cat.codes.to_numpy()
    with pm.Model() as m:
        mu = pm.Normal("mu", 50, 25); tau = pm.HalfNormal("tau", 10)
        z = pm.Normal("z", 0, 1, shape=5); sigma = pm.HalfNormal("sigma", 15)
        pm.Normal("score", (mu + tau * z)[idx], sigma, observed=exam["score"].to_numpy())
    return m, "tau"

def survey():
    rng = np.random.default_rng(2025)
    n = np.array([45, 120, 60, 80, 35, 95]); p = np.array([0.25, 0.35, 0.25, 0.15])
    counts = np.array([rng.multinomial(k, rng.dirichlet(8 * p)) for k in n])
    with pm.Model() as m:
        alpha = pm.Exponential("alpha", 1.0); pi0 = pm.Dirichlet("pi0", np.ones(4))
        pi = pm.Dirichlet("pi", alpha * pi0, shape=(6, 4))
        pm.Multinomial("counts", n=n, p=pi, observed=counts)
    return m, "alpha"

model, key = {"eight-schools": eight_schools, "exam": exam, "survey": survey}[sys.argv[1]]()
sampler = sys.argv[2]
# One JAX device here, so NumPyro's chains run one after the other.
options = {"chain_method": "sequential"} if sampler == "numpyro" else {}
runs = []
for phase in ("cold", "warm"):
    start = time.perf_counter()
    with model:
        idata = pm.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False,
                          nuts_sampler=sampler, nuts_sampler_kwargs=options, target_accept=0.9)
    total = time.perf_counter() - start
    sampling = float(idata.posterior.attrs.get("sampling_time", float("nan")))
    ess = float(az.ess(idata, var_names=[key])[key])
    runs.append({"phase": phase, "total_s": total, "sampling_s": sampling,
                 "compile_and_init_s": total - sampling, "ess": ess, "ess_per_s": ess / sampling,
                 "divergences": int(idata.sample_stats["diverging"].sum())})
print(json.dumps(runs))
'''


def execute(source: Path) -> dict:
    import jupytext
    from nbclient import NotebookClient

    from book_layout import executed_notebook

    nb = jupytext.read(source)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(executed_notebook(source).parent)}}).execute()
    wall = time.perf_counter() - start
    model_cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "pm.sample(" in cell.source:
            timing = cell.metadata.get("execution", {})
            begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if begin and end:
                from datetime import datetime
                seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                           - datetime.fromisoformat(begin.replace("Z", "+00:00"))).total_seconds()
                model_cells.append(round(seconds, 1))
    return {"wall_s": round(wall, 1), "sampling_cells_s": model_cells}


def benchmark_pages(only=None) -> dict:
    if CACHE.exists():
        shutil.rmtree(CACHE)
    CACHE.mkdir(parents=True)
    os.environ["PYTENSOR_FLAGS"] = f"compiledir={CACHE}"  # inherited by every kernel started below
    results = {}
    for source in notebook_sources():
        name = source.relative_to(ROOT).as_posix()
        if only and name not in only:
            continue
        # Cold: from an empty cache, as on a fresh machine; warm: again, with the cache it left.
        shutil.rmtree(CACHE)
        CACHE.mkdir()
        for phase in ("cold", "warm"):
            try:
                results.setdefault(name, {})[phase] = execute(source)
            except Exception as error:  # a dead kernel must not lose the other measurements
                results.setdefault(name, {})[phase] = {"wall_s": None, "sampling_cells_s": [],
                                                        "error": f"{type(error).__name__}: {error}"[:200]}
            print(f"{phase:>4} {name}: {results[name][phase]['wall_s']} s", flush=True)
    # Each cold page above starts from an empty cache; their sum is the book's cost with nothing
    # shared between notebooks. The one-run measurement below is what a cold build really costs.
    whole_cold = sum(r["cold"]["wall_s"] or 0 for r in results.values())
    report = {"pages": results, "whole_book_cold_s": round(whole_cold, 1)}
    if not only:
        report["whole_book_one_cold_run_s"] = whole_book_one_cold_run()
    return report


def whole_book_one_cold_run() -> float:
    """Every notebook in turn, starting from one empty compile cache, as a cold build does."""
    shutil.rmtree(CACHE)
    CACHE.mkdir()
    start = time.perf_counter()
    for source in notebook_sources():
        execute(source)
    total = round(time.perf_counter() - start, 1)
    print(f"whole book, one cold run: {total} s", flush=True)
    return total


def benchmark_samplers() -> dict:
    results = {}
    for model in ("eight-schools", "exam", "survey"):
        for sampler in ("pymc", "nutpie", "numpyro"):
            env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={CACHE}-{sampler}-{model}")
            shutil.rmtree(f"{CACHE}-{sampler}-{model}", ignore_errors=True)
            run = subprocess.run([sys.executable, "-c", SAMPLER_SCRIPT, model, sampler],
                                 capture_output=True, text=True, env=env)
            if run.returncode != 0:
                results[f"{model}/{sampler}"] = {"error": run.stderr.strip().splitlines()[-1]}
            else:
                results[f"{model}/{sampler}"] = json.loads(run.stdout.strip().splitlines()[-1])
            print(model, sampler, results[f"{model}/{sampler}"], flush=True)
    return results


def markdown(report: dict) -> str:
    lines = [f"Measured on {report['machine']} ({report['date']}).", ""]
    if "pages" in report:
        lines += ["| notebook | cold (s) | warm (s) | sampling cells, cold (s) |", "|---|---|---|---|"]
        for name, phases in report["pages"].items():
            cells = ", ".join(str(s) for s in phases["cold"]["sampling_cells_s"]) or "none"
            cold, warm = (phases[p]["wall_s"] if phases[p]["wall_s"] is not None else "failed" for p in ("cold", "warm"))
            lines.append(f"| `{name}` | {cold} | {warm} | {cells} |")
        warm_total = sum(p["warm"]["wall_s"] or 0 for p in report["pages"].values())
        one_run = report.get("whole_book_one_cold_run_s")
        lines += ["", f"Whole book (pages and answer keys), executed in turn from one empty compile cache: "
                      f"{one_run if one_run is not None else 'not measured'} s. "
                      f"Sum of the cold runs above, each from its own empty cache: {report['whole_book_cold_s']} s; "
                      f"sum of the warm runs: {warm_total:.1f} s.", ""]
    if "samplers" in report:
        lines += ["| model / sampler | phase | compile + init (s) | sampling (s) | ESS/s (key parameter) | divergences |",
                  "|---|---|---|---|---|---|"]
        for key, runs in report["samplers"].items():
            if isinstance(runs, dict):
                lines.append(f"| {key} | failed: {runs['error']} | | | | |")
                continue
            for run in runs:
                lines.append(f"| {key} | {run['phase']} | {run['compile_and_init_s']:.1f} | {run['sampling_s']:.1f} | "
                             f"{run['ess_per_s']:.0f} | {run['divergences']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the book's execution cost.")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-samplers", action="store_true")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                        help="measure only these notebooks (e.g. chapters/eight-schools.md) and update the "
                             "existing results with them")
    args = parser.parse_args(argv)
    report = {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d")}
    previous = OUT / "results.json"
    if args.only and previous.exists():
        report = {**json.loads(previous.read_text()), **report}
    if not args.skip_pages:
        measured = benchmark_pages(args.only)
        if args.only and "pages" in report:
            report["pages"].update(measured["pages"])
            report["whole_book_cold_s"] = round(sum(r["cold"]["wall_s"] or 0 for r in report["pages"].values()), 1)
        else:
            report.update(measured)
    if not args.skip_samplers:
        report["samplers"] = benchmark_samplers()
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / "results.md").write_text(markdown(report))
    print(f"wrote {OUT / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
