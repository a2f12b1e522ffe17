"""The compile profile: how a page's cold time is split, and which compiled functions cost most."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import compile_profile  # noqa: E402


def _event(depth, name, cpu, self_cpu, cell, caller=None):
    return {"depth": depth, "name": name, "module": "", "wall": cpu, "cpu": cpu, "self_cpu": self_cpu,
            "caller": caller, "cell": cell}


def test_time_is_split_and_each_compiled_function_names_its_costliest_ops():
    profile = {
        "wall_s": 30.0,
        "page_cells": ["# Colab set-up", "setup_page()", "pm.sample(...)", "plot"],
        "cells": [{"wall": 0.5, "cpu": 0.5}, {"wall": 3, "cpu": 3}, {"wall": 20, "cpu": 15}, {"wall": 2, "cpu": 2}],
        # Numba records children before their parent: two ops, then the function they make up.
        "numba": [_event(1, "numba_composite", 2.0, 2.0, 2), _event(1, "gemm", 5.0, 5.0, 2),
                  _event(0, "numba_funcified_fgraph", 10.0, 3.0, 2, "nutpie.compile_pymc._make_functions"),
                  _event(0, "take_impl", 1.0, 1.0, 2, "pymc.sampling.forward.sample_posterior_predictive")],
        "pytensor": [{"what": "graph rewriting", "caller": "x", "wall": 1, "cpu": 1.5, "cell": 2}],
        "sampling": [{"what": "nutpie.sample", "caller": "x", "wall": 1, "cpu": 0.5, "cell": 2}],
    }
    summary = compile_profile.summarise("chapters/example.md", profile)
    assert summary["cpu_s"] == 20.5 and summary["imports_cpu_s"] == 3.5
    assert summary["numba_compile_cpu_s"] == 11.0 and summary["pytensor_cpu_s"] == 1.5
    assert summary["sampling_cpu_s"] == 0.5 and summary["rest_cpu_s"] == 4.0
    first, second = summary["compiled_functions"]
    assert first["function"] == "numba_funcified_fgraph" and first["cpu_s"] == 10.0 and first["cell"] == 2
    assert first["dominant"] == [("gemm", 5.0), ("numba_funcified_fgraph", 3.0), ("numba_composite", 2.0)]
    assert second["dominant"] == [("take_impl", 1.0)]
    table = compile_profile.markdown({"chapters/example.md": summary})
    assert "| example, 2 | `nutpie.compile_pymc._make_functions` | `numba_funcified_fgraph` | 10.0 |" in table
    assert "chapters/example.md" in table.split("most expensive")[0]  # page paths only in the per-page table


@pytest.mark.slow
def test_a_cold_run_records_numba_compiles_pytensor_and_sampling(tmp_path):
    source = tmp_path / "tiny.md"
    source.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n    format_version: 0.13\nkernelspec:\n  name: python3\n"
        "  display_name: Python 3\n---\n\n```{code-cell} ipython3\nimport pymc as pm\n"
        "from hierarchical_helpers import setup_page\nsetup_page()\nSEED = 1\n```\n\n"
        "```{code-cell} ipython3\nwith pm.Model():\n    mu = pm.Normal('mu')\n"
        "    pm.Normal('y', mu, 1, observed=[0.1, -0.3])\n"
        "    idata = pm.sample(draws=50, tune=50, chains=1, random_seed=SEED, nuts_sampler='nutpie',"
        " progressbar=False)\n```\n")
    raw = compile_profile.run(source, folder=tmp_path)
    summary = compile_profile.summarise("chapters/tiny.md", raw)
    assert summary["numba_compile_cpu_s"] > 0 and summary["pytensor_cpu_s"] > 0
    assert [call["what"] for call in raw["sampling"]] == ["nutpie.sample"]  # 100 draws: too quick to show in 0.1 s
    assert len(raw["cells"]) == 2 and summary["imports_cpu_s"] > 0
    callers = {f["caller"] for f in summary["compiled_functions"]}
    assert any(caller.startswith("nutpie") for caller in callers), callers
