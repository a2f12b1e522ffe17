"""Helpers shared by several pages of "Hierarchical Models and Partial Pooling".

Only code that more than one notebook needs lives here; a page's own helpers stay in the page.
"""
from hierarchical_helpers.diagnostics import Convergence, assert_converged
from hierarchical_helpers.eight_schools import EightSchoolsExact, eight_schools_data, posterior_mean_on_grid
from hierarchical_helpers.exam import exam_partial_pooling_model, simulate_exam
from hierarchical_helpers.notebook import glue, glue_math, glue_values, setup_page, show_code, tidy_table, watermark

__all__ = [
    "Convergence", "assert_converged",
    "EightSchoolsExact", "eight_schools_data", "posterior_mean_on_grid",
    "exam_partial_pooling_model", "simulate_exam",
    "glue", "glue_math", "glue_values", "setup_page", "show_code", "tidy_table", "watermark",
]
