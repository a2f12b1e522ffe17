"""Runs one submitted notebook inside the grader's sandbox and reports what happened.

Usage (by grader/grade.py, inside the sandbox): python sandbox_runner.py job.json

The job names the notebook, the variables to export (all of them, and those each question's
checks take), the time allowed, the random seed and the limits (grader/limits.py). The notebook runs top to bottom in a fresh
kernel of this Python, whatever kernel it names, with errors allowed (a raising cell is recorded
and the next one runs). Right after a cell that runs a question's check (`grader.check("q3")`),
`answers.export` writes that question's variables as plain data: its snapshot, which the grader
grades that question on, so a later cell reusing a name cannot change an earlier score (the
snapshots share one size budget; past it, a question falls back to the final state). When the
time is up, the running cell is interrupted and no further cell runs. Then `answers.export` runs
in the kernel and writes all the variables as plain data. If the kernel dies, the cells before the one that killed
it run again in a new kernel (within the same time limit) and their answers are exported. The report, one JSON document on the standard output the
grader gave this process, says for each code cell which exception it raised (by class name
only), where the run stopped, and holds the exported answers. Everything the kernel prints goes
to the standard error instead, which the grader keeps only as a diagnostic log.

Nothing here is trusted by the grader: the student's code runs as the same user and could
replace this report. It only ever describes the student's own answers.
"""
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

CHECK_CALL = re.compile(r"""grader\.check\(\s*["'](q\d+)["']\s*\)""")
SEED_CODE = "__import__('random').seed({seed}); __import__('numpy').random.seed({seed})"
EXPORT_CODE = '''
def _grader_export():
    import builtins
    namespace = {{"__name__": "_grader_answers", "__builtins__": builtins}}
    builtins.exec(builtins.compile({source!r}, "grader-answers", "exec"), namespace)
    namespace["export"](builtins.globals(), {names!r}, {path!r}, {limits!r})
_grader_export()
del _grader_export
'''


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    # The report goes to the grader's pipe; the kernel's own output to the diagnostic log.
    report_fd = os.dup(1)
    os.dup2(2, 1)
    report = {"cells": [], "stopped_at": None, "died_at": None, "export": None, "export_problem": None,
              "runner_error": None, "snapshots": {}}

    def finish():
        """Send the report and end at once: the kernel is not shut down politely (a dead or busy
        kernel can make that wait), the sandbox ends with this process and takes it along."""
        with os.fdopen(report_fd, "w") as out:
            json.dump(report, out)
        sys.stderr.flush()
        os._exit(0)

    try:
        run(job, report, finish)
    except Exception as error:  # noqa: BLE001 - reported, not raised: the grader decides
        report["runner_error"] = type(error).__name__
        print(f"runner: {error!r}", file=sys.stderr)
    finish()


def log(text: str) -> None:
    print(f"runner: {text}", file=sys.stderr, flush=True)


def run(job: dict, report: dict, finish) -> None:
    import tempfile

    import nbformat

    deadline = time.monotonic() + job["timeout"]
    home, scratch = Path.cwd(), Path(tempfile.gettempdir())  # the sandbox starts the runner in its home folder
    # Whatever kernel the notebook names, it runs in this Python.
    kernels = scratch / "grader-kernels"
    (kernels / "python3").mkdir(parents=True, exist_ok=True)
    (kernels / "python3" / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    cells = list(nbformat.read(home / job["notebook"], as_version=4).cells)
    died = session(job, cells, len(cells), deadline, report, home, scratch, kernels, record=True)
    if died is not None:
        # The kernel crashed: run the cells before the crash again in a new kernel, so that the
        # answers they define are graded, as after a timeout.
        report["died_at"] = died
        log("running the cells before the crash again")
        session(job, cells, died, deadline, report, home, scratch, kernels, record=False)
    log("done")
    finish()


def session(job, cells, stop, deadline, report, home, scratch, kernels, record) -> int | None:
    """Run cells[:stop] in a new kernel, then export. Returns the index of a cell the kernel died
    in (nothing exported then), else None."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    # The grader's own two cells (seeds, export) run after the notebook's, at their own indices.
    limits = job["limits"]  # grader/limits.py's runner_limits(): this file runs alone in the sandbox
    setup = nbformat.v4.new_code_cell(SEED_CODE.format(seed=int(job["seed"])))
    answers_source = (Path(__file__).parent / "answers.py").read_text()

    def export_cell(names):
        """A cell exporting `names`, to a file of a name nothing in the notebook can know in advance
        (a folder made where an earlier session wrote cannot block it)."""
        path = scratch / f"grader-answers-{secrets.token_hex(12)}.json"
        return nbformat.v4.new_code_cell(EXPORT_CODE.format(source=answers_source, names=list(names),
                                                            path=str(path), limits=limits["answers"])), path

    export, export_path = export_cell(job["names"])
    questions = job.get("questions", {})
    # The last place is the snapshots' (each replaces the one before: nbclient keeps outputs by index).
    nb = nbformat.v4.new_notebook(cells=[*cells, setup, export, nbformat.v4.new_code_cell("")])
    # AsyncKernelManager: with a blocking one, nbclient never notices that the kernel died.
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(scratch / "kernel"),
                                 kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = NotebookClient(
        nb, km=manager, allow_errors=True, interrupt_on_timeout=True, startup_timeout=limits["kernel_start_seconds"],
        error_on_timeout={"ename": "GraderTimeout", "evalue": "", "traceback": []},
        record_timing=False, resources={"metadata": {"path": str(home)}},
    )
    with client.setup_kernel(cwd=str(home)):
        client.timeout = limits["setup_cell_seconds"]
        client.execute_cell(setup, len(cells))
        for index, cell in enumerate(cells[:stop]):
            if cell.cell_type != "code":
                continue
            remaining = deadline - time.monotonic()
            if remaining < 1:
                report["stopped_at"] = index
                break
            client.timeout = int(remaining) + 1
            log(f"cell {index}")
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                log(f"kernel died in cell {index}")
                return index
            errors = [o.get("ename", "") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            cell.outputs = []  # the grader needs none of it; megabytes of output are dropped at once
            for question in dict.fromkeys(CHECK_CALL.findall(cell.source)):
                if question in questions and time.monotonic() < deadline:
                    if snapshot(client, nb, export_cell(questions[question]), len(cells) + 2, report, question, limits):
                        return index
            if time.monotonic() >= deadline:
                log(f"time is up in cell {index}")
                report["stopped_at"] = index
                break
            if record:
                report["cells"].append({"index": index, "error": _name(errors[0]) if errors else None})
        client.timeout = limits["export_seconds"]
        log("export")
        try:
            client.execute_cell(export, len(cells) + 1)
        except DeadKernelError:
            report["export_problem"] = "kernel died during the export"
            return None
        errors = [o.get("ename", "") for o in export.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            report["export_problem"] = f"export raised {_name(errors[0])}"
        if export_path.is_file():
            report["export"] = export_path.read_text(encoding="utf-8", errors="replace")
        return None


def snapshot(client, nb, cell_and_path, index, report, question, limits) -> bool:
    """Export one question's variables as they are now (see the module's docstring). Returns True
    if the kernel died doing it."""
    from nbclient.exceptions import DeadKernelError

    cell, path = cell_and_path
    nb.cells[index] = cell
    client.timeout = limits["export_seconds"]
    try:
        client.execute_cell(cell, index)
    except DeadKernelError:
        log(f"kernel died exporting {question}")
        return True
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        path.unlink()
    except OSError:
        text = None
    snapshots = report["snapshots"]
    used = sum(len(t) for q, t in snapshots.items() if q != question)
    if text is not None and used + len(text) <= limits["snapshot_bytes"]:
        snapshots[question] = text
    else:
        snapshots.pop(question, None)  # graded on the final state instead
    return False


def _name(text: str) -> str:
    """An exception's class name, as a plain identifier (the student's own code chose it)."""
    match = re.match(r"[A-Za-z_][A-Za-z0-9_.]{0,79}", str(text))
    return match.group(0) if match else "an error"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
