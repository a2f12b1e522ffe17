"""Set-up, glued numbers and the version watermark, shared by every notebook of the book.

Everything here is plumbing a reader does not need to see: the pages call it from cells that
are hidden on the website and run as usual in Jupyter, Colab and Binder.
"""
from __future__ import annotations

import logging
import math
import numbers
import platform
import warnings
from importlib import metadata

import numpy as np

# The smallest font any figure uses, in points, and the resolution figures are drawn at. The
# website's figure test relies on both: a figure drawn FIGURE_WIDTH_INCHES wide shows its smallest
# text at MIN_FONT_POINTS * FIGURE_DPI / 72 pixels before the page scales it.
FIGURE_DPI = 150
FIGURE_WIDTH_INCHES = 7.5
MIN_FONT_POINTS = 9.5

# Significant digits kept in a glued number: what the prose prints, with room to spare, and
# far fewer than the last-digit noise that differs between CPUs and BLAS kernels.
GLUE_DIGITS = 6

# The distributions a page's results depend on, in the order the watermark prints them.
WATERMARK_PACKAGES = ("pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy", "pandas", "xarray",
                      "matplotlib")


def setup_page() -> None:
    """Prepare a notebook as every page of the book does.

    The page's random seed is not set here: the page writes it out, `SEED = BOOK_SEED`, where a
    reader sees which seed every draw comes from.

    Makes compiled arithmetic the same on every machine and in every run (see below), quietens what is not about the page (PyMC's sampler chatter, whose content the pages assert
    in code instead; PyTensor's note about a missing system BLAS, which these models do not
    need), and fixes figure geometry and fonts so that every run draws the same pixels at a
    size the website shows without shrinking the text; in IPython, every figure displayed also
    carries its phone rendition (`hierarchical_helpers.phone_figures`).
    """
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    # PyTensor compiles models to Numba with "fast math", which lets LLVM reorder and fuse
    # floating-point operations differently depending on the CPU and on whether an operation was
    # compiled afresh or loaded from PyTensor's on-disk cache. The last-digit differences grow into
    # different draws of a sensitive fit: a second run on the same machine, or a run on Colab's CPU,
    # would not reproduce the text. Strict IEEE arithmetic gives the same draws in every case
    # (measured: cold cache, warm cache, no cache and a generic CPU target all agree), at no
    # measurable cost in sampling speed.
    import pytensor

    pytensor.config.numba__fastmath = False
    logging.getLogger("pymc").setLevel(logging.CRITICAL)
    logging.getLogger("pytensor").setLevel(logging.CRITICAL)

    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": FIGURE_DPI,
        "savefig.dpi": FIGURE_DPI,
        "figure.figsize": (FIGURE_WIDTH_INCHES, 0.6 * FIGURE_WIDTH_INCHES),
        "font.size": 11,
        "axes.titlesize": 11,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 10,
        "figure.titlesize": 12,
        # Opaque white figures stay readable on the website's dark theme.
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
    })
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is not None:
        # Keep the figure's own size: "tight" cropping would change the pixels from run to run.
        shell.run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': None}")
        shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
        # Each figure also carries a narrower, taller rendition for phones (phone_figures.py).
        from hierarchical_helpers import phone_figures

        phone_figures.register(shell)


def _display_value(value):
    """A value as it should be glued: numbers rounded to GLUE_DIGITS significant digits."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if value == 0 or not math.isfinite(value):
            return value + 0.0  # no "-0.0"
        digits = GLUE_DIGITS - 1 - math.floor(math.log10(abs(value)))
        return round(value, digits) + 0.0
    return value


def glue(name: str, value, display: bool = False) -> None:
    """Store `value` under `name` for the page's text, as myst-nb's `glue` does.

    Same output format as `myst_nb.glue` (a test checks it), so the website pastes it, without
    requiring myst-nb, Sphinx and docutils in a reader's kernel on Colab or Binder. Numbers are
    rounded to GLUE_DIGITS significant digits first, so the stored text does not change with
    floating-point noise.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata_ = format_display_data(_display_value(value))
    prefix = "" if display else "application/papermill.record/"
    metadata_["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + key: data for key, data in bundle.items()}, raw=True, metadata=metadata_)


def glue_values(**values) -> None:
    """Glue several values at once, each under its keyword's name."""
    for name, value in values.items():
        glue(name, value)


def tidy_table(table, decimals=2):
    """A table rounded for reading, the same on every machine.

    `decimals` is one number for every float column, or a dict of column -> decimals (columns it
    does not name keep 2). Columns rounded to 0 decimals become integers (counts, effective
    sample sizes), and "-0.00" becomes "0.00", so that a difference that is zero up to
    floating-point noise prints the same everywhere.
    """
    import pandas as pd

    table = table.copy()
    for column in table.columns:
        if not pd.api.types.is_float_dtype(table[column]):
            continue
        places = decimals.get(column, 2) if isinstance(decimals, dict) else decimals
        rounded = table[column].round(places) + 0.0
        if places == 0 and rounded.notna().all():
            rounded = rounded.astype(int)
        table[column] = rounded
    return table


# Column names of ArviZ's summary and comparison tables, as a reader of the book says them.
READER_NAMES = {
    "hdi94_lb": "94% HDI lower", "hdi94_ub": "94% HDI upper", "ess_bulk": "ESS bulk",
    "ess_tail": "ESS tail", "r_hat": "R-hat", "mcse_mean": "MCSE of mean", "mcse_sd": "MCSE of sd",
    "elpd": "elpd (LOO)", "p": "effective parameters", "elpd_diff": "elpd difference",
    "dse": "SE of difference", "se": "SE", "p_worse": "P(worse than best)",
    "diag_diff": "difference warning", "diag_elpd": "elpd warning", "weight": "stacking weight",
}
NO_VALUE = "–"


def reader_table(table, decimals=2):
    """A table as the book shows it: `tidy_table`'s rounding, every number of a column written
    with the column's decimals (pandas would print 1.0 beside 0.98), NO_VALUE ("–") where a value
    does not exist (NaN), and ArviZ's column names replaced by READER_NAMES. For display only:
    compute with the table itself.
    """
    import pandas as pd

    table = tidy_table(table, decimals)
    for column in table.columns:
        if pd.api.types.is_float_dtype(table[column]):
            places = decimals.get(column, 2) if isinstance(decimals, dict) else decimals
            table[column] = [NO_VALUE if pd.isna(v) else f"{v:.{places}f}" for v in table[column]]
    return table.rename(columns=READER_NAMES)


def watermark() -> None:
    """Print the versions this notebook ran with: Python and the packages its results depend on."""
    versions = [f"Python {platform.python_version()}"]
    for package in WATERMARK_PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    print("Executed with " + ", ".join(versions))


def glue_math(name: str, latex: str) -> None:
    """Glue a formula, for the text to paste inside running math with `{glue:md}`.

    A number pasted with `{glue:text}` between two `$...$` pieces renders as text inside the
    formula; gluing the whole formula, `glue_math("tau_hat", rf"\\hat\\tau = {tau:.2f}")`, keeps
    it one piece of math. Paste it with `{glue:md}`tau_hat:myst`` (the `:myst` makes the website
    parse the `$...$`). Format the numbers in `latex` to the precision the text needs.
    """
    from IPython.display import Markdown

    glue(name, Markdown(f"${latex}$"))


def show_code(function):
    """Show a helper function's source as a code listing, in Jupyter, Colab, Binder and on the website.

    The book keeps models that several pages fit (and that the benchmark times) in this module, so
    that they exist once; a page shows the code it runs with this, rather than hiding it in an import.
    """
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(function), language="python")
