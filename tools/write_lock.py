"""Resolve the book's requirements with uv: requirements.lock and environment.yml.

Usage: python tools/write_lock.py   (run by `make lock`)

requirements.lock pins every package of the development environment (pages, build, tests) for
Python 3.13. Binder's runtime-only environment is resolved from requirements-runtime.in with the
lock as a constraint, so every version it installs is the lock's.
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, binder_environment_yml  # noqa: E402

PYTHON_VERSION = "3.13"
UV = Path(sys.executable).with_name("uv")


def compile_requirements(source: Path, *constraints: Path) -> str:
    command = [str(UV), "pip", "compile", "--quiet", "--python-version", PYTHON_VERSION,
               "--no-header", "--no-annotate", str(source.relative_to(ROOT))]
    for constraint in constraints:
        command += ["--constraint", str(constraint.relative_to(ROOT))]
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main():
    lock = compile_requirements(ROOT / "requirements.in")
    (ROOT / "requirements.lock").write_text(
        "# Exact versions of every package the book, its build and its tests use, for Python "
        f"{PYTHON_VERSION}.\n# Resolved from requirements.in by `make lock` (uv pip compile); do not edit.\n" + lock)
    runtime = compile_requirements(ROOT / "requirements-runtime.in", ROOT / "requirements.lock")
    (ROOT / "environment.yml").write_text(binder_environment_yml(runtime))
    print("wrote requirements.lock and environment.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
