"""Fixtures shared by the tests of the built website."""
import subprocess
import sys

import pytest

from book_layout import ROOT

HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def built_site():
    """The website, built once per test run by the README's own build command (no execution)."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "main"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"the build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return HTML
