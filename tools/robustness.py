"""How often the book's checks and claims hold at other seeds: the seed-robustness harness.

Usage: python tools/robustness.py [--seeds N] [--only NOTEBOOK ...] [--no-memo] [--report-only]
       (run by `make robustness`; not part of the tests)

For every chapter page and exercise (or the MyST sources named with --only) and every seed
1..N (default 50), the notebook is executed top to bottom at that seed, and

* every `assert` in a `remove-cell` cell (the claim-asserts that guard what the prose says, in
  chapters/*.md and in the answer keys' exercises/*.md) is recorded as held, failed, raised an
  error, or not reached (its cell raised earlier); a failing assert neither raises nor stops
  its cell, so the asserts after it are measured too. A cell that raises (a visible
  `assert_converged`, an error) is recorded and the run continues with the next cell;
* for an exercise, the answer key's answers at that seed are exported with the grader's own
  exporter (grader/answers.py) and every check, public and hidden, is run on them by the
  grader's own checks runner (grader/checks.py, otter's test files), built from the source's
  raw cells as `make exercises` builds them. The keys are trusted: no sandbox.

How the seed is varied. Every page has one visible seed, `SEED = BOOK_SEED` (or, with its reason
in a comment, a number of its own) in its set-up cell, and every
random draw on a page (`pm.sample(random_seed=...)`, `pm.draw`, `np.random.default_rng`,
`SEED + 1`, a simulation study's data sets, ...) is derived from it. A page's own simulated data
set is not: it comes from a literal data seed (`DATA_SEED`), because the prose describes that one
data set, and a claim about it is a claim about those data; what must hold at any seed is every
claim about a fit or a Monte Carlo computation. The harness sets `hierarchical_helpers.BOOK_SEED`
in its kernel to its own seed, and once the cell that first defines `SEED` has run, sets `SEED` to
that seed too (a page with a seed of its own), so everything random moves with that one value and
no page is edited. A notebook that never defines `SEED` is reported as an error, not silently
measured at its own seed.

Cost. Each notebook runs in one worker process, an in-process IPython shell, that executes all of
its seeds in turn (two notebooks at a time, `--jobs`), so imports happen once and PyTensor's and
Numba's compile caches stay warm.
Figures are drawn with matplotlib's Agg backend and never rendered to PNG. On top of that, the
worker memoises nutpie's compiled model per model graph (`nutpie.compile_pymc_model`, which
`pm.sample(nuts_sampler="nutpie")` calls): the key is a hash of the model's log-density and
deterministic graphs, every constant and shared value in them (so a model of other data is
compiled anew), its coordinates and the compile arguments; a hit skips PyTensor's rewriting and
Numba's compilation, which dominate a warm fit of these small models. `--no-memo` turns it off
(to measure what it saves, or if in doubt: the draws are the same either way, see
tests/test_robustness.py).

Results. Each notebook-seed's result is saved as it finishes, in
_build/robustness/<folder>/<name>/seed-<k>.json, with a fingerprint of the notebook's source and
of the helper package; a rerun reuses every saved result whose fingerprint still matches and
runs only the rest (resumable: interrupt it whenever). At the end the report is written:
benchmarks/robustness.md and benchmarks/robustness.json, per check and per assert the failures
out of the runs, the failure rate and its exact (Clopper-Pearson) 95% interval, plus the cells
that raised and the measured time per notebook-seed. The report covers the notebooks that have
saved results for the requested seeds and states N and each notebook's number of runs.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import gc
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, executed_notebook, notebook_sources  # noqa: E402

STATE = ROOT / "_build" / "robustness"
OUT = ROOT / "benchmarks"
DEFAULT_SEEDS = 50
SKIPPED_TAGS = {"colab-setup", "check"}  # Colab's installs; otter's `grader.check` (the harness runs the checks itself)
FORMAT = 1
MEMO_SIZE = 32  # compiled models kept per worker (a model of seed-dependent data is never reused)


# Which notebooks and cells ------------------------------------------------------------------

def default_sources() -> list[Path]:
    """Every chapter page and exercise source (the answer keys are executed from the exercises)."""
    return [p for p in notebook_sources() if p.parent.name in ("chapters", "exercises")]


def is_exercise(source: Path) -> bool:
    return source.parent.name == "exercises"


def label(source: Path) -> str:
    try:
        return source.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return f"{source.parent.name}/{source.name}"



def fingerprint(source: Path) -> str:
    """What a saved result depends on: the notebook's source, the helper package, this harness."""
    digest = hashlib.sha256(source.read_bytes())
    for path in sorted((ROOT / "hierarchical_helpers").glob("*.py")):
        digest.update(path.read_bytes())
    digest.update(str(FORMAT).encode())
    return digest.hexdigest()[:16]


def code_cells(nb) -> list[tuple[int, object]]:
    """(code-cell number counted from 0, cell) for every code cell the harness executes."""
    cells = []
    number = -1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        if SKIPPED_TAGS & set(cell.metadata.get("tags", [])):
            continue
        cells.append((number, cell))
    return cells


def is_claim_cell(cell) -> bool:
    return "remove-cell" in cell.metadata.get("tags", [])


def assert_id(cell_number: int, line: int) -> str:
    return f"cell {cell_number}, line {line}"


def claim_asserts(nb) -> dict[str, str]:
    """Every assert of the notebook's remove-cell cells: id -> its source (first line)."""
    found = {}
    for number, cell in code_cells(nb):
        if not is_claim_cell(cell):
            continue
        try:
            tree = ast.parse(_python_source(cell.source))
        except SyntaxError:
            continue
        lines = cell.source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                found[assert_id(number, node.lineno)] = lines[node.lineno - 1].strip()[:160]
    return found


def _python_source(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def write_checks(nb, folder: Path) -> tuple[Path, Path]:
    """The exercise's check files, all and public, built from its source as `make exercises` does."""
    import student_materials

    full, public = folder / "all", folder / "public"
    full.mkdir(parents=True, exist_ok=True)
    public.mkdir(parents=True, exist_ok=True)
    for question, cases in sorted(student_materials.tests_by_question(nb).items()):
        (full / f"{question}.py").write_text(student_materials.test_file(question, cases))
        shown = [c for c in cases if not c.metadata.get("hidden", False)]
        if shown:
            (public / f"{question}.py").write_text(student_materials.test_file(question, shown))
    return full, public


# The worker: one process per notebook, all its seeds --------------------------------------------

class _AssertRecorder(ast.NodeTransformer):
    """Turns `assert test, msg` into code that records whether `test` held and goes on."""

    def __init__(self, cell_number: int):
        self.cell_number = cell_number

    def visit_Assert(self, node: ast.Assert):
        key = assert_id(self.cell_number, node.lineno)
        record = ast.parse(
            "try:\n"
            "    _robustness_held = bool(TEST)\n"
            "except Exception as _robustness_error:\n"
            f"    _robustness_record({key!r}, 'error', type(_robustness_error).__name__)\n"
            "else:\n"
            f"    _robustness_record({key!r}, 'held' if _robustness_held else 'failed', None)\n").body[0]
        record.body[0].value.args[0] = node.test  # replace TEST
        for new in ast.walk(record):
            ast.copy_location(new, node)
        return record


class _Transformer(ast.NodeTransformer):
    """IPython AST transformer: active only while a claim cell runs."""

    def __init__(self):
        self.cell_number = None

    def visit_Module(self, node):
        if self.cell_number is None:
            return node
        return ast.fix_missing_locations(_AssertRecorder(self.cell_number).visit(node))


def _model_key(model, kwargs) -> str | None:
    """A hash of everything nutpie's compiled model depends on, or None if unsure."""
    import numpy as np
    import pytensor
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.type import TensorType

    try:
        outputs = [model.logp(), *model.deterministics, *model.value_vars]
        digest = hashlib.sha256()
        digest.update(pytensor.printing.debugprint(outputs, file="str", print_type=True, print_shape=True, id_type="CHAR").encode())
        for variable in ancestors(outputs):
            if isinstance(variable, Constant):
                data = np.asarray(variable.data)
            elif isinstance(variable, SharedVariable) and isinstance(variable.type, TensorType):
                data = np.asarray(variable.get_value(borrow=True))  # data containers (random generators left out)
            else:
                continue
            digest.update(f"{variable.type}|{data.dtype}|{data.shape}".encode())
            digest.update(np.ascontiguousarray(data).tobytes())
        digest.update(repr([(str(k), [str(v) for v in (values or [])]) for k, values in model.coords.items()]).encode())
        digest.update(repr(sorted((str(rv), str(model.rvs_to_transforms.get(rv))) for rv in model.free_RVs)).encode())
        digest.update(repr(sorted((k, repr(v)) for k, v in kwargs.items())).encode())
        return digest.hexdigest()
    except Exception:  # noqa: BLE001 - an unusual model is compiled as usual
        return None


def _install_memo(stats: Counter) -> None:
    import nutpie

    from collections import OrderedDict

    original = nutpie.compile_pymc_model
    cache = OrderedDict()  # the most recently used MEMO_SIZE compiled models

    def compile_pymc_model(model, **kwargs):
        key = _model_key(model, kwargs)
        if key is not None and key in cache:
            stats["memo hits"] += 1
            cache.move_to_end(key)
            return cache[key]
        stats["compiles"] += 1
        compiled = original(model, **kwargs)
        if key is not None:
            cache[key] = compiled
            while len(cache) > MEMO_SIZE:
                cache.popitem(last=False)
        return compiled

    nutpie.compile_pymc_model = compile_pymc_model


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text.splitlines()[0][:240] if text else type(error).__name__


def run_worker(source: Path, seeds: list[int], out: Path, memo: bool) -> int:
    """Execute `source` at each seed in this process and save one result file per seed."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    import hierarchical_helpers

    from grader import answers, checks, limits

    nb = jupytext.read(source)
    cells = code_cells(nb)
    asserts = claim_asserts(nb)
    exercise = is_exercise(source)
    workdir = executed_notebook(source).parent
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    stats = Counter()
    memo_installed = False

    shell = InteractiveShell.instance()
    transformer = _Transformer()
    shell.ast_transformers.append(transformer)
    scratch = Path(tempfile.mkdtemp(prefix="robustness-"))
    if exercise:
        check_dir, public_dir = write_checks(nb, scratch)
        names = checks.variable_names(check_dir)
    key = fingerprint(source)

    for seed in seeds:
        # `from hierarchical_helpers import BOOK_SEED` in the page's set-up cell reads this.
        hierarchical_helpers.BOOK_SEED = seed
        shell.reset(new_session=False)
        gc.collect()
        outcomes: dict[str, str] = {}
        errors: dict[str, str] = {}

        def record(identifier, outcome, error_name):
            # An assert inside a loop holds only if it held every time.
            previous = outcomes.get(identifier)
            if previous in ("failed", "error"):
                return
            outcomes[identifier] = outcome
            if error_name:
                errors[identifier] = error_name

        shell.user_ns["_robustness_record"] = record
        cell_results = {}
        start, cpu_start = time.perf_counter(), time.process_time()
        compiles_before, hits_before = stats["compiles"], stats["memo hits"]
        setup_ok = None
        for number, cell in cells:
            if memo and not memo_installed and "pymc" in sys.modules:
                _install_memo(stats)  # once the page has imported PyMC (nutpie is then cheap to import)
                memo_installed = True
            transformer.cell_number = number if is_claim_cell(cell) else None
            cell_start = time.perf_counter()
            captured = io.StringIO()
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                result = shell.run_cell(cell.source, store_history=False, silent=True)
            plt.close("all")
            error = result.error_in_exec or result.error_before_exec
            cell_results[str(number)] = {"seconds": round(time.perf_counter() - cell_start, 3),
                                         "error": _short(error) if error else None,
                                         "first_line": cell.source.strip().splitlines()[0][:100] if cell.source.strip() else ""}
            if setup_ok is None and "SEED" in shell.user_ns:
                # The set-up cell has run: a page's own seed (not BOOK_SEED) is replaced here, before
                # any later cell draws from it.
                shell.user_ns["SEED"] = seed
                setup_ok = True
        transformer.cell_number = None

        raised_cells = {n for n, r in cell_results.items() if r["error"]}
        assert_results = {}
        for identifier in asserts:
            cell_number = identifier.split(",")[0].split()[1]
            if identifier in outcomes:
                outcome = outcomes[identifier]
            elif cell_number in raised_cells:
                outcome = "not reached"
            else:
                outcome = "skipped"  # its cell ran to the end without evaluating it (a branch not taken)
            assert_results[identifier] = {"outcome": outcome, "error": errors.get(identifier)}

        check_results = None
        if exercise:
            export = scratch / f"answers-{seed}.json"
            answers.export(shell.user_ns, names, str(export), limits.answer_limits())
            check_results = checks.run_checks(export.read_text(), str(check_dir), str(public_dir))
            export.unlink()

        seconds = time.perf_counter() - start
        payload = {
            "format": FORMAT, "notebook": label(source), "seed": seed, "fingerprint": key,
            "seconds": round(seconds, 2), "cpu_seconds": round(time.process_time() - cpu_start, 2), "memo": memo,
            "first_in_worker": seed == seeds[0],  # paid the imports and the first compiles
            "compiles": stats["compiles"] - compiles_before, "memo_hits": stats["memo hits"] - hits_before,
            "seed_applied": bool(setup_ok), "cells": cell_results, "asserts": assert_results,
            "checks": check_results,
        }
        out.mkdir(parents=True, exist_ok=True)
        temporary = out / f".seed-{seed}.json.tmp"
        temporary.write_text(json.dumps(payload, indent=1))
        temporary.replace(out / f"seed-{seed}.json")
        failed_checks = sum(not c["passed"] for c in check_results or [])
        failed_asserts = sum(a["outcome"] not in ("held", "skipped") for a in assert_results.values())
        print(f"  {label(source)} seed {seed}: {seconds:.1f} s, {len(raised_cells)} cells raised, "
              f"{failed_asserts} asserts failed, {failed_checks} check cases failed"
              + (f", {payload['memo_hits']} compiled models reused" if memo else ""), flush=True)
    return 0


# The driver -------------------------------------------------------------------------------------

def result_dir(source: Path, state: Path) -> Path:
    return state / source.parent.name / source.stem


def saved_results(source: Path, seeds: list[int], state: Path) -> dict[int, dict]:
    """Saved per-seed results that are still valid for the notebook as it is now."""
    key = fingerprint(source)
    found = {}
    for seed in seeds:
        path = result_dir(source, state) / f"seed-{seed}.json"
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            if data.get("fingerprint") == key and data.get("format") == FORMAT:
                found[seed] = data
    return found


def run_notebook(source: Path, seeds: list[int], state: Path, memo: bool) -> None:
    done = saved_results(source, seeds, state)
    missing = [s for s in seeds if s not in done]
    if not missing:
        print(f"{label(source)}: all {len(seeds)} seeds saved", flush=True)
        return
    print(f"{label(source)}: {len(done)} of {len(seeds)} seeds saved, running {len(missing)}", flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(source),
               "--out", str(result_dir(source, state)), "--seed-list", ",".join(map(str, missing))]
    if not memo:
        command.append("--no-memo")
    environment = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    completed = subprocess.run(command, env=environment)
    if completed.returncode != 0:
        print(f"{label(source)}: the worker stopped (exit {completed.returncode}); "
              "the seeds it finished are saved, run the command again to continue", flush=True)


def interval(failures: int, runs: int) -> tuple[float, float]:
    """Exact (Clopper-Pearson) 95% interval of a failure rate."""
    from scipy.stats import binomtest

    if runs == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(failures, runs).proportion_ci(confidence_level=0.95, method="exact")
    return (float(ci.low), float(ci.high))


def summarise(results_by_notebook: dict[str, list[dict]], asserts_source: dict[str, dict[str, str]]) -> dict:
    """Per notebook: per check case and per assert, failures / runs, rate and 95% interval."""
    summary = {}
    for name, results in results_by_notebook.items():
        runs = len(results)
        entry = {"runs": runs, "seeds": sorted(r["seed"] for r in results),
                 "seconds_per_seed": {"mean": sum(r["seconds"] for r in results) / runs if runs else None,
                                      "max": max((r["seconds"] for r in results), default=None),
                                      "warm_mean": _mean([r["seconds"] for r in results if not r.get("first_in_worker")]),
                                      "cpu_mean": sum(r.get("cpu_seconds", 0) for r in results) / runs if runs else None,
                                      "warm_cpu_mean": _mean([r["cpu_seconds"] for r in results
                                                              if not r.get("first_in_worker") and "cpu_seconds" in r])},
                 "seed_not_applied": [r["seed"] for r in results if not r["seed_applied"]],
                 "checks": [], "asserts": [], "cells": []}
        # Check cases.
        cases = {}
        for r in results:
            for case in r["checks"] or []:
                key = (case["question"], case["name"])
                item = cases.setdefault(key, {"question": case["question"], "name": case["name"],
                                              "hidden": case["hidden"], "failures": 0, "runs": 0,
                                              "failed_seeds": [], "reasons": Counter()})
                item["runs"] += 1
                if not case["passed"]:
                    item["failures"] += 1
                    item["failed_seeds"].append(r["seed"])
                    reason = case["reason"] + (f" ({case.get('variable')})" if case.get("variable") else "")
                    item["reasons"][reason] += 1
        for item in cases.values():
            item["rate"] = item["failures"] / item["runs"]
            item["interval"] = interval(item["failures"], item["runs"])
            item["reasons"] = dict(item["reasons"])
            entry["checks"].append(item)
        entry["checks"].sort(key=lambda c: (len(c["question"]), c["question"], c["name"]))
        # Claim-asserts.
        for identifier, text in asserts_source.get(name, {}).items():
            outcomes = Counter(r["asserts"].get(identifier, {}).get("outcome", "absent") for r in results)
            measured = runs - outcomes["skipped"] - outcomes["absent"]
            failures = outcomes["failed"] + outcomes["error"] + outcomes["not reached"]
            entry["asserts"].append({
                "id": identifier, "source": text, "failures": failures, "runs": measured,
                "failed": outcomes["failed"], "error": outcomes["error"], "not_reached": outcomes["not reached"],
                "skipped": outcomes["skipped"],
                "failed_seeds": sorted(r["seed"] for r in results
                                       if r["asserts"].get(identifier, {}).get("outcome") in ("failed", "error", "not reached")),
                "rate": failures / measured if measured else None,
                "interval": interval(failures, measured)})
        # Cells that raised.
        raised = {}
        for r in results:
            for number, cell in r["cells"].items():
                if cell["error"]:
                    item = raised.setdefault(int(number), {"cell": int(number), "first_line": cell["first_line"],
                                                           "failures": 0, "errors": Counter(), "failed_seeds": []})
                    item["failures"] += 1
                    item["errors"][cell["error"]] += 1
                    item["failed_seeds"].append(r["seed"])
        for number in sorted(raised):
            item = raised[number]
            item["runs"] = runs
            item["rate"] = item["failures"] / runs
            item["interval"] = interval(item["failures"], runs)
            item["errors"] = dict(item["errors"].most_common(3))
            entry["cells"].append(item)
        summary[name] = entry
    return summary


def _mean(values):
    return sum(values) / len(values) if values else None


def _pct(value) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.1f}%"


def _row_interval(item) -> str:
    low, high = item["interval"]
    return f"[{_pct(low)}, {_pct(high)}]"


def _seeds_text(seeds: list[int], limit: int = 12) -> str:
    shown = ", ".join(map(str, seeds[:limit]))
    return shown + (", ..." if len(seeds) > limit else "")


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def report_markdown(summary: dict, requested: int, memo: bool, not_run: list[str] = ()) -> str:
    incomplete = [f"{name} ({entry['runs']} of {requested})" for name, entry in summary.items() if entry["runs"] < requested]
    total_runs = sum(e["runs"] for e in summary.values())
    total_seconds = sum((e["seconds_per_seed"]["mean"] or 0) * e["runs"] for e in summary.values())
    lines = [
        "# Seed robustness of the checks and claims",
        "",
        f"Written by `make robustness` (tools/robustness.py) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: "
        f"**N = {requested} seeds requested** (seeds 1..{requested}); each notebook's own number of runs is in "
        "its heading. Each notebook was executed top to bottom at each seed (the page's `SEED` "
        "replaced, so every draw changes; a page's own simulated data set keeps its literal data seed), every claim-assert of its `remove-cell` cells "
        "recorded without stopping the run, and for an exercise every check case, public and hidden, run "
        "on the answer key's answers by the grader's checks runner.",
        "",
        "Failure rate = failures / runs, with an exact (Clopper-Pearson) 95% interval. For an assert, "
        "a failure is: it was false, raised, or was not reached because its cell raised first. "
        "Issue 20's bar: at most 1% for a check on an honest answer; a claim holds at 99% of seeds or "
        "states its Monte Carlo error.",
        "",
        f"Time: {total_runs} notebook-seeds in {total_seconds / 60:.1f} min of worker time "
        f"({'compiled models memoised per model graph' if memo else 'no memoisation'}). "
        "A warm seed is one after the first in its worker (imports and first compiles paid); CPU seconds count "
        "every thread of the worker, so on a busy machine they, not the wall-clock times, measure the cost.",
        "",
    ]
    if incomplete or not_run:
        lines += ["**A partial run.** " + (f"Fewer than {requested} seeds: {', '.join(incomplete)}. " if incomplete else "")
                  + (f"Not run at all: {', '.join(not_run)}. " if not_run else "")
                  + "Run the same command again to continue it.", ""]
    lines += ["| notebook | runs | s per seed: mean (max); warm mean | CPU s per warm seed | failing checks | failing asserts | cells that raised |",
              "|---|---|---|---|---|---|---|"]
    for name, entry in summary.items():
        spent = entry["seconds_per_seed"]
        warm = "n/a" if spent["warm_mean"] is None else f"{spent['warm_mean']:.1f}"
        cpu = "n/a" if spent["warm_cpu_mean"] is None else f"{spent['warm_cpu_mean']:.1f}"
        lines.append(f"| {name} | {entry['runs']} | {spent['mean']:.1f} ({spent['max']:.1f}); {warm} | {cpu} | "
                     f"{sum(c['failures'] > 0 for c in entry['checks'])} of {len(entry['checks'])} | "
                     f"{sum((a['failures'] or 0) > 0 for a in entry['asserts'])} of {len(entry['asserts'])} | "
                     f"{len(entry['cells'])} |")
    for name, entry in summary.items():
        lines += ["", f"## {name} ({entry['runs']} seeds)", ""]
        if entry["seed_not_applied"]:
            lines += [f"**The harness's seed did not reach this page** at seeds {_seeds_text(entry['seed_not_applied'])} "
                      "(no `SEED = BOOK_SEED`?): its results are not a seed study.", ""]
        if entry["checks"]:
            lines += ["Checks (each case of the exercise's check files, on the answer key's answers):", "",
                      "| question | case | hidden | failures / runs | rate | 95% interval | why (seeds) |",
                      "|---|---|---|---|---|---|---|"]
            for c in entry["checks"]:
                why = "; ".join(f"{k}: {v}" for k, v in c["reasons"].items())
                lines.append(f"| {c['question']} | `{c['name']}` | {'yes' if c['hidden'] else 'no'} | "
                             f"{c['failures']} / {c['runs']} | {_pct(c['rate'])} | {_row_interval(c)} | "
                             f"{why}{' (' + _seeds_text(c['failed_seeds']) + ')' if c['failed_seeds'] else ''} |")
            lines.append("")
        if entry["asserts"]:
            lines += ["Claim-asserts (`remove-cell` cells; cells counted from 0 among code cells, lines within the cell):", "",
                      "| where | assert | failures / runs | rate | 95% interval | false / raised / not reached (seeds) |",
                      "|---|---|---|---|---|---|"]
            for a in entry["asserts"]:
                detail = f"{a['failed']} / {a['error']} / {a['not_reached']}"
                if a["failed_seeds"]:
                    detail += f" ({_seeds_text(a['failed_seeds'])})"
                if a["skipped"]:
                    detail += f"; not evaluated at {a['skipped']} seeds"
                lines.append(f"| {a['id']} | `{_cell_text(a['source'])}` | {a['failures']} / {a['runs']} | "
                             f"{_pct(a['rate'])} | {_row_interval(a)} | {detail} |")
            lines.append("")
        if entry["cells"]:
            lines += ["Cells that raised (a cell after a failed one may raise because of it):", "",
                      "| cell | starts | failures / runs | rate | 95% interval | error (seeds) |", "|---|---|---|---|---|---|"]
            for c in entry["cells"]:
                errors = "; ".join(f"{_cell_text(k)} ×{v}" for k, v in c["errors"].items())
                lines.append(f"| {c['cell']} | `{_cell_text(c['first_line'])}` | {c['failures']} / {c['runs']} | "
                             f"{_pct(c['rate'])} | {_row_interval(c)} | {errors} ({_seeds_text(c['failed_seeds'])}) |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(sources: list[Path], seeds: list[int], state: Path, out: Path, memo: bool) -> dict:
    import jupytext

    results, asserts, not_run = {}, {}, []
    for source in sources:
        saved = saved_results(source, seeds, state)
        if not saved:
            not_run.append(label(source))
            continue
        name = label(source)
        results[name] = [saved[s] for s in sorted(saved)]
        asserts[name] = claim_asserts(jupytext.read(source))
    summary = summarise(results, asserts)
    out.mkdir(parents=True, exist_ok=True)
    (out / "robustness.json").write_text(json.dumps(
        {"seeds_requested": len(seeds), "seeds": seeds, "memo": memo, "not_run": not_run, "notebooks": summary},
        indent=1) + "\n")
    (out / "robustness.md").write_text(report_markdown(summary, len(seeds), memo, not_run))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="run seeds 1..N (default 50)")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="MyST sources to run, e.g. exercises/non-centred.md")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at the same time (default 2, one per core)")
    parser.add_argument("--no-memo", action="store_true", help="compile every model anew (no memoisation)")
    parser.add_argument("--report-only", action="store_true", help="write the report from saved results, run nothing")
    parser.add_argument("--state", type=Path, default=STATE, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed-list", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        seeds = [int(s) for s in args.seed_list.split(",") if s]
        return run_worker(args.worker.resolve(), seeds, args.out, memo=not args.no_memo)

    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.only:
        sources = []
        for name in args.only:
            path = (ROOT / name) if not Path(name).is_absolute() else Path(name)
            if path.suffix == ".ipynb":
                path = path.with_suffix(".md")
            if not path.exists() or path.parent.name not in ("chapters", "exercises"):
                parser.error(f"{name}: not a chapter page or exercise source; name one such as "
                             "chapters/eight-schools.md or exercises/non-centred.md")
            sources.append(path.resolve())
    else:
        sources = default_sources()
    seeds = list(range(1, args.seeds + 1))
    out = args.out or OUT
    if not args.report_only:
        from concurrent.futures import ThreadPoolExecutor

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            # Longest first would be better; the book's order is the simple, predictable choice.
            list(pool.map(lambda source: run_notebook(source, seeds, args.state, memo=not args.no_memo), sources))
        print(f"ran in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    summary = write_report(default_sources() if not args.only else sources, seeds, args.state, out, not args.no_memo)
    incomplete = [name for name, entry in summary.items() if entry["runs"] < len(seeds)]
    print(f"wrote {out / 'robustness.md'} and {out / 'robustness.json'}"
          + (f"; incomplete (fewer than {len(seeds)} seeds): {', '.join(incomplete)}" if incomplete else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
