"""Convergence checks that a page asserts before it reports a fit."""
import arviz as az
import pandas as pd


def assert_converged(idata, var_names, *, max_rhat=1.01, min_ess=400):
    """Raise AssertionError unless a fit is trustworthy; return its diagnostics table.

    Trustworthy here means: no divergent transitions, R-hat <= `max_rhat`, and bulk and
    tail effective sample sizes >= `min_ess` for every variable in `var_names`.
    """
    divergences = int(idata.sample_stats["diverging"].sum())
    table = az.summary(idata, var_names=var_names, kind="diagnostics")
    problems = []
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    worst_rhat = table["r_hat"].max()
    if not worst_rhat <= max_rhat:
        problems.append(f"R-hat {worst_rhat:.3f} > {max_rhat} for {table['r_hat'].idxmax()}")
    ess = table[["ess_bulk", "ess_tail"]].min(axis=1)
    if not ess.min() >= min_ess:
        problems.append(f"ESS {ess.min():.0f} < {min_ess} for {ess.idxmin()}")
    assert not problems, "the fit has not converged: " + "; ".join(problems)
    return pd.DataFrame(
        {"divergences": [divergences], "max R-hat": [worst_rhat], "min ESS": [ess.min()]},
        index=pd.Index([", ".join(var_names)], name="variables"),
    )
