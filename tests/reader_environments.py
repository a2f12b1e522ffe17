"""Where readers run the book, rebuilt on this machine: Binder's image and Colab's runtime.

Neither service can be reached from here, so the tests rebuild what matters about each:

* Binder (repo2docker) installs environment.yml's pins into a fresh environment, runs postBuild in
  the repository's checkout (the reader's home folder), and starts kernels of that environment in
  each notebook's folder.
  `binder_environment()` does the same in a fresh virtual environment (uv installs the pins: the
  same packages as repo2docker's pip, faster), running postBuild on a copy of the committed files.
* Colab starts from its own preinstalled versions (tests/data/colab/) and imports google.colab,
  numpy and PIL before the first cell runs. `colab_environment()` installs Colab's versions of the
  packages that matter and of everything in the notebooks' set-up dependency trees that Colab has,
  without pulling in any package Colab lacks (its freeze is its whole environment), so a set-up
  cell downloads what it downloads on Colab;
  `colab_kernel()` adds a google.colab stand-in imported at kernel start, and answers the book's
  GitHub URLs from a local copy of the public repository (GitHub is unreachable here).

Environments are kept in _build/reader-environments/ and rebuilt when what they are built from
changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from book_layout import ROOT
from colab_setup import release
from export_public import export

ENVIRONMENTS = ROOT / "_build" / "reader-environments"
BINDER_CHECKOUT = ENVIRONMENTS / "binder-checkout"  # the reader's home folder on Binder
COLAB_DATA = Path(__file__).parent / "data" / "colab"
COLAB_FREEZE = COLAB_DATA / "pip-freeze-2026-08-19.txt"
# The packages whose Colab versions matter to the book (issue 12), always installed at Colab's version.
COLAB_PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "pymc", "pytensor", "arviz", "xarray", "numba",
                  "jax", "jaxlib", "ipykernel", "ipython", "ipywidgets", "traitlets", "pillow")
UV = Path(sys.executable).with_name("uv")


def python313() -> str:
    found = subprocess.run([str(ROOT / "tools" / "find-python")], capture_output=True, text=True,
                           env={**os.environ, "PYTHON": os.environ.get("PYTHON", "")})
    if found.returncode != 0:
        raise RuntimeError(found.stderr)
    return found.stdout.strip()


def _fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.read_bytes() if isinstance(part, Path) else str(part).encode())
    return digest.hexdigest()[:16]


def _fresh_venv(target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([python313(), "-m", "venv", str(target)], check=True)
    return target / "bin" / "python"


def _uv_install(python: Path, *args: str) -> None:
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(python), *args], check=True)


def _tracked_copy(target: Path) -> Path:
    """The committed files of the repository, as a fresh checkout has them."""
    shutil.rmtree(target, ignore_errors=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def reader_home(home: Path) -> dict[str, str]:
    """Environment variables that make `home` the reader's home folder. This machine's rustup
    proxies (pip runs `rustc --version` for its user agent) keep their own home rather than
    writing into the reader's."""
    machine_home = Path.home()
    return {"HOME": str(home),
            "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(machine_home / ".rustup")),
            "CARGO_HOME": os.environ.get("CARGO_HOME", str(machine_home / ".cargo"))}


def binder_environment() -> Path:
    """A fresh environment built from environment.yml and postBuild, as repo2docker builds it."""
    target = ENVIRONMENTS / "binder"
    helpers = sorted((ROOT / "hierarchical_helpers").glob("*.py"))
    key = _fingerprint(ROOT / "environment.yml", ROOT / "requirements-nodeps.txt", ROOT / "postBuild",
                       ROOT / "pyproject.toml", *helpers)
    python = target / "bin" / "python"
    if (target / ".built").exists() and (target / ".built").read_text() == key:
        return python
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in spec["dependencies"] if isinstance(d, str)]
    assert "python=3.13" in conda, f"environment.yml asks for {conda}; the book needs python=3.13"
    pins = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    python = _fresh_venv(target)
    _uv_install(python, *pins)
    checkout = _tracked_copy(BINDER_CHECKOUT)
    # repo2docker runs postBuild in the checkout, which is the reader's home folder, with the
    # environment's bin first on PATH.
    subprocess.run(["bash", str(checkout / "postBuild")], cwd=checkout, check=True,
                   env={**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}", "PIP_QUIET": "1",
                        **reader_home(checkout)})
    (target / ".built").write_text(key)
    return python


def _colab_freeze() -> dict[str, str]:
    """Normalised name -> `name==version` line of Colab's pip freeze."""
    freeze = {}
    for line in COLAB_FREEZE.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if match:
            freeze[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = line.strip()
    return freeze


def _compiled_names(requirements: list[str], *options: str) -> set[str]:
    """The names of everything uv resolves `requirements` to, for Python 3.13."""
    resolved = subprocess.run(
        [str(UV), "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python-version", "3.13",
         *options, "-"], input="\n".join(requirements), capture_output=True, text=True, check=True).stdout
    return {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() for line in resolved.splitlines() if "==" in line}


def colab_requirements(setup_commands: list[str], imported=()) -> list[str]:
    """Colab's preinstalled versions of the packages that matter, of the packages the notebooks
    import (`imported`, top-level module names) that Colab has, of everything the set-up
    commands' dependency trees contain that Colab has, and of those packages' own dependencies
    that Colab has. The freeze is Colab's whole environment: a dependency it lacks (IPython 7.34's
    jedi, for one) stays out, so that the set-up cell has to fetch it as it does on Colab."""
    freeze = _colab_freeze()
    wanted = [requirement for command in setup_commands for requirement in command.split()
              if "==" in requirement]
    names = _compiled_names(wanted)
    names |= set(COLAB_PACKAGES) | {re.sub(r"[-_.]+", "-", module).lower() for module in imported}
    roots = [freeze[name] for name in names if name in freeze]
    closure = _compiled_names(roots, "--constraint", str(COLAB_FREEZE))
    return sorted(freeze[name] for name in closure if name in freeze)


def colab_environment(name: str, setup_commands: list[str], imported=()) -> Path:
    """A fresh Python 3.13 environment holding what Colab has preinstalled that matters here,
    installed without dependencies: nothing Colab lacks."""
    target = ENVIRONMENTS / f"colab-{name}"
    requirements = colab_requirements(setup_commands, imported)
    python = _fresh_venv(target)
    _uv_install(python, "--no-deps", *requirements)
    # pip as Colab ships it, for the notebooks' %pip.
    pip = next(line for line in COLAB_FREEZE.read_text().splitlines() if line.startswith("pip=="))
    _uv_install(python, "--no-deps", pip)
    return python


def setup_commands(nb) -> list[str]:
    """The arguments of each `%pip install` of a notebook's Colab set-up cell."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    return re.findall(r"^\s*%pip install (.*)$", cell.source, re.MULTILINE)


def imported_modules(nb) -> set[str]:
    """The top-level modules a notebook's code cells import."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, re.MULTILINE))


def public_repository(target: Path) -> Path:
    """A local stand-in for the book's public GitHub repository: what `make public` exports,
    committed and tagged with the release the set-up cells name."""
    shutil.rmtree(target, ignore_errors=True)
    export(target)
    _, tag = release()
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "release"],
                    ["tag", tag]):
        subprocess.run(["git", "-c", "user.name=book", "-c", "user.email=book@localhost", *command],
                       cwd=target, check=True, capture_output=True)
    return target


def student_environment(extra=None) -> dict:
    """This process's environment without this machine's pip configuration (Colab has none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "JUPYTER_PATH", "OPENBLAS"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    if "PIP_CERT" in os.environ:  # this machine's proxy certificate, without which PyPI does not answer
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    return {**env, **(extra or {})}


COLAB_STARTUP = '''
    """Simulated Colab kernel start-up (tests/reader_environments.py)."""
    import email.message
    import io
    import subprocess
    import sys
    import urllib.error
    import urllib.request
    import urllib.response

    sys.path.insert(0, {fake_modules!r})
    import google.colab  # noqa: F401  (Colab imports it, and with it numpy and PIL, before any cell)

    RAW = {raw!r}


    class _RawGitHubFromLocalCopy(urllib.request.BaseHandler):
        """Answers raw.githubusercontent.com for the book's public repository from a local copy."""

        handler_order = 100  # before urllib's own HTTPS handler

        def https_open(self, request):
            url = request.full_url
            if not url.startswith(RAW):
                return None
            ref, _, path = url[len(RAW):].partition("/")
            show = subprocess.run(["git", "show", f"{{ref}}:{{path}}"], cwd={repository!r}, capture_output=True)
            if show.returncode != 0:
                raise urllib.error.HTTPError(url, 404, "Not Found", {{}}, io.BytesIO())
            response = urllib.response.addinfourl(io.BytesIO(show.stdout), email.message.Message(), url, 200)
            response.msg = "OK"
            return response


    urllib.request.install_opener(urllib.request.build_opener(_RawGitHubFromLocalCopy()))
'''

GOOGLE_COLAB_STAND_IN = {
    "__init__.py": '''"""Stand-in for Colab's google.colab: importing it imports what the real one imports."""
import numpy  # noqa: F401
import PIL.Image  # noqa: F401
''',
    # Libraries that see google.colab import its submodules too (JAX's debugger imports `output`).
    "output.py": '''"""Stand-in for google.colab.output."""\n''',
}


def colab_kernel(python: Path, home: Path, public_copy: Path, public_url: str, extra_env=None) -> Path:
    """A kernelspec folder for a simulated Colab kernel of `python`; returns the kernels folder."""
    fake_modules = home / "colab-modules"
    (fake_modules / "google" / "colab").mkdir(parents=True, exist_ok=True)  # `google` stays a namespace package
    for name, text in GOOGLE_COLAB_STAND_IN.items():
        (fake_modules / "google" / "colab" / name).write_text(text)
    raw = public_url.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/"
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text(textwrap.dedent(COLAB_STARTUP).format(
        fake_modules=str(fake_modules), raw=raw, repository=str(public_copy)))
    kernels = home / "kernels"
    (kernels / "colab-sim").mkdir(parents=True, exist_ok=True)
    (kernels / "colab-sim" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Simulated Colab", "language": "python",
        "env": {
            "IPYTHONDIR": str(home / "ipython"),
            "PYTHONNOUSERSITE": "1",
            "PIP_CACHE_DIR": str(home / "pip-cache"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # git fetches the book's public GitHub URL from the local copy.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{public_copy.as_uri()}.insteadOf",
            "GIT_CONFIG_VALUE_0": public_url,
            **(extra_env or {}),
        },
    }))
    return kernels


def kernelspec(kernels: Path, name: str, python: Path, env: dict) -> Path:
    """A plain kernelspec `name` for `python` with extra environment variables."""
    (kernels / name).mkdir(parents=True, exist_ok=True)
    (kernels / name / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python", "env": env,
    }))
    return kernels


def execute_with_kernel(nb, python: Path, kernel_name: str, folder: Path, env: dict, *, timeout: int,
                        allow_errors: bool = False):
    """Execute `nb` in place, in `folder`, with a kernel of `python` named `kernel_name`, whose
    kernelspec (under ENVIRONMENTS/kernels) adds `env` to this process's environment."""
    kernels = kernelspec(ENVIRONMENTS / "kernels", kernel_name, python, env)
    return execute_in_kernels(nb, kernels, kernel_name, folder, timeout=timeout, allow_errors=allow_errors)


def execute_in_kernels(nb, kernels: Path, kernel_name: str, folder: Path, *, timeout: int,
                       allow_errors: bool = False, launch_env: dict | None = None):
    """Execute `nb` in place, in `folder`, with the kernelspec `kernel_name` of the kernels folder
    `kernels`; the kernel starts from `launch_env` (this process's environment if None) plus its
    kernelspec's variables. Each cell's metadata records when it started and finished.

    The kernelspec is found through JUPYTER_PATH, which is restored afterwards, so the test's own
    kernels stay what they were.
    """
    from nbclient import NotebookClient

    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(kernels.parent), old or ""])
    try:
        NotebookClient(nb, kernel_name=kernel_name, timeout=timeout, allow_errors=allow_errors, record_timing=True,
                       resources={"metadata": {"path": str(folder)}}).execute(
            **({} if launch_env is None else {"env": launch_env}))
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = old
    return nb


def setup_download_bytes(python: Path, commands: list[str], env: dict) -> dict[str, int]:
    """What the set-up cell's `%pip install` commands would download into `python`'s environment.

    pip resolves each command without installing (`--dry-run --report`, which fetches only package
    metadata); each file it would download is then sized from the index's answer to a HEAD request.
    """
    import shlex
    import urllib.request

    sizes: dict[str, int] = {}
    for command in commands:
        report = python.parent.parent / "pip-report.json"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--report", str(report),
                        *shlex.split(command)], check=True, env=env, capture_output=True)
        for item in json.loads(report.read_text())["install"]:
            url = item["download_info"]["url"]
            if not url.startswith("https://") or "vcs_info" in item["download_info"]:
                continue  # the book's helpers, cloned with git: a few kB
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=60) as response:
                sizes[f"{item['metadata']['name']}=={item['metadata']['version']}"] = int(response.headers["Content-Length"])
    return sizes
