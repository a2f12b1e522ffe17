"""Unit tests of the helpers the pages share (hierarchical_helpers)."""
import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from hierarchical_helpers import EightSchoolsExact, assert_converged, eight_schools_data
from hierarchical_helpers.colab import check_restart, replaced_modules
from hierarchical_helpers.notebook import _display_value, glue, reader_table, show_code, tidy_table


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
    return az.from_dict({"posterior": {"mu": draws}, "sample_stats": {"diverging": diverging}})


def test_assert_converged_accepts_a_good_fit_and_says_so_in_one_line():
    result = assert_converged(_fake_fit(np.random.default_rng(1)), ["mu"])
    assert result.divergences == 0 and result.min_ess > 400
    assert repr(result).startswith("converged: 0 divergences, R-hat at most 1.00") and "\n" not in repr(result)


def test_assert_converged_reads_r_hat_unrounded():
    """ArviZ's summary rounds unless asked not to: an R-hat that rounds to 1.01 but exceeds it fails."""
    # Shift the second chain until the fit's real R-hat lies in (1.0105, 1.0149): rounded to two
    # decimals, as ArviZ's summary does by default, it would read 1.01 and pass.
    low, high = 0.0, 1.0
    for _ in range(60):
        shift = (low + high) / 2
        fit = _fake_fit(np.random.default_rng(1), shift=shift)
        r_hat = float(az.rhat(fit, var_names=["mu"])["mu"])
        if r_hat < 1.0125:
            low = shift
        else:
            high = shift
    assert 1.0105 < r_hat < 1.0149 and round(r_hat, 2) == 1.01
    with pytest.raises(AssertionError, match=f"R-hat {r_hat:.4f}"):
        assert_converged(fit, ["mu"])


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


@pytest.mark.parametrize("value, shown", [
    (7.707489245005025, 7.70749), (7.7074892450050285, 7.70749), (-0.003232097386265716, -0.00323210),
    (-1e-17, -1e-17), (-0.0, 0.0), (29136.0, 29136.0), (3, 3), (np.int64(3), 3), ("Choate", "Choate"),
])
def test_glued_numbers_are_rounded_beyond_floating_point_noise(value, shown):
    glued = _display_value(value)
    assert glued == shown and type(glued) is type(shown) and str(glued) != "-0.0"


def test_glue_writes_what_myst_nb_reads(monkeypatch):
    """The helper's glue produces the same display message as myst_nb.glue, which the site reads."""
    from myst_nb import glue as myst_glue

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, **kwargs: shown.append((data, kwargs)))
    monkeypatch.setattr("myst_nb.ext.glue.ipy_display", lambda data, **kwargs: shown.append((data, kwargs)))
    glue("answer", 41.5)
    myst_glue("answer", 41.5, display=False)
    assert shown[0] == shown[1]


def test_tidy_table_rounds_counts_to_integers_and_removes_negative_zero():
    table = pd.DataFrame({"count": [29136.0, 12.0], "ess": [2718.161, 812.9], "diff": [-1e-16, 1.234567], "name": ["a", "b"]})
    tidy = tidy_table(table, decimals={"count": 0, "ess": 0})
    assert tidy["count"].tolist() == [29136, 12] and tidy["count"].dtype.kind == "i"
    assert tidy["ess"].tolist() == [2718, 813]
    assert tidy["diff"].tolist() == [0.0, 1.23] and "-0.00" not in tidy.to_string()


def test_show_code_shows_a_function_s_source():
    assert "def tidy_table(table" in show_code(tidy_table).data


class _Module:
    def __init__(self, version):
        self.__version__ = version


def test_restart_check_names_a_replaced_package(capsys):
    import numpy

    assert replaced_modules({"numpy": numpy}) == []
    assert not check_restart({"numpy": numpy}) and capsys.readouterr().out == ""
    assert check_restart({"numpy": _Module("1.0.0")})
    message = capsys.readouterr().out
    assert message.startswith("Restart the runtime") and "numpy 1.0.0 ->" in message and message.count(". ") == 0


def test_reader_table_names_columns_for_readers_and_marks_missing_values():
    import numpy as np
    import pandas as pd

    table = pd.DataFrame({"rank": [0, 1], "elpd_diff": [0.0, -0.3812], "p_worse": [np.nan, 0.981],
                          "weight": [1.0, 0.0], "diag_elpd": ["", "1 k > 0.7"]}, index=["a", "b"])
    shown = reader_table(table, decimals={"elpd_diff": 2, "p_worse": 2, "weight": 2})
    assert list(shown.columns) == ["rank", "elpd difference", "P(worse than best)", "stacking weight",
                                   "elpd warning"]
    assert shown["P(worse than best)"].tolist() == ["–", "0.98"]
    assert shown["stacking weight"].tolist() == ["1.00", "0.00"]  # one number of decimals per column
    assert shown["rank"].tolist() == [0, 1] and shown["elpd difference"].tolist() == ["0.00", "-0.38"]
    assert "NaN" not in shown.to_html()
