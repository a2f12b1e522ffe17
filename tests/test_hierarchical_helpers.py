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


def test_assert_converged_allows_the_divergences_it_is_told_to_and_no_more():
    fit = _fake_fit(np.random.default_rng(1), divergent=3)
    assert assert_converged(fit, ["mu"], max_divergences=3).divergences == 3
    with pytest.raises(AssertionError, match="3 divergent"):
        assert_converged(fit, ["mu"], max_divergences=2)


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


def test_setup_page_sets_up_without_a_seed_and_the_book_seed_is_exported():
    """The seed lives in the page (`SEED = BOOK_SEED`), not in a set-up argument it ignored."""
    import inspect

    import pytensor

    import hierarchical_helpers
    from hierarchical_helpers import BOOK_SEED, setup_page

    assert inspect.signature(setup_page).parameters == {}
    previous = pytensor.config.numba__fastmath
    try:
        pytensor.config.numba__fastmath = True
        assert setup_page() is None
        assert pytensor.config.numba__fastmath is False  # what the call is for: strict arithmetic
    finally:
        pytensor.config.numba__fastmath = previous
    assert BOOK_SEED == 20261122 and "BOOK_SEED" in hierarchical_helpers.__all__


# ---------- Phone renditions of figures ----------

def _three_panels():
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from hierarchical_helpers.notebook import setup_page
    setup_page()
    rows = np.arange(5)
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 3.6), sharex=True, sharey=True)
    for ax, title in zip(axes, ["complete", "none", "partial"]):
        ax.plot(rows * 5 + 50, rows, "o", label="posterior mean")
        ax.plot(rows * 5 + 52, rows, "o", mfc="none", label="raw mean")
        ax.set_title(title)
    axes[0].set_yticks(rows, [f"instructor {k}" for k in rows])
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def test_phone_rendition_stacks_panels_in_one_column_at_the_phone_width():
    import matplotlib.pyplot as plt

    from hierarchical_helpers.notebook import FIGURE_DPI, MIN_FONT_POINTS
    from hierarchical_helpers.phone_figures import PHONE_WIDTH_INCHES, phone_figure, phone_png
    from matplotlib.text import Text
    from PIL import Image
    fig = _three_panels()
    phone = phone_figure(fig)
    assert tuple(fig.get_size_inches()) == (7.5, 3.6), "the page's own figure is left alone"
    assert phone.get_size_inches()[0] == PHONE_WIDTH_INCHES and phone.get_size_inches()[1] > 3.6
    boxes = [ax.get_position() for ax in phone.axes]
    assert len({round(box.x0, 3) for box in boxes}) == 1, "panels share one column"
    assert all(upper.y0 > lower.y1 for upper, lower in zip(boxes, boxes[1:])), "panels stacked, top to bottom"
    # Every panel shows its own y tick labels (sharey hid them on the inner panels).
    renderer = phone.canvas.get_renderer()
    for ax in phone.axes:
        assert [label.get_text() for label in ax.get_yticklabels() if label.get_visible()][:1] == ["instructor 0"]
        assert ax.get_tightbbox(renderer).x0 >= 0
    legend = phone.legends[0].get_window_extent(renderer)
    assert legend.x0 >= 0 and legend.x1 <= phone.bbox.width and legend.y1 < min(b.y0 for b in boxes) * phone.bbox.height
    # Same resolution and fonts: text at least MIN_FONT_POINTS, at FIGURE_DPI.
    import io
    image = Image.open(io.BytesIO(phone_png(fig)))
    assert (image.width, round(image.info["dpi"][0])) == (PHONE_WIDTH_INCHES * FIGURE_DPI, FIGURE_DPI)
    assert min(t.get_fontsize() for t in phone.findobj(Text) if t.get_text()) >= MIN_FONT_POINTS
    assert plt.get_fignums() == [fig.number], "the copy is not a pyplot figure the notebook would show"
    plt.close("all")


def test_phone_rendition_keeps_aligned_columns_and_skips_narrow_figures():
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from hierarchical_helpers.phone_figures import PHONE_WIDTH_INCHES, phone_figure
    # A forest plot's label column draws no data: the columns stay side by side, narrower.
    fig, (labels, intervals) = plt.subplots(1, 2, figsize=(7.5, 3), sharey=True)
    labels.text(0, 0, "school")
    intervals.plot([0, 1], [0, 0])
    phone = phone_figure(fig)
    left, right = (ax.get_position() for ax in phone.axes)
    assert phone.get_size_inches()[0] == PHONE_WIDTH_INCHES and left.x1 <= right.x0
    narrow, _ = plt.subplots(figsize=(PHONE_WIDTH_INCHES, 3))
    assert phone_figure(narrow) is None
    plt.close("all")


def test_every_displayed_figure_carries_its_phone_rendition_in_its_metadata():
    import base64

    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    from hierarchical_helpers import phone_figures
    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})  # as the inline backend does
        phone_figures.register(shell)
        data, metadata = shell.display_formatter.format(_three_panels())
    finally:
        InteractiveShell.clear_instance()
        plt.close("all")
    assert "image/png" in data
    phone = base64.b64decode(metadata[phone_figures.PHONE_METADATA_KEY]["image/png"])
    assert phone.startswith(b"\x89PNG")


def test_phone_rendition_wraps_long_titles_and_keeps_annotations_on_the_figure():
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from hierarchical_helpers.phone_figures import phone_figure
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    ax.hlines([0, 1, 2], [-20, -15, -1], [-10, -8, 0])
    ax.set_yticks([0, 1, 2], ["complete pooling", "no pooling", "partial pooling"])
    ax.set_title("District, one student left out: elpd_loo difference from the top model")
    ax.annotate("a label far on the right", (0, 1), textcoords="offset points", xytext=(6, 0))
    phone = phone_figure(fig)
    renderer = phone.canvas.get_renderer()
    title = phone.axes[0].title
    assert "\n" in title.get_text() and "\n" not in ax.title.get_text()
    for text in (title, *phone.axes[0].texts):
        box = text.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= phone.bbox.width, f"{text.get_text()!r} runs off the phone figure"
    plt.close("all")


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
