"""Helpers shared by several pages of "Hierarchical Models and Partial Pooling".

Only code that more than one page needs lives here; a page's own helpers stay in the page.
"""
from hierarchical_helpers.diagnostics import assert_converged
from hierarchical_helpers.exam import simulate_exam
from hierarchical_helpers.eight_schools import EightSchoolsExact, eight_schools_data, posterior_mean_on_grid

__all__ = ["assert_converged", "simulate_exam", "eight_schools_data", "EightSchoolsExact", "posterior_mean_on_grid"]
