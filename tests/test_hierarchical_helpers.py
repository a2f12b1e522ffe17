"""Unit tests of the helpers the pages share (hierarchical_helpers)."""
import warnings

import numpy as np
import pytest
from scipy import integrate, stats

warnings.filterwarnings("ignore", message="\nArviZ is undergoing", category=FutureWarning)
import arviz as az  # noqa: E402

from hierarchical_helpers import EightSchoolsExact, assert_converged, eight_schools_data  # noqa: E402


@pytest.fixture(scope="module")
def schools():
    return eight_schools_data()


def test_eight_schools_data(schools):
    assert list(schools.columns) == ["y", "sigma"]
    assert schools.index[0] == "Choate" and len(schools) == 8
    assert schools.loc["Choate", "y"] == 28 and schools.loc["Choate", "sigma"] == 15


def test_tau_density_is_normalised(schools):
    exact = EightSchoolsExact(schools.y, schools.sigma)
    total, _ = integrate.quad(lambda t: exact.tau_density(t)[0], 0, np.inf)
    assert total == pytest.approx(1, abs=1e-8)


def test_exact_means_agree_with_a_brute_force_grid(schools):
    """An independent check: integrate p(mu, tau | y) on a dense 2-D grid, mu not integrated out."""
    y, sigma = schools.y.to_numpy(), schools.sigma.to_numpy()
    mu = np.linspace(-60, 80, 1401)[:, None]
    tau = (np.arange(3000) + 0.5)[None, :] * 0.02  # cell midpoints on (0, 60)
    sd = np.sqrt(sigma[:, None, None] ** 2 + tau**2)
    log_post = (stats.norm.logpdf(y[:, None, None], mu, sd).sum(axis=0)
                + stats.norm.logpdf(mu, 0, 20) + stats.halfnorm.logpdf(tau, scale=10))
    weight = np.exp(log_post - log_post.max())
    weight /= weight.sum()
    means = EightSchoolsExact(y, sigma).posterior_means()
    assert (weight * mu).sum() == pytest.approx(means["mu"], abs=2e-3)
    assert (weight * tau).sum() == pytest.approx(means["tau"], abs=2e-3)
    shrink = sigma[0] ** 2 / (sigma[0] ** 2 + tau**2)
    theta0 = (1 - shrink) * y[0] + shrink * mu  # E[theta_1 | mu, tau, y]
    assert (weight * theta0).sum() == pytest.approx(means["theta[0]"], abs=2e-3)


def test_tiny_tau_gives_complete_pooling(schools):
    y, sigma = schools.y.to_numpy(), schools.sigma.to_numpy()
    means = EightSchoolsExact(y, sigma, mu_sd=1e4, tau_prior=stats.halfnorm(scale=1e-4)).posterior_means()
    pooled = np.sum(y / sigma**2) / np.sum(1 / sigma**2)
    for i in range(8):
        assert means[f"theta[{i}]"] == pytest.approx(pooled, abs=1e-3)


def _fake_fit(rng, shift=0.0, divergent=0):
    draws = rng.normal(size=(2, 1000))
    draws[1] += shift
    diverging = np.zeros((2, 1000), dtype=bool)
    diverging[0, :divergent] = True
    return az.from_dict(posterior={"mu": draws}, sample_stats={"diverging": diverging})


def test_assert_converged_accepts_a_good_fit():
    table = assert_converged(_fake_fit(np.random.default_rng(1)), ["mu"])
    assert int(table["divergences"].iloc[0]) == 0


@pytest.mark.parametrize("kwargs, message", [({"divergent": 3}, "3 divergent"), ({"shift": 3.0}, "R-hat")])
def test_assert_converged_rejects_a_bad_fit(kwargs, message):
    with pytest.raises(AssertionError, match=message):
        assert_converged(_fake_fit(np.random.default_rng(1), **kwargs), ["mu"])


def test_grid_posterior_means_match_quadrature(schools):
    from hierarchical_helpers import posterior_mean_on_grid

    y, sigma = schools.y.to_numpy(), schools.sigma.to_numpy()
    grid = np.concatenate([np.linspace(0, 2, 401)[1:], np.linspace(2, 80, 2000)[1:]])
    exact = EightSchoolsExact(y, sigma).posterior_means()
    on_grid = posterior_mean_on_grid(np.stack([y, y]), sigma, grid)
    assert on_grid.shape == (2, 8)
    for i in range(8):
        assert on_grid[1, i] == pytest.approx(exact[f"theta[{i}]"], abs=1e-3)
