"""The Colab set-up cells, run as a student meets them.

Colab cannot be reached from here, so this builds what matters about it: a bare virtual
environment holding nothing but a Jupyter kernel, a `google.colab` module in the kernel (Colab
imports it at start-up, and that is what the set-up cells look for), and the notebook run top to
bottom with no edits. The set-up cell then has to install every package the page needs.

Two stand-ins for GitHub, which is unreachable here: git is told to fetch the book's repository
URL from this working copy (`url.<here>.insteadOf`), and downloads from raw.githubusercontent.com
are answered from the committed files of this repository. PyPI is real.
"""
import json
import os
import re
import subprocess
import textwrap
import venv

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from book_layout import ROOT, read_lock, repository

# One chapter page (PyMC, ArviZ, glue, the shared helpers from git) and one student exercise
# (otter-grader, public checks downloaded from GitHub).
NOTEBOOKS = ["chapters/pooling-problem.ipynb", "exercises/shrinkage-arithmetic.ipynb"]
CELL_TIMEOUT = 900

COLAB_STARTUP = '''
    """Simulated Colab kernel start-up (see tests/test_colab.py)."""
    import email.message
    import io
    import subprocess
    import sys
    import urllib.request

    sys.path.insert(0, {fake_modules!r})
    import google.colab  # noqa: F401  (Colab imports it before any cell runs)

    RAW = {raw!r}


    class _RawGitHubFromThisRepository(urllib.request.BaseHandler):
        """Answers raw.githubusercontent.com for this book's repository from its git HEAD."""

        handler_order = 100  # before urllib's own HTTPS handler

        def https_open(self, request):
            url = request.full_url
            if not url.startswith(RAW):
                return None
            path = url[len(RAW):]
            show = subprocess.run(["git", "show", f"HEAD:{{path}}"], cwd={root!r}, capture_output=True)
            if show.returncode != 0:
                raise urllib.error.HTTPError(url, 404, "Not Found", {{}}, io.BytesIO())
            response = urllib.response.addinfourl(io.BytesIO(show.stdout), email.message.Message(), url, 200)
            response.msg = "OK"
            return response


    urllib.request.install_opener(urllib.request.build_opener(_RawGitHubFromThisRepository()))
'''


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory):
    """A kernel in a bare venv (only ipykernel), with google.colab importable and imported."""
    home = tmp_path_factory.mktemp("colab")
    bare = home / "venv"
    venv.EnvBuilder(with_pip=True).create(bare)
    python = bare / "bin" / "python"
    ipykernel = f"ipykernel=={read_lock()['ipykernel']}"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", ipykernel], check=True)

    fake_modules = home / "colab-modules"
    (fake_modules / "google" / "colab").mkdir(parents=True)  # `google` stays a namespace package
    (fake_modules / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')

    url, branch = repository()
    raw = url.replace("https://github.com/", "https://raw.githubusercontent.com/") + f"/{branch}/"
    ipython_dir = home / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(textwrap.dedent(COLAB_STARTUP).format(
        fake_modules=str(fake_modules), raw=raw, root=str(ROOT)))

    kernels = home / "kernels"
    (kernels / "colab-sim").mkdir(parents=True)
    (kernels / "colab-sim" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Simulated Colab", "language": "python",
        "env": {
            "IPYTHONDIR": str(ipython_dir),
            "PYTHONNOUSERSITE": "1",
            # git fetches the book's GitHub URL from this working copy.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{ROOT.as_uri()}.insteadOf",
            "GIT_CONFIG_VALUE_0": url,
            "PATH": os.environ["PATH"],
        },
    }))
    return python, KernelSpecManager(kernel_dirs=[str(kernels)])


def _pins_of(python):
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                            capture_output=True, text=True).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed)}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_on_simulated_colab(colab_kernel, notebook, tmp_path):
    python, kernel_specs = colab_kernel
    nb = nbformat.read(ROOT / notebook, as_version=4)
    kernel = KernelManager(kernel_name="colab-sim", kernel_spec_manager=kernel_specs)
    # Like Colab's /content: the notebook alone in an empty folder.
    client = NotebookClient(nb, km=kernel, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except Exception as error:  # nbclient's CellExecutionError carries the cell and traceback
        pytest.fail(f"{notebook} failed on simulated Colab:\n{str(error)[-4000:]}")

    setup = next(cell.source for cell in nb.cells if "google.colab" in cell.source)
    installed = _pins_of(python)
    for package, version in re.findall(r"([A-Za-z0-9_.-]+)==([^\s\"']+)", setup):
        assert installed.get(package.lower()) == version, (
            f"{notebook}: the set-up cell asks for {package}=={version}, the kernel has {installed.get(package.lower())}")
    if "hierarchical-helpers @ git+" in setup:
        assert "hierarchical-helpers" in installed, f"{notebook}: the shared helpers were not installed from git"
    if notebook.startswith("exercises/"):
        name = os.path.basename(notebook).removesuffix(".ipynb")
        assert any((tmp_path / "tests" / name).glob("q*.py")), "the public checks were not downloaded"
