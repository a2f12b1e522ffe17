"""Unit tests of the survey helpers (hierarchical_helpers.survey): simulation, models, likelihood of alpha."""
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import integrate, stats

from hierarchical_helpers.survey import (
    ANSWERS, REGIONS, RESPONDENTS, alpha_log_likelihood, dirichlet_multinomial_logpmf, draw_survey,
    regional_shares_given_hyperparameters, simulate_survey, survey_marginal_model, survey_model,
)

# The chapter's counts for seed 2025 (a regression check: the page's prose describes these data).
CHAPTER_COUNTS = [[3, 35, 1, 6], [18, 26, 11, 65], [3, 31, 18, 8], [21, 32, 24, 3], [10, 9, 7, 9], [7, 30, 20, 38]]


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(seed=2025)


def test_simulation_reproduces_the_chapter_and_its_labels(survey):
    counts, shares = survey
    assert counts.to_numpy().tolist() == CHAPTER_COUNTS
    assert counts.index.tolist() == list(REGIONS) and counts.columns.tolist() == list(ANSWERS)
    assert counts.sum(axis=1).tolist() == list(RESPONDENTS)
    assert shares.to_numpy().sum(axis=1) == pytest.approx(np.ones(len(REGIONS)))


def test_simulation_takes_other_sizes_shares_and_concentrations():
    counts, shares = simulate_survey(seed=1, respondents=[10, 500], national_shares=[0.5, 0.3, 0.2],
                                     concentration=20.0, regions=["Tiny", "Huge"], answers=["yes", "no", "unsure"])
    assert counts.shape == (2, 3) and counts.sum(axis=1).tolist() == [10, 500]
    with pytest.raises(ValueError):
        simulate_survey(seed=1, respondents=[10, 500], regions=["only one"])


def test_a_large_concentration_draws_regions_close_to_the_national_shares():
    national = np.array([0.25, 0.35, 0.25, 0.15])
    shares, _ = draw_survey(np.random.default_rng(0), [10] * 200, national, concentration=1e5)
    assert np.abs(shares - national).max() < 0.02
    shares, _ = draw_survey(np.random.default_rng(0), [10] * 200, national, concentration=1.0)
    assert np.abs(shares - national).max() > 0.3


def test_dirichlet_multinomial_matches_pymc(survey):
    counts, _ = survey
    a = np.array([2.0, 3.0, 1.5, 0.7])
    expected = pm.logp(pm.DirichletMultinomial.dist(n=counts.sum(axis=1).to_numpy(), a=a),
                       counts.to_numpy()).eval().sum()
    assert dirichlet_multinomial_logpmf(counts.to_numpy(), a) == pytest.approx(expected, rel=1e-10)
    # Broadcasts over leading dimensions of `a`.
    assert dirichlet_multinomial_logpmf(counts.to_numpy(), np.stack([a, 2 * a])).shape == (2,)


def test_alpha_likelihood_matches_a_one_dimensional_integral_for_two_answers():
    """An independent check: with K = 2 the integral over pi0 is one-dimensional (beta-binomials)."""
    y = np.array([[3, 7], [12, 8], [30, 45], [2, 2]])
    counts = pd.DataFrame(y)
    n = y.sum(axis=1)
    for alpha in (0.5, 4.0, 60.0):
        def integrand(p):
            return np.exp(stats.betabinom.logpmf(y[:, 0], n, alpha * p, alpha * (1 - p)).sum())
        exact = np.log(integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-11, limit=200)[0])
        assert alpha_log_likelihood(counts, [alpha], nodes=20)[0] == pytest.approx(exact, abs=1e-6)


def test_alpha_likelihood_of_the_chapter_survey(survey):
    counts, _ = survey
    grid = np.array([1.0, 8.0, 100.0])
    coarse, fine = alpha_log_likelihood(counts, grid), alpha_log_likelihood(counts, grid, nodes=20)
    assert coarse == pytest.approx(fine, abs=1e-3)
    # The likelihood peaks near the simulated concentration (8) and falls off on both sides.
    assert fine[1] > fine[0] + 10 and fine[1] > fine[2] + 10


def test_models_use_the_given_prior_and_share_the_hyperparameters(survey):
    counts, _ = survey
    prior = pm.Gamma.dist(alpha=2.0, beta=0.1)
    full, marginal = survey_model(counts, prior), survey_marginal_model(counts, prior)
    assert {v.name for v in full.free_RVs} == {"alpha", "pi0", "pi"}
    assert {v.name for v in marginal.free_RVs} == {"alpha", "pi0"}
    assert full.named_vars_to_dims["pi"] == ("region", "answer")
    # The marginal model's log density is prior(alpha) + prior(pi0) + the Dirichlet-multinomial.
    point = {"alpha_log__": np.log(7.0), "pi0_simplex__": np.array([0.1, -0.2, 0.3])}
    pi0 = marginal.rvs_to_transforms[marginal["pi0"]].backward(point["pi0_simplex__"]).eval()
    expected = (stats.gamma(2.0, scale=10.0).logpdf(7.0) + np.log(6.0)
                + dirichlet_multinomial_logpmf(counts.to_numpy(), 7.0 * pi0))
    logp = marginal.compile_logp(jacobian=False)(point)
    assert logp == pytest.approx(expected, rel=1e-9)


def test_regional_shares_come_back_from_their_conjugate_posterior(survey):
    counts, _ = survey
    import arviz as az
    pi0 = np.array([0.2, 0.4, 0.2, 0.2])
    draws = 20000
    idata = az.from_dict({"posterior": {"alpha": np.full((1, draws), 10.0), "pi0": np.tile(pi0, (1, draws, 1))}},
                         dims={"pi0": ["answer"]})
    shares = regional_shares_given_hyperparameters(idata, counts, seed=1)
    assert shares.shape == (1, draws, len(REGIONS), len(ANSWERS))
    expected = (10.0 * pi0 + counts.to_numpy()) / (10.0 + counts.sum(axis=1).to_numpy()[:, None])
    assert shares.mean(axis=(0, 1)) == pytest.approx(expected, abs=0.005)
