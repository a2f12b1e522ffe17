"""Fixtures shared by several test files: the built website and the grading sandbox."""
import os
import subprocess
import sys

import pytest

from book_layout import ROOT

SITES = {"main": ROOT / "_build" / "html", "student": ROOT / "_build" / "student-site" / "html"}


def _build(edition: str):
    """An edition of the website, built by the Makefile's own command (tools/build_site.py)."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), edition],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"the build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return SITES[edition]


@pytest.fixture(scope="session")
def built_site():
    """The main website (solutions collapsed), built once per test run, as `make html` builds it."""
    return _build("main")


@pytest.fixture(scope="session")
def built_student_site():
    """The student edition (no solutions), built once per test run, as `make html-student` builds it."""
    return _build("student")


@pytest.fixture
def sandbox_here():
    """Skip a test that needs the bubblewrap sandbox where it cannot run, except in CI, which sets
    REQUIRE_BUBBLEWRAP=1 (.ci/run installs bubblewrap) and must not skip these tests."""
    from grader import sandbox

    problem = sandbox.problem()
    if problem is not None:
        if os.environ.get("REQUIRE_BUBBLEWRAP"):
            pytest.fail(f"no sandbox here, and REQUIRE_BUBBLEWRAP is set: {problem}")
        pytest.skip(f"no sandbox here: {problem}")
