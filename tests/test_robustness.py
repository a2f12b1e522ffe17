"""The seed-robustness harness (tools/robustness.py) on a tiny synthetic book: the seed reaches the
page (as BOOK_SEED, and in place of a page's own SEED), failing asserts are counted without
stopping their cell, checks are counted per case, the rates and their Clopper-Pearson intervals
are right, and a rerun continues from saved results."""
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from scipy.stats import beta

import robustness
from book_layout import ROOT

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
        format_version: 0.13
    kernelspec:
      display_name: Python 3 (ipykernel)
      language: python
      name: python3
    ---

    # A toy page
    """)

CHAPTER = HEADER + textwrap.dedent("""\

    ```{code-cell} ipython3
    from hierarchical_helpers import BOOK_SEED, setup_page

    setup_page()
    SEED = BOOK_SEED
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]

    assert SEED % 2 == 0, "fails at odd seeds"
    assert SEED % 5 != 0
    ```

    ```{code-cell} ipython3
    if SEED == 3:
        raise ValueError("this cell fails at seed 3")
    value = SEED
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]

    assert value == SEED
    for k in range(3):
        assert SEED != 7 or k < 2
    if SEED > 100:
        assert False
    ```
    """)

EXERCISE = HEADER + textwrap.dedent("""\

    ```{code-cell} ipython3
    :tags: [remove-cell, colab-setup]

    raise RuntimeError("the Colab cell is not run")
    ```

    ```{code-cell} ipython3
    from hierarchical_helpers import setup_page

    setup_page()
    # A seed of the page's own, not BOOK_SEED: the harness replaces it all the same.
    SEED = 2025
    ```

    ```{code-cell} ipython3
    ---
    tags: [solution]
    student: |
      answer = ...
    ---
    answer = 2 * SEED
    ```

    ```{code-cell} ipython3
    :tags: [check, remove-cell]

    grader.check("q1")
    ```

    ```{raw-cell}
    ---
    test: q1
    points: 1
    tags: [remove-cell]
    ---
    def test_q1_type(answer):
        assert isinstance(answer, int)
    ```

    ```{raw-cell}
    ---
    test: q1
    points: 2
    hidden: true
    tags: [remove-cell]
    ---
    def test_q1_value(answer):
        assert answer % 3 != 0, "fails when the seed is a multiple of 3"
    ```
    """)

UNSEEDED = HEADER + textwrap.dedent("""\

    ```{code-cell} ipython3
    :tags: [remove-cell]

    assert True
    ```
    """)


@pytest.fixture(scope="module")
def toy_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    for folder in ("chapters", "exercises", "solutions"):
        (root / folder).mkdir()
    shutil.copy(ROOT / "jupytext.toml", root / "jupytext.toml")
    (root / "chapters" / "toy.md").write_text(CHAPTER)
    (root / "chapters" / "resumable.md").write_text(CHAPTER)
    (root / "exercises" / "toy.md").write_text(EXERCISE)
    (root / "chapters" / "unseeded.md").write_text(UNSEEDED)
    return root


def run(toy_book, seeds, *names, state="state"):
    state, out = toy_book / state, toy_book / "out"
    robustness.main(["--seeds", str(seeds), "--state", str(state), "--out", str(out),
                     "--only", *(str(toy_book / n) for n in names)])
    return json.loads((out / "robustness.json").read_text()), (out / "robustness.md").read_text()


def cp(k, n):
    """Clopper-Pearson 95% interval from the beta quantiles, independently of scipy's binomtest."""
    return (0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1), 1.0 if k == n else beta.ppf(0.975, k + 1, n - k))


def test_counts_asserts_checks_and_intervals(toy_book, capfd):
    report, markdown = run(toy_book, 10, "chapters/toy.md", "exercises/toy.md", "chapters/unseeded.md")
    chapter = report["notebooks"]["chapters/toy.md"]
    assert chapter["runs"] == 10 and chapter["seed_not_applied"] == []
    asserts = {a["source"]: a for a in chapter["asserts"]}
    assert len(asserts) == 5

    odd = asserts['assert SEED % 2 == 0, "fails at odd seeds"']
    assert (odd["failures"], odd["runs"], odd["failed_seeds"]) == (5, 10, [1, 3, 5, 7, 9])
    assert odd["rate"] == 0.5 and odd["interval"] == pytest.approx(cp(5, 10))
    # The assert after a failing one in the same cell is still measured.
    fives = asserts["assert SEED % 5 != 0"]
    assert (fives["failures"], fives["failed_seeds"]) == (2, [5, 10])
    assert fives["interval"] == pytest.approx(cp(2, 10))
    # At seed 3 the cell defining `value` raised: the namespace is fresh at every seed, so the
    # assert on it raises NameError there (counted as a failure, "raised"), and holds elsewhere.
    uses_value = asserts["assert value == SEED"]
    assert (uses_value["failures"], uses_value["error"], uses_value["failed_seeds"]) == (1, 1, [3])
    # An assert in a loop fails at a seed if it failed on any pass.
    loop = asserts["assert SEED != 7 or k < 2"]
    assert (loop["failures"], loop["failed"], loop["failed_seeds"]) == (1, 1, [7])
    # An assert in a branch never taken is not a run.
    branch = asserts["assert False"]
    assert (branch["runs"], branch["skipped"], branch["rate"]) == (0, 10, None)
    # The cell that raised is reported, with its rate.
    assert [(c["cell"], c["failures"], c["failed_seeds"]) for c in chapter["cells"]] == [(2, 1, [3])]
    assert chapter["cells"][0]["interval"] == pytest.approx(cp(1, 10))

    exercise = report["notebooks"]["exercises/toy.md"]
    checks = {c["name"]: c for c in exercise["checks"]}
    assert set(checks) == {"test_q1_type", "test_q1_value"}
    assert (checks["test_q1_type"]["failures"], checks["test_q1_type"]["hidden"]) == (0, False)
    assert checks["test_q1_type"]["interval"] == pytest.approx(cp(0, 10))
    value = checks["test_q1_value"]
    assert (value["failures"], value["runs"], value["hidden"], value["failed_seeds"]) == (3, 10, True, [3, 6, 9])
    assert value["rate"] == pytest.approx(0.3) and value["interval"] == pytest.approx(cp(3, 10))
    assert exercise["cells"] == []  # the Colab cell and `grader.check` are not run

    # The exercise's own seed (2025, not BOOK_SEED) was replaced: its hidden check failed exactly
    # at the harness's multiples of 3, where at 2025 it would fail at every seed.
    assert exercise["seed_not_applied"] == []
    # A page that never sets SEED is flagged, not measured as a seed study.
    assert report["notebooks"]["chapters/unseeded.md"]["seed_not_applied"] == list(range(1, 11))
    assert "N = 10 seeds requested" in markdown and "did not reach this page" in markdown
    assert "| q1 | `test_q1_value` | yes | 3 / 10 | 30.0% |" in markdown


def test_a_rerun_continues_from_saved_results(toy_book, capfd):
    run(toy_book, 2, "chapters/resumable.md", state="resumed")
    capfd.readouterr()
    report, _ = run(toy_book, 4, "chapters/resumable.md", state="resumed")
    printed = capfd.readouterr().out
    assert "2 of 4 seeds saved, running 2" in printed
    assert "seed 2:" not in printed and "seed 3:" in printed and "seed 4:" in printed
    assert report["notebooks"]["chapters/resumable.md"]["runs"] == 4
    # A changed page invalidates its saved results.
    page = toy_book / "chapters" / "resumable.md"
    assert len(robustness.saved_results(page, [1, 2, 3, 4], toy_book / "resumed")) == 4
    page.write_text(page.read_text().replace("SEED % 5 != 0", "SEED % 4 != 0"))
    assert robustness.saved_results(page, [1, 2, 3, 4], toy_book / "resumed") == {}


def test_bad_notebook_names_are_refused(toy_book, capfd):
    with pytest.raises(SystemExit):
        robustness.main(["--only", "README.md"])
    assert "not a chapter page or exercise source" in capfd.readouterr().err


@pytest.mark.slow
def test_a_memoised_model_gives_the_same_draws(tmp_path):
    """Reusing nutpie's compiled model (a memo hit) gives the draws a fresh compile gives; other
    data are another model."""
    from collections import Counter

    import numpy as np
    import pymc as pm

    stats = Counter()
    robustness._install_memo(stats)

    def fit(y, seed):
        with pm.Model():
            mu = pm.Normal("mu", 0, 10)
            pm.Normal("y", mu, 1, observed=y)
            return pm.sample(draws=100, tune=100, chains=1, random_seed=seed, nuts_sampler="nutpie",
                             progressbar=False).posterior["mu"].values

    first = fit(np.array([1.0, 2.0]), 5)
    again = fit(np.array([1.0, 2.0]), 5)
    assert (stats["compiles"], stats["memo hits"]) == (1, 1)
    np.testing.assert_array_equal(first, again)
    fit(np.array([1.0, 3.0]), 5)
    assert stats["compiles"] == 2
