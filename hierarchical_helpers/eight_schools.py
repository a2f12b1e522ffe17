"""The Eight Schools data, its model in both parameterisations, and its exact posterior.

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
import pymc as pm
from scipy import integrate, optimize, special, stats

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


def eight_schools_model(parameterisation: str = "non-centred", schools: pd.DataFrame | None = None) -> pm.Model:
    """The Eight Schools hierarchical model, centred or non-centred.

    y_i ~ N(theta_i, sigma_i), theta_i ~ N(mu, tau), mu ~ N(0, 20), tau ~ HalfNormal(10). The two
    parameterisations define the same distribution; they differ in what the sampler moves through.
    """
    schools = eight_schools_data() if schools is None else schools
    with pm.Model(coords={"school": schools.index.tolist()}) as model:
        tau = pm.HalfNormal("tau", sigma=10)
        mu = pm.Normal("mu", mu=0, sigma=20)
        if parameterisation == "centred":
            # The school effects themselves are the sampled parameters.
            theta = pm.Normal("theta", mu=mu, sigma=tau, dims="school")
        elif parameterisation == "non-centred":
            # Standard-normal deviations are sampled; the effects are a deterministic function of them.
            z = pm.Normal("z", mu=0, sigma=1, dims="school")
            theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        else:
            raise ValueError(f"parameterisation must be 'centred' or 'non-centred', not {parameterisation!r}")
        pm.Normal("y", mu=theta, sigma=schools["sigma"].to_numpy(), observed=schools["y"].to_numpy(),
                  dims="school")
    return model


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

    def theta_sd_given_tau(self, tau) -> np.ndarray:
        """Posterior standard deviation of every theta_i given tau, mu integrated out.

        Given (mu, tau) the posterior of theta_i is normal with variance (1 - B_i) sigma_i^2; its
        mean B_i mu + (1 - B_i) y_i varies with mu, whose posterior given tau has variance 1 / P(tau).
        So Var[theta_i | tau, y] = (1 - B_i) sigma_i^2 + B_i^2 / P(tau), and theta_i given tau is normal.
        """
        shrinkage = self.sigma**2 / (self.sigma**2 + tau**2)
        return np.sqrt((1 - shrinkage) * self.sigma**2 + shrinkage**2 * self.mu_sd_given_tau(tau) ** 2)

    def _tau_nodes(self):
        """Gauss-Legendre nodes and normalised weights for p(tau | y), on the same pieces as `_integrate`.

        Sums over these 1,000 nodes agree with adaptive quadrature to about 1e-9 and are vectorised,
        which root finding for quantiles needs; the tail beyond the last break is mapped onto (0, 1).
        """
        if not hasattr(self, "_nodes"):
            x, w = np.polynomial.legendre.leggauss(200)
            nodes, weights = [], []
            for a, b in zip(self._breaks[:-1], self._breaks[1:]):
                nodes.append(0.5 * (b - a) * x + 0.5 * (b + a))
                weights.append(0.5 * (b - a) * w)
            u = 0.5 * (x + 1)
            nodes.append(self._breaks[-1] + u / (1 - u))
            weights.append(0.5 * w / (1 - u) ** 2)
            nodes, weights = np.concatenate(nodes), np.concatenate(weights)
            density = np.exp([self._log_unnormalised(t) - self._log_shift for t in nodes])
            self._nodes = nodes, weights * density / np.sum(weights * density)
        return self._nodes

    def theta_cdf(self, value: float, i: int) -> float:
        """P(theta_i <= value | y): the normal conditional distributions given tau, averaged over p(tau | y)."""
        nodes, weights = self._tau_nodes()
        if not hasattr(self, "_theta_moments"):
            self._theta_moments = (np.array([self.theta_given_tau(t) for t in nodes]),
                                   np.array([self.theta_sd_given_tau(t) for t in nodes]))
        means, sds = self._theta_moments
        return float(np.sum(weights * special.ndtr((value - means[:, i]) / sds[:, i])))

    def theta_interval(self, i: int, prob: float = 0.94) -> tuple[float, float]:
        """Equal-tailed `prob` interval of the exact marginal posterior of theta_i."""
        centre, spread = self.y.mean(), 10 * (np.ptp(self.y) + self.sigma.max())
        bounds = [optimize.brentq(lambda v: self.theta_cdf(v, i) - target, centre - spread, centre + spread, xtol=1e-8)
                  for target in ((1 - prob) / 2, (1 + prob) / 2)]
        return bounds[0], bounds[1]

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


def tau_quadrature(edges=(0.0, 0.5, 1.5, 3.0, 6.0, 12.0, 24.0, 60.0), per_piece=12):
    """Gauss-Legendre nodes and weights for integrals over tau, `per_piece` nodes between each pair of `edges`.

    With the default edges (noise sd 1, tau ~ HalfNormal(10)) the 84 nodes reproduce the adaptive
    quadrature of `EightSchoolsExact` to about 1e-7, where a uniform grid needs thousands of points.
    """
    x, w = np.polynomial.legendre.leggauss(per_piece)
    pieces = list(zip(edges[:-1], edges[1:]))
    nodes = np.concatenate([0.5 * (b - a) * x + 0.5 * (a + b) for a, b in pieces])
    weights = np.concatenate([0.5 * (b - a) * w for a, b in pieces])
    return nodes, weights


def posterior_mean_on_grid(y, sigma, tau_grid, mu_sd=20.0, tau_prior=None, tau_weights=None):
    """Posterior means E[theta | y] of the normal hierarchical model, for many data sets at once.

    `y` has shape (..., J): each row is one data set of J group estimates with standard
    errors `sigma` (shape (J,)). The same integrals as `EightSchoolsExact`, but summed over a
    fixed set of tau values instead of adaptive quadrature, which is vectorised and accurate
    enough for simulation studies. Either `tau_grid` is a grid, fine near 0 and reaching well
    into the tail of p(tau | y), integrated with trapezoid-like weights; or it holds quadrature
    nodes and `tau_weights` their weights (see `tau_quadrature`). Every sum over groups or grid
    points is a matrix product, so memory grows with (data sets x grid points), not with the
    number of groups as well.
    """
    tau_prior = tau_prior if tau_prior is not None else stats.halfnorm(scale=10.0)
    y = np.asarray(y, dtype=float)                                       # (..., J)
    tau = np.asarray(tau_grid, dtype=float)                              # (T,)
    inverse_v = 1.0 / (np.asarray(sigma, dtype=float) ** 2 + tau[:, None] ** 2)  # (T, J)
    precision = 1.0 / mu_sd**2 + inverse_v.sum(axis=-1)                  # (T,)
    mu_mean = (y @ inverse_v.T) / precision                              # (..., T)
    log_post = (
        0.5 * np.log(inverse_v).sum(axis=-1) - 0.5 * np.log(precision)
        - 0.5 * ((y**2) @ inverse_v.T - precision * mu_mean**2)
        + tau_prior.logpdf(tau)
    )
    # Trapezoid-like weights on a (possibly uneven) grid, unless quadrature weights are given.
    weights = np.gradient(tau) if tau_weights is None else np.asarray(tau_weights, dtype=float)
    weights = np.exp(log_post - log_post.max(axis=-1, keepdims=True)) * weights
    weights /= weights.sum(axis=-1, keepdims=True)                       # (..., T)
    # E[theta_j | y] = sum_t w_t [(1 - B_tj) y_j + B_tj m_t], with B_tj = sigma_j^2 / v_tj.
    shrinkage = np.asarray(sigma, dtype=float) ** 2 * inverse_v         # (T, J)
    return y * (weights @ (1 - shrinkage)) + (weights * mu_mean) @ shrinkage


def marginal_mle_tau(y, sigma, method: str = "REML") -> float:
    """The empirical-Bayes estimate of tau: the maximum of its marginal likelihood, theta integrated out.

    With y_i | mu, tau ~ N(mu, sqrt(sigma_i^2 + tau^2)), "ML" maximises the likelihood over mu and
    tau together (mu at its weighted mean for each tau); "REML" maximises the restricted likelihood,
    which integrates mu out under a flat prior and so accounts for estimating it. Either maximum can
    lie on the boundary tau = 0, and then exactly 0.0 is returned.
    """
    if method not in ("ML", "REML"):
        raise ValueError(f"method must be 'ML' or 'REML', not {method!r}")
    y, sigma = np.asarray(y, dtype=float), np.asarray(sigma, dtype=float)

    def log_likelihood(tau_squared):
        weights = 1.0 / (sigma**2 + tau_squared)
        mu = np.sum(weights * y) / np.sum(weights)
        value = 0.5 * np.sum(np.log(weights)) - 0.5 * np.sum(weights * (y - mu) ** 2)
        return value - 0.5 * np.log(np.sum(weights)) if method == "REML" else value

    # Search tau^2 on a grid reaching far beyond the spread of the data, then refine around the best point.
    upper = 10 * (np.var(y) + np.max(sigma**2))
    grid = np.concatenate([[0.0], np.geomspace(1e-6 * upper, upper, 400)])
    values = np.array([log_likelihood(t) for t in grid])
    best = int(np.argmax(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    refined = optimize.minimize_scalar(lambda t: -log_likelihood(t), bounds=(low, high), method="bounded",
                                       options={"xatol": 1e-10 * upper})
    if best == 0 and -refined.fun <= values[0]:
        return 0.0
    return float(np.sqrt(refined.x))
