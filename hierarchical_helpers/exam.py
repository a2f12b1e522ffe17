"""The simulated exam data of the first page and its partial-pooling model, reused by later pages."""
import numpy as np
import pandas as pd
import pymc as pm

INSTRUCTORS = ("Abara", "Brennan", "Castillo", "Dube", "Eklund")
SECTION_SIZES = (7, 16, 12, 19, 14)


def simulate_exam(seed, population_mean=66.0, population_sd=6.0, student_sd=12.0):
    """Exam scores of five sections of unequal size, and the true section means.

    Each instructor's true mean is drawn from the population of instructors; each student's
    score scatters around their instructor's mean. Returns (scores, true_means): a DataFrame
    with one row per student (`instructor` as a categorical, `score`) and a Series of the
    true section means indexed by instructor.
    """
    rng = np.random.default_rng(seed)
    true_means = rng.normal(loc=population_mean, scale=population_sd, size=len(INSTRUCTORS)).round(1)
    instructor_idx = np.repeat(np.arange(len(INSTRUCTORS)), SECTION_SIZES)
    scores = rng.normal(true_means[instructor_idx], student_sd).round(1)
    exam = pd.DataFrame(
        {"instructor": pd.Categorical.from_codes(instructor_idx, INSTRUCTORS), "score": scores}
    )
    return exam, pd.Series(true_means, index=pd.Index(INSTRUCTORS, name="instructor"), name="true mean")


def exam_partial_pooling_model(exam: pd.DataFrame) -> pm.Model:
    """Partial pooling of the section means: theta_i ~ N(mu, tau), written non-centred."""
    instructor_idx = exam["instructor"].cat.codes.to_numpy()
    coords = {"instructor": exam["instructor"].cat.categories.tolist(), "student": np.arange(len(exam))}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=50, sigma=25)
        tau = pm.HalfNormal("tau", sigma=10)
        z = pm.Normal("z", mu=0, sigma=1, dims="instructor")
        theta = pm.Deterministic("theta", mu + tau * z, dims="instructor")
        sigma = pm.HalfNormal("sigma", sigma=15)
        pm.Normal("score", mu=theta[instructor_idx], sigma=sigma, observed=exam["score"].to_numpy(),
                  dims="student")
    return model
