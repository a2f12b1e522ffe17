"""Helpers shared by several pages of "Hierarchical Models and Partial Pooling".

Only code that more than one notebook needs lives here; a page's own helpers stay in the page.
Names are imported on first use, so that `hierarchical_helpers.colab` (which must run before
anything else is imported) does not load PyMC.
"""
from importlib import import_module

# The book's one random seed: every page sets `SEED = BOOK_SEED` in its set-up cell and derives
# every draw from it, so that every run of a page gives the numbers its prose states. A page that
# needs another seed writes it out with a comment saying why (tests/test_structure.py checks both),
# and the seed-robustness harness (tools/robustness.py) replaces it to rerun pages at other seeds.
BOOK_SEED = 20261122

_HOMES = {
    "Convergence": "diagnostics", "assert_converged": "diagnostics",
    "EightSchoolsExact": "eight_schools", "eight_schools_data": "eight_schools", "eight_schools_model": "eight_schools",
    "posterior_mean_on_grid": "eight_schools",
    "exam_partial_pooling_model": "exam", "simulate_exam": "exam",
    "glue": "notebook", "glue_math": "notebook", "glue_values": "notebook", "setup_page": "notebook",
    "reader_table": "notebook", "show_code": "notebook", "tidy_table": "notebook", "watermark": "notebook",
}
__all__ = sorted([*_HOMES, "BOOK_SEED"])


def __getattr__(name):
    if name in _HOMES:
        return getattr(import_module(f"hierarchical_helpers.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'hierarchical_helpers' has no attribute {name!r}")


def __dir__():
    return __all__
