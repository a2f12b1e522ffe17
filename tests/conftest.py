"""Fixtures shared by the tests of the built website."""
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
