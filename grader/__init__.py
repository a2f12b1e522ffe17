"""The book's grader: grades a folder of submitted exercise notebooks without trusting them, each
in a bubblewrap sandbox, and builds Gradescope autograders. Its command is `book-grade`
(grader/cli.py); what goes in, what comes out and the trust model are in grader/README.md.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Run inside the sandbox as plain files (no package there): the runner, and the exporter it loads.
SANDBOX_MODULES = ("sandbox_runner.py", "answers.py")


def module_files() -> dict[str, Path]:
    """The grader's own files, by name: what its fingerprint covers and a Gradescope zip ships."""
    return {path.name: path for path in sorted(PACKAGE.glob("*.py"))}
