"""The survey of the Dirichlet-Multinomial page: its simulation, its two models and the likelihood of alpha.

Regions r = 1..R answer one question with K categories. Region r's true answer shares are
    pi_r ~ Dirichlet(alpha * pi0),
and its counts are y_r ~ Multinomial(n_r, pi_r). The hierarchical model puts a Dirichlet(1, ..., 1)
prior on the national shares pi0 and a prior of the caller's choice on the concentration alpha.
Integrating pi_r out gives the Dirichlet-multinomial distribution of y_r given (alpha, pi0); the
"marginal" model samples only (alpha, pi0) from it, and the regional shares come back exactly
from their conjugate conditional posterior, pi_r | y_r, alpha, pi0 ~ Dirichlet(alpha * pi0 + y_r).

Region sizes, shares, concentration, seed and prior are all arguments, so that the chapter page,
the unbalanced-regions exercise and the benchmark share this code.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, logsumexp, softmax

# The chapter's survey: four answers, six regions of unequal size, the national shares and the
# concentration the regional shares are drawn with.
ANSWERS = ("strongly agree", "agree", "disagree", "strongly disagree")
REGIONS = ("North", "South", "East", "West", "Islands", "Capital")
RESPONDENTS = (45, 120, 60, 80, 35, 95)
NATIONAL_SHARES = (0.25, 0.35, 0.25, 0.15)
CONCENTRATION = 8.0


def draw_survey(rng, respondents, national_shares, concentration):
    """One survey as arrays: each region's true shares and its answer counts, drawn region by region.

    For each region in turn: shares ~ Dirichlet(concentration * national_shares), then
    counts ~ Multinomial(n_r, shares). Returns (shares, counts), both of shape (R, K).
    """
    national_shares = np.asarray(national_shares, dtype=float)
    shares, counts = [], []
    for n in np.asarray(respondents, dtype=int):
        region_shares = rng.dirichlet(concentration * national_shares)
        shares.append(region_shares)
        counts.append(rng.multinomial(n, region_shares))
    return np.array(shares), np.array(counts)


def simulate_survey(seed, respondents=RESPONDENTS, national_shares=NATIONAL_SHARES,
                    concentration=CONCENTRATION, regions=REGIONS, answers=ANSWERS):
    """Answer counts of a survey in regions of the given sizes, and the regions' true answer shares.

    Returns (counts, true_shares): two DataFrames indexed by region (rows) and answer (columns).
    """
    if len(regions) != len(respondents) or len(answers) != len(national_shares):
        raise ValueError("give one region name per region size and one answer per national share")
    shares, counts = draw_survey(np.random.default_rng(seed), respondents, national_shares, concentration)
    index = pd.Index(list(regions), name="region")
    columns = pd.Index(list(answers), name="answer")
    return pd.DataFrame(counts, index=index, columns=columns), pd.DataFrame(shares, index=index, columns=columns)


def _register_alpha(alpha_prior):
    """Add the concentration `alpha` to the model being built, with the caller's prior."""
    # A fresh copy of the `.dist()` variable, so that one prior object can serve several models.
    return pm.modelcontext(None).register_rv(alpha_prior.owner.clone().default_output(), "alpha")


def survey_model(counts: pd.DataFrame, alpha_prior) -> pm.Model:
    """The hierarchical model with every region's answer shares as parameters.

    alpha ~ alpha_prior, pi0 ~ Dirichlet(1, ..., 1), pi_r ~ Dirichlet(alpha * pi0),
    y_r ~ Multinomial(n_r, pi_r). `alpha_prior` is a positive distribution made with `.dist()`,
    for example `pm.Exponential.dist(lam=1.0)`.
    """
    coords = {"region": counts.index.tolist(), "answer": counts.columns.tolist()}
    y = counts.to_numpy()
    with pm.Model(coords=coords) as model:
        alpha = _register_alpha(alpha_prior)
        pi0 = pm.Dirichlet("pi0", a=np.ones(y.shape[1]), dims="answer")
        pi = pm.Dirichlet("pi", a=alpha * pi0, dims=("region", "answer"))
        pm.Multinomial("counts", n=y.sum(axis=1), p=pi, observed=y, dims=("region", "answer"))
    return model


def survey_marginal_model(counts: pd.DataFrame, alpha_prior) -> pm.Model:
    """The same model with the regional shares integrated out: y_r ~ DirichletMultinomial(n_r, alpha * pi0)."""
    coords = {"region": counts.index.tolist(), "answer": counts.columns.tolist()}
    y = counts.to_numpy()
    with pm.Model(coords=coords) as model:
        alpha = _register_alpha(alpha_prior)
        pi0 = pm.Dirichlet("pi0", a=np.ones(y.shape[1]), dims="answer")
        pm.DirichletMultinomial("counts", n=y.sum(axis=1), a=alpha * pi0, observed=y,
                                dims=("region", "answer"))
    return model


def regional_shares_given_hyperparameters(idata, counts: pd.DataFrame, seed) -> np.ndarray:
    """Draws of every region's shares from pi_r | y_r, alpha, pi0 ~ Dirichlet(alpha * pi0 + y_r).

    One draw per posterior draw of (alpha, pi0) in `idata` (a fit of `survey_marginal_model`);
    together they are draws from the joint posterior of the full model. Returns an array of shape
    (chain, draw, region, answer).
    """
    posterior = idata.posterior
    a = (posterior["alpha"] * posterior["pi0"]).transpose("chain", "draw", "answer").to_numpy()
    gamma = np.random.default_rng(seed).gamma(a[:, :, None, :] + counts.to_numpy()[None, None])
    return gamma / gamma.sum(axis=-1, keepdims=True)


def dirichlet_multinomial_logpmf(counts, a) -> np.ndarray:
    """log p(y | a) of the Dirichlet-multinomial, summed over regions.

    `counts` has shape (R, K); `a` has shape (..., K), the Dirichlet parameter alpha * pi0 that
    all regions share. Returns an array of shape (...).
    """
    y = np.asarray(counts, dtype=float)
    a = np.asarray(a, dtype=float)[..., None, :]                   # (..., 1, K)
    n = y.sum(axis=-1)                                               # (R,)
    total = a.sum(axis=-1)                                           # (..., 1)
    per_region = (gammaln(n + 1) - gammaln(y + 1).sum(axis=-1)
                  + gammaln(total) - gammaln(n + total)
                  + (gammaln(y + a) - gammaln(a)).sum(axis=-1))     # (..., R)
    return per_region.sum(axis=-1)


def _gauss_hermite_rule(dimension, nodes):
    """Nodes and log-weights of a product Gauss-Hermite rule for the standard normal in `dimension` dims."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    index = np.stack(np.meshgrid(*[np.arange(nodes)] * dimension, indexing="ij"), axis=-1).reshape(-1, dimension)
    return x[index], np.log(w / w.sum())[index].sum(axis=-1)


def alpha_log_likelihood(counts: pd.DataFrame, alpha, nodes: int = 12) -> np.ndarray:
    """The likelihood of alpha with the national shares integrated out, log p(y | alpha), at each alpha.

    p(y | alpha) is the integral of p(y | alpha, pi0) p(pi0) over the simplex: the regional shares
    are already integrated out (the Dirichlet-multinomial), and pi0 ~ Dirichlet(1, ..., 1) is the
    model's own prior. Multiplied by a prior density for alpha, it is proportional to alpha's exact
    posterior under that prior.

    The integral over pi0 is computed by adaptive Gauss-Hermite quadrature: write
    pi0 = softmax(0, z), find the mode of the integrand in z (Jacobian included), centre and scale a
    product rule of `nodes` points per dimension there by the Laplace approximation, and sum.
    """
    y = np.asarray(counts, dtype=float)
    k = y.shape[1]
    n = y.sum(axis=1)
    log_prior_pi0 = gammaln(k)  # the Dirichlet(1, ..., 1) density on the simplex is (K - 1)!
    points, log_weights = _gauss_hermite_rule(k - 1, nodes)
    log_normal = -0.5 * (points**2).sum(axis=-1) - 0.5 * (k - 1) * np.log(2 * np.pi)

    def shares(z):
        return softmax(np.concatenate([np.zeros(z.shape[:-1] + (1,)), z], axis=-1), axis=-1)

    def log_integrand(z, a):
        pi0 = shares(z)
        # |d(pi0_2, ..., pi0_K) / dz| = pi0_1 * ... * pi0_K for this softmax.
        return dirichlet_multinomial_logpmf(y, a * pi0) + log_prior_pi0 + np.log(pi0).sum(axis=-1)

    def gradient(z, a):
        pi0 = shares(z)
        d_a = (digamma(a) - digamma(n + a)).sum() + (digamma(y + a * pi0) - digamma(a * pi0)).sum(axis=0)
        g = a * d_a + 1 / pi0                                # d log_integrand / d pi0_k
        return (pi0 * (g - np.dot(g, pi0)))[1:]

    out = []
    z = np.log((y.sum(axis=0)[1:] + 0.5) / (y.sum(axis=0)[0] + 0.5))
    step = 1e-5
    for a in np.atleast_1d(np.asarray(alpha, dtype=float)):
        z = minimize(lambda v: -log_integrand(v, a), z, jac=lambda v: -gradient(v, a), method="BFGS",
                     options={"gtol": 1e-9}).x
        hessian = np.array([(gradient(z + e, a) - gradient(z - e, a)) / (2 * step) for e in step * np.eye(k - 1)])
        scale = np.linalg.cholesky(np.linalg.inv(-(hessian + hessian.T) / 2))
        log_terms = log_integrand(z + points @ scale.T, a) - log_normal + log_weights
        out.append(logsumexp(log_terms) + np.log(np.linalg.det(scale)))
    return np.array(out)
