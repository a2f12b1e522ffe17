"""Tests of what hierarchical_helpers.eight_schools adds for the mathematical-structure and Eight Schools pages:
the model builder both pages and the benchmark use, the conditional posterior of theta given tau, the exact
marginal intervals, the empirical-Bayes estimate of tau, and the vectorised grid posterior means."""
import numpy as np
import pytest
from scipy import special, stats

from hierarchical_helpers.eight_schools import (
    EightSchoolsExact, eight_schools_data, eight_schools_model, marginal_mle_tau, posterior_mean_on_grid,
    tau_quadrature,
)


@pytest.fixture(scope="module")
def schools():
    return eight_schools_data()


@pytest.fixture(scope="module")
def exact(schools):
    return EightSchoolsExact(schools["y"].to_numpy(), schools["sigma"].to_numpy())


# --- the model builder ---------------------------------------------------------------------------

def test_models_have_the_named_variables_and_data(schools):
    centred = eight_schools_model("centred")
    non_centred = eight_schools_model("non-centred")
    assert [rv.name for rv in centred.free_RVs] == ["tau", "mu", "theta"]
    assert [rv.name for rv in non_centred.free_RVs] == ["tau", "mu", "z"]
    assert [d.name for d in non_centred.deterministics] == ["theta"]
    for model in (centred, non_centred):
        assert list(model.coords["school"]) == list(schools.index)
        np.testing.assert_array_equal(model.rvs_to_values[model["y"]].data, schools["y"].to_numpy())


def test_unknown_parameterisation_is_refused():
    with pytest.raises(ValueError, match="centred"):
        eight_schools_model("centered")


def test_the_two_parameterisations_are_the_same_model():
    """theta = mu + tau z: the densities differ exactly by the Jacobian tau^J of that change of variables."""
    centred, non_centred = eight_schools_model("centred"), eight_schools_model("non-centred")
    logp_centred, logp_non_centred = centred.compile_logp(), non_centred.compile_logp()
    rng = np.random.default_rng(1)
    for _ in range(5):
        mu, tau, z = rng.normal(5, 5), np.exp(rng.normal(1, 1)), rng.normal(size=8)
        point = {"mu": mu, "tau_log__": np.log(tau)}
        difference = logp_centred({**point, "theta": mu + tau * z}) - logp_non_centred({**point, "z": z})
        assert difference == pytest.approx(-8 * np.log(tau), abs=1e-8)


# --- the conditional posterior of theta given tau --------------------------------------------------

def test_conditional_sd_against_integrating_mu_on_a_grid(exact, schools):
    """Var[theta_i | tau, y] = E[Var | mu] + Var[E | mu], computed here by brute force over mu."""
    y, sigma = schools["y"].to_numpy(), schools["sigma"].to_numpy()
    mu = np.linspace(-80, 90, 20001)
    for tau in (0.5, 4.0, 15.0):
        log_post = stats.norm.logpdf(y[:, None], mu, np.sqrt(sigma[:, None] ** 2 + tau**2)).sum(0)
        log_post += stats.norm.logpdf(mu, 0, 20)
        weight = np.exp(log_post - log_post.max())
        weight /= weight.sum()
        shrinkage = sigma**2 / (sigma**2 + tau**2)
        mean_given_mu = (1 - shrinkage[:, None]) * y[:, None] + shrinkage[:, None] * mu
        mean = (weight * mean_given_mu).sum(1)
        variance = (1 - shrinkage) * sigma**2 + (weight * (mean_given_mu - mean[:, None]) ** 2).sum(1)
        np.testing.assert_allclose(exact.theta_given_tau(tau), mean, atol=1e-6)
        np.testing.assert_allclose(exact.theta_sd_given_tau(tau), np.sqrt(variance), atol=1e-6)


def test_conditional_limits(exact, schools):
    # tau = 0: every theta_i equals mu, so its sd is the sd of mu given tau = 0.
    np.testing.assert_allclose(exact.theta_sd_given_tau(0.0), exact.mu_sd_given_tau(0.0))
    # tau huge: no pooling, each theta_i has its own standard error.
    np.testing.assert_allclose(exact.theta_sd_given_tau(1e6), schools["sigma"], rtol=1e-6)


# --- the exact marginal posterior of theta_i -------------------------------------------------------

def test_cdf_matches_adaptive_quadrature(exact):
    for i, value in [(0, -1.0), (0, 10.0), (4, 20.0)]:
        by_quadrature = exact.expect(lambda tau: special.ndtr(
            (value - exact.theta_given_tau(tau)[i]) / exact.theta_sd_given_tau(tau)[i]))
        assert exact.theta_cdf(value, i) == pytest.approx(by_quadrature, abs=1e-9)


def test_interval_holds_its_probability_and_matches_sampling(exact, schools):
    """The interval's ends sit at the 3% and 97% points, and agree with draws from the exact posterior."""
    low, high = exact.theta_interval(0, prob=0.94)
    assert exact.theta_cdf(low, 0) == pytest.approx(0.03, abs=1e-7)
    assert exact.theta_cdf(high, 0) == pytest.approx(0.97, abs=1e-7)
    # Independent check: sample tau from its density on a fine grid, then theta_1 from its normal given tau.
    rng = np.random.default_rng(2)
    grid = np.linspace(0, 60, 60001)[1:]
    density = exact.tau_density(grid)
    tau = rng.choice(grid, size=400_000, p=density / density.sum())
    means = np.array([exact.theta_given_tau(t)[0] for t in grid])
    sds = np.array([exact.theta_sd_given_tau(t)[0] for t in grid])
    index = np.searchsorted(grid, tau)
    draws = rng.normal(means[index], sds[index])
    np.testing.assert_allclose(np.quantile(draws, [0.03, 0.97]), [low, high], atol=0.15)


def test_interval_is_normal_when_tau_is_known_to_be_tiny(schools):
    y, sigma = schools["y"].to_numpy(), schools["sigma"].to_numpy()
    exact = EightSchoolsExact(y, sigma, mu_sd=1e4, tau_prior=stats.halfnorm(scale=1e-6))
    pooled_mean, pooled_sd = np.sum(y / sigma**2) / np.sum(1 / sigma**2), np.sqrt(1 / np.sum(1 / sigma**2))
    low, high = exact.theta_interval(3, prob=0.9)
    assert low == pytest.approx(pooled_mean - 1.6448536 * pooled_sd, abs=1e-3)
    assert high == pytest.approx(pooled_mean + 1.6448536 * pooled_sd, abs=1e-3)


# --- the empirical-Bayes estimate of tau -----------------------------------------------------------

def test_eight_schools_estimate_is_on_the_boundary(schools):
    for method in ("ML", "REML"):
        assert marginal_mle_tau(schools["y"], schools["sigma"], method=method) == 0.0


@pytest.mark.parametrize("method, divisor", [("ML", 5), ("REML", 4)])
def test_equal_standard_errors_have_a_closed_form(method, divisor):
    """With a common sigma, tau^2-hat = sum((y - mean)^2) / divisor - sigma^2 (J for ML, J - 1 for REML)."""
    y, sigma = np.array([-20.0, 0.0, 20.0, 40.0, 5.0]), np.full(5, 3.0)
    expected = np.sqrt(np.sum((y - y.mean()) ** 2) / divisor - 9.0)
    assert marginal_mle_tau(y, sigma, method=method) == pytest.approx(expected, rel=1e-6)


def test_unknown_method_is_refused(schools):
    with pytest.raises(ValueError, match="REML"):
        marginal_mle_tau(schools["y"], schools["sigma"], method="DL")


# --- the grid posterior means ----------------------------------------------------------------------

def test_grid_means_match_quadrature_for_unequal_standard_errors():
    rng = np.random.default_rng(3)
    sigma = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    grid = np.concatenate([np.linspace(0, 2, 401)[1:], np.linspace(2, 60, 1500)[1:]])
    data = rng.normal(0, 4, size=(4, 5))
    on_grid = posterior_mean_on_grid(data, sigma, grid)
    for row, means in zip(data, on_grid):
        exact = EightSchoolsExact(row, sigma).posterior_means()
        np.testing.assert_allclose(means, exact[[f"theta[{i}]" for i in range(5)]], atol=2e-3)


def test_quadrature_nodes_match_quadrature_for_simulation_settings():
    """The Gauss-Legendre nodes the Stein simulation uses: noise sd 1, few or many groups."""
    rng = np.random.default_rng(4)
    nodes, weights = tau_quadrature()
    assert weights.sum() == pytest.approx(60.0)
    for J, spread in [(4, 0.0), (4, 5.0), (50, 4.0)]:
        data = rng.normal(0, spread, size=(3, J)) + rng.standard_normal((3, J))
        on_nodes = posterior_mean_on_grid(data, np.ones(J), nodes, tau_weights=weights)
        for row, means in zip(data, on_nodes):
            exact = EightSchoolsExact(row, np.ones(J)).posterior_means()
            np.testing.assert_allclose(means, exact[[f"theta[{i}]" for i in range(J)]], atol=1e-5)
