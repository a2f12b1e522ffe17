"""Convergence checks that a page asserts before it reports a fit."""
from __future__ import annotations

from dataclasses import dataclass

import arviz as az


@dataclass(frozen=True)
class Convergence:
    """The diagnostics of a fit that passed `assert_converged`, shown as one line."""

    var_names: tuple[str, ...]
    divergences: int
    max_rhat: float
    min_ess: float

    def __repr__(self) -> str:
        return (f"converged: {self.divergences} divergences, R-hat at most {self.max_rhat:.3f}, "
                f"effective sample size at least {self.min_ess:.0f} ({', '.join(self.var_names)})")


def assert_converged(
    idata, var_names, *, max_rhat: float = 1.01, min_ess: float = 400, max_divergences: int = 0
) -> Convergence:
    """Raise AssertionError unless a fit is trustworthy; return its diagnostics as one line.

    Trustworthy here means: at most `max_divergences` divergent transitions (none unless a page
    says why it allows a few), R-hat <= `max_rhat`, and bulk and tail effective sample sizes
    >= `min_ess` for every element of every variable in `var_names`.
    The diagnostics are read unrounded (ArviZ rounds its summary unless `round_to="none"`, the
    string), so an R-hat of 1.0149 fails a limit of 1.01.
    """
    var_names = list(var_names)
    divergences = int(idata.sample_stats["diverging"].sum())
    table = az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")
    worst_rhat = float(table["r_hat"].max())
    ess = table[["ess_bulk", "ess_tail"]].min(axis=1)
    problems = []
    if divergences > max_divergences:
        problems.append(f"{divergences} divergent transitions")
    if not worst_rhat <= max_rhat:
        problems.append(f"R-hat {worst_rhat:.4f} > {max_rhat} for {table['r_hat'].idxmax()}")
    if not ess.min() >= min_ess:
        problems.append(f"effective sample size {ess.min():.0f} < {min_ess} for {ess.idxmin()}")
    assert not problems, "the fit has not converged: " + "; ".join(problems)
    return Convergence(tuple(var_names), divergences, worst_rhat, float(ess.min()))
