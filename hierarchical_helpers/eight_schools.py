"""The Eight Schools data and its exact posterior.

In the model
    y_i ~ N(theta_i, sigma_i),  theta_i ~ N(mu, tau),  mu ~ N(0, mu_sd),  tau ~ tau_prior,
theta integrates out (y_i | mu, tau ~ N(mu, sqrt(sigma_i^2 + tau^2))), and so does mu,
because its prior is normal. What remains is a one-dimensional posterior for tau, which
adaptive quadrature integrates to near machine precision. Every exact posterior
expectation of mu, tau and theta then follows from one-dimensional integrals over tau.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import integrate, stats

# The Eight Schools data (Rubin 1981, Table 2): the estimated effect of coaching on SAT-V scores in
# each school, and its standard error. Typed here rather than loaded from ArviZ's copy, which needs
# a netCDF reader and ships the effects without their standard errors.
SCHOOLS = ("Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss", "Lawrenceville",
           "St. Paul's", "Mt. Hermon")
EFFECTS = (28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0)
STANDARD_ERRORS = (15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0)


def eight_schools_data() -> pd.DataFrame:
    """One row per school: estimated coaching effect `y` and its standard error `sigma`."""
    return pd.DataFrame({"y": EFFECTS, "sigma": STANDARD_ERRORS}, index=pd.Index(SCHOOLS, name="school"))


class EightSchoolsExact:
    """Exact posterior expectations for the normal hierarchical model above."""

    def __init__(self, y, sigma, mu_sd=20.0, tau_prior=None):
        self.y = np.asarray(y, dtype=float)
        self.sigma = np.asarray(sigma, dtype=float)
        self.mu_sd = float(mu_sd)
        self.tau_prior = tau_prior if tau_prior is not None else stats.halfnorm(scale=10.0)
        # Integrate piecewise between the prior's quartiles, 1 and the data's scale, so that
        # the quadrature sees where the mass is even for a very narrow or very wide prior,
        # and the log-singularity of E[log tau] at 0 sits alone in the first piece.
        landmarks = [*self.tau_prior.ppf([0.25, 0.5, 0.75, 0.99]), 1.0, float(np.median(self.sigma))]
        self._breaks = np.unique([0.0, *[x for x in landmarks if np.isfinite(x) and x > 0]])
        self._log_shift = max(self._log_unnormalised(x) for x in self._breaks[1:])
        self._norm = self._integrate(lambda tau: 1.0)

    def _conditional(self, tau):
        """log p(y | tau) and the normal posterior of mu given tau (mean, precision)."""
        v = self.sigma**2 + tau**2
        precision = 1.0 / self.mu_sd**2 + np.sum(1.0 / v)
        mean = np.sum(self.y / v) / precision
        log_lik = (
            -0.5 * np.sum(np.log(2 * np.pi * v))
            - 0.5 * np.log(2 * np.pi * self.mu_sd**2)
            + 0.5 * np.log(2 * np.pi / precision)
            - 0.5 * (np.sum(self.y**2 / v) - precision * mean**2)
        )
        return log_lik, mean, precision

    def _log_unnormalised(self, tau):
        return self._conditional(tau)[0] + self.tau_prior.logpdf(tau)

    def _integrate(self, f):
        integrand = lambda tau: f(tau) * np.exp(self._log_unnormalised(tau) - self._log_shift)  # noqa: E731
        edges = [*self._breaks, np.inf]
        return sum(integrate.quad(integrand, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0]
                   for a, b in zip(edges[:-1], edges[1:]))

    def expect(self, f) -> float:
        """Posterior expectation E[f(tau) | y] for a scalar function f of tau."""
        return self._integrate(f) / self._norm

    def tau_density(self, tau):
        """Normalised posterior density p(tau | y) at the points `tau`."""
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        return np.array([np.exp(self._log_unnormalised(t) - self._log_shift) for t in tau]) / self._norm

    def mu_given_tau(self, tau) -> float:
        """E[mu | tau, y]."""
        return self._conditional(tau)[1]

    def mu_sd_given_tau(self, tau) -> float:
        """Posterior standard deviation of mu given tau."""
        return 1.0 / np.sqrt(self._conditional(tau)[2])

    def theta_given_tau(self, tau) -> np.ndarray:
        """E[theta | tau, y]: each y_i pulled towards E[mu | tau, y] by B_i = sigma_i^2 / (sigma_i^2 + tau^2)."""
        shrinkage = self.sigma**2 / (self.sigma**2 + tau**2)
        return (1 - shrinkage) * self.y + shrinkage * self.mu_given_tau(tau)

    def posterior_means(self) -> pd.Series:
        """Exact posterior means of mu, tau, log(tau) and every theta_i."""
        means = {
            "mu": self.expect(self.mu_given_tau),
            "tau": self.expect(lambda tau: tau),
            "log_tau": self.expect(np.log),
        }
        for i in range(len(self.y)):
            means[f"theta[{i}]"] = self.expect(lambda tau, i=i: self.theta_given_tau(tau)[i])
        return pd.Series(means)


def posterior_mean_on_grid(y, sigma, tau_grid, mu_sd=20.0, tau_prior=None):
    """Posterior means E[theta | y] of the normal hierarchical model, for many data sets at once.

    `y` has shape (..., J): each row is one data set of J group estimates with standard
    errors `sigma` (shape (J,)). The same integrals as `EightSchoolsExact`, but summed over a
    fixed grid of tau values instead of adaptive quadrature, which is vectorised and accurate
    enough for simulation studies. `tau_grid` should be fine near 0 and reach well into
    the tail of p(tau | y).
    """
    tau_prior = tau_prior if tau_prior is not None else stats.halfnorm(scale=10.0)
    y = np.asarray(y, dtype=float)[..., None, :]                         # (..., 1, J)
    tau = np.asarray(tau_grid, dtype=float)[:, None]                     # (T, 1)
    v = np.asarray(sigma, dtype=float) ** 2 + tau**2                     # (T, J)
    precision = 1.0 / mu_sd**2 + np.sum(1.0 / v, axis=-1)                # (T,)
    mu_mean = np.sum(y / v, axis=-1) / precision                         # (..., T)
    log_post = (
        -0.5 * np.sum(np.log(v), axis=-1) - 0.5 * np.log(precision)
        - 0.5 * (np.sum(y**2 / v, axis=-1) - precision * mu_mean**2)
        + tau_prior.logpdf(tau[:, 0])
    )
    # Trapezoid weights on the (possibly uneven) grid.
    widths = np.gradient(tau[:, 0])
    weights = np.exp(log_post - log_post.max(axis=-1, keepdims=True)) * widths
    weights /= weights.sum(axis=-1, keepdims=True)                       # (..., T)
    shrinkage = np.asarray(sigma, dtype=float) ** 2 / v                  # (T, J)
    theta_given_tau = (1 - shrinkage) * y + shrinkage * mu_mean[..., None]  # (..., T, J)
    return np.sum(weights[..., None] * theta_given_tau, axis=-2)
