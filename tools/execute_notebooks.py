"""Execute the book's MyST notebooks and write each executed notebook beside its source.

Usage: python tools/execute_notebooks.py [chapters/page.md ...]   (run by `make notebooks`)

The executed `.ipynb` files are committed: Colab and Binder open them, and the tests
re-execute them with nbval and compare. A page that fails keeps its previous `.ipynb`.
"""
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, executed_notebook, kernels_run_this_python, notebook_sources  # noqa: E402

CELL_TIMEOUT = 600  # seconds; a cold PyTensor compile of a first model takes tens of seconds


def execute(source: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(source)
    # No timestamps in cell metadata: the committed notebooks should change only when results do.
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
        # One stream output per cell and stream: how a busy machine splits printing is no result.
        coalesce_streams=True,
        # Run where the executed notebook lives: an answer key in solutions/ sees all checks.
        resources={"metadata": {"path": str(executed_notebook(source).parent)}},
    )
    client.execute()
    # Stable cell ids, so that re-executing an unchanged page changes only what its outputs change.
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"
    return nb


def failed_checks(nb: nbformat.NotebookNode) -> list[str]:
    """The otter checks (`grader.check`) whose output reports a failed test case.

    An answer key runs every check, hidden ones included; a failure there means the key or the
    check is wrong, and no cell raised to say so."""
    failures = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "check" in cell.metadata.get("tags", []):
            text = "".join(output.get("data", {}).get("text/plain", "") if "data" in output else output.get("text", "")
                           for output in cell.get("outputs", []))
            if "Test case failed" in text:
                failures.append(f"{cell.source.strip()}:\n{text.strip()}")
    return failures


def main(argv):
    kernels_run_this_python()
    sources = [Path(a).resolve() for a in argv] or notebook_sources()
    failed = []
    for source in sources:
        label = source.relative_to(ROOT)
        start = time.perf_counter()
        try:
            nb = execute(source)
        except CellExecutionError as error:
            failed.append(label)
            print(f"FAILED {label}: a cell raised an error; its .ipynb was left as it was.\n{error}\n")
            continue
        if failures := failed_checks(nb):
            failed.append(label)
            print(f"FAILED {label}: the answer key fails its own checks; its .ipynb was left as it was.\n"
                  + "\n".join(failures) + "\n")
            continue
        nbformat.write(nb, executed_notebook(source))
        print(f"executed {label} in {time.perf_counter() - start:.1f} s")
    if failed:
        print("Fix the failing pages and run `make notebooks` again:", ", ".join(map(str, failed)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
