"""Resolve the book's requirements with uv: requirements.lock, environment.yml, requirements-nodeps.txt.

Usage: python tools/write_lock.py   (run by `make lock`)

requirements.lock pins every package of the development environment (pages, build, tests) for
Python 3.13. Binder's runtime-only environment is resolved from requirements-runtime.in with the
lock as a constraint, so every version it installs is the lock's: environment.yml. The packages
of requirements-nodeps.in, which Binder installs without their dependencies, are pinned to the
lock in requirements-nodeps.txt (postBuild installs them with `pip install --no-deps`). Packages already in the lock
keep their versions (uv reads a copy of the old lock as its output file, whose pins it prefers),
so adding a package does not upgrade unrelated ones; delete the lock to re-resolve everything.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, binder_environment_yml, normalise, read_lock, requirement_names  # noqa: E402

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
    pins = read_lock()
    no_deps = requirement_names(ROOT / "requirements-nodeps.in")
    missing = [name for name in no_deps if name not in pins]
    if missing:
        raise SystemExit(f"requirements-nodeps.in names {missing}, which requirements.in does not bring into the lock")
    pulled = sorted(set(no_deps) & {normalise(line.split("==")[0]) for line in runtime.splitlines() if "==" in line})
    if pulled:
        raise SystemExit(f"requirements-runtime.in pulls {pulled} with their dependencies; "
                         "list what they import instead (see requirements-nodeps.in)")
    (ROOT / "environment.yml").write_text(binder_environment_yml(runtime))
    (ROOT / "requirements-nodeps.txt").write_text(
        "# Installed by postBuild with `pip install --no-deps`: requirements-nodeps.in pinned to\n"
        "# requirements.lock by `make lock`; do not edit.\n" + "".join(f"{name}=={pins[name]}\n" for name in no_deps))
    print("wrote requirements.lock, environment.yml and requirements-nodeps.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
