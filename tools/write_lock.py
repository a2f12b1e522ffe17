"""Resolve the book's requirements with uv: requirements.lock and environment.yml.

Usage: python tools/write_lock.py   (run by `make lock`)

requirements.lock pins every package of the development environment (pages, build, tests) for
Python 3.13. Binder's runtime-only environment is resolved from requirements-runtime.in with the
lock as a constraint, so every version it installs is the lock's. Packages already in the lock
keep their versions (uv reads a copy of the old lock as its output file, whose pins it prefers),
so adding a package does not upgrade unrelated ones; delete the lock to re-resolve everything.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, binder_environment_yml  # noqa: E402

PYTHON_VERSION = "3.13"
UV = Path(sys.executable).with_name("uv")


def compile_requirements(source: Path, *constraints: Path, preferences: Path | None = None) -> str:
    command = [str(UV), "pip", "compile", "--quiet", "--python-version", PYTHON_VERSION,
               "--no-header", "--no-annotate", str(source.relative_to(ROOT))]
    for constraint in constraints:
        command += ["--constraint", str(constraint.relative_to(ROOT))]
    if preferences is None or not preferences.exists():
        return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as scratch:
        resolved = Path(scratch) / "resolved.txt"
        shutil.copyfile(preferences, resolved)
        subprocess.run(command + ["--output-file", str(resolved)], cwd=ROOT, check=True,
                       capture_output=True, text=True)
        return "".join(line for line in resolved.read_text().splitlines(keepends=True)
                       if not line.startswith("#"))


def main():
    lock = compile_requirements(ROOT / "requirements.in", preferences=ROOT / "requirements.lock")
    (ROOT / "requirements.lock").write_text(
        "# Exact versions of every package the book, its build and its tests use, for Python "
        f"{PYTHON_VERSION}.\n# Resolved from requirements.in by `make lock` (uv pip compile); do not edit.\n" + lock)
    runtime = compile_requirements(ROOT / "requirements-runtime.in", ROOT / "requirements.lock")
    (ROOT / "environment.yml").write_text(binder_environment_yml(runtime))
    print("wrote requirements.lock and environment.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
