"""Write requirements.lock and environment.yml from a virtual environment's installed packages.

Usage: python tools/write_lock.py PATH/TO/VENV/bin/python   (run by `make lock`)
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bookkit import ROOT, environment_yml  # noqa: E402

venv_python = sys.argv[1]
version = subprocess.run([venv_python, "--version"], capture_output=True, text=True, check=True).stdout.strip()
frozen = subprocess.run(
    [venv_python, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
).stdout
header = (
    "# Exact versions of every package the book, its build and its tests use.\n"
    f"# Resolved from requirements.in by `make lock` on {version}.\n"
)
lock_text = header + "".join(sorted(frozen.splitlines(keepends=True), key=str.lower))
(ROOT / "requirements.lock").write_text(lock_text)
(ROOT / "environment.yml").write_text(environment_yml(lock_text))
print("wrote requirements.lock and environment.yml")
