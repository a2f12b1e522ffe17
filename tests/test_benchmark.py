"""The benchmark's bookkeeping (tools/benchmark.py), without measuring anything: which notebooks the
reader's path is measured for, what a reader runs for an exercise, how an executed notebook's
timings are read, and that results.md is rendered whole from results.json."""
import contextlib
import io
import json
from datetime import datetime, timedelta, timezone

import nbformat

import benchmark
from book_layout import ROOT, exercise_sources


def page(cold, warm=10.0):
    return {"cold": {"wall_s": cold, "sampling_cells_s": []}, "warm": {"wall_s": warm, "sampling_cells_s": []}}


def test_the_reader_path_takes_the_slowest_cold_notebooks_and_skips_failed_ones():
    pages = {"chapters/a.md": page(20.0), "chapters/b.md": page(None), "exercises/c.md": page(70.0, warm=5.0),
             "exercises/d.md": page(35.5), "chapters/e.md": page(35.0, warm=60.0)}
    assert benchmark.slowest_notebooks(pages) == ["exercises/c.md", "exercises/d.md", "chapters/e.md"]
    assert benchmark.slowest_notebooks(pages, count=1) == ["exercises/c.md"]


def test_the_committed_results_name_three_slowest_notebooks_a_reader_can_run():
    pages = json.loads((ROOT / "benchmarks" / "results.json").read_text())["pages"]
    slowest = benchmark.slowest_notebooks(pages)
    assert len(slowest) == benchmark.READER_PATH_NOTEBOOKS
    for name in slowest:
        nb, described = benchmark.reader_notebook(name)
        assert benchmark.setup_commands(nb), f"{described} has no %pip install in its set-up cell"


def test_an_exercise_is_run_as_its_answer_key_with_the_student_set_up_cell():
    source = exercise_sources()[0]
    name = source.relative_to(ROOT).as_posix()
    nb, described = benchmark.reader_notebook(name)
    key = nbformat.read(ROOT / "solutions" / source.with_suffix(".ipynb").name, as_version=4)
    student = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    student_setup = next(c for c in student.cells if c.cell_type == "code" and "google.colab" in c.source)
    setup = next(c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    assert setup.source == student_setup.source
    assert "otter-grader" in setup.source and f"tests/{source.stem}" in setup.source
    assert "grader.check" in "".join(c.source for c in nb.cells), "the answer key's checks are gone"
    assert len(nb.cells) == len(key.cells)
    assert described.startswith(f"solutions/{source.stem}.ipynb")


def test_a_chapter_is_run_as_its_executed_notebook():
    nb, described = benchmark.reader_notebook("chapters/pooling-problem.md")
    committed = nbformat.read(ROOT / "chapters" / "pooling-problem.ipynb", as_version=4)
    assert described == "chapters/pooling-problem.ipynb"
    assert [c.source for c in nb.cells] == [c.source for c in committed.cells]


def executed(cells: list[tuple[str, float, float]], cpu: dict):
    """A notebook as nbclient leaves it: each code cell (source, start, end in seconds after a
    fixed instant) with its timing metadata, then the CPU probe with what it printed."""
    origin = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    stamp = lambda seconds: (origin + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")  # noqa: E731
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page")])
    for source, start, end in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["execution"] = {"iopub.execute_input": stamp(start), "shell.execute_reply": stamp(end)}
        nb.cells.append(cell)
    probe = nbformat.v4.new_code_cell(benchmark.CPU_PROBE, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=json.dumps(cpu) + "\n")])
    probe.metadata["execution"] = {"iopub.execute_input": stamp(500), "shell.execute_reply": stamp(501)}
    nb.cells.append(probe)
    return nb


def test_reader_path_timings_run_from_the_set_up_cell_to_the_last_cell_of_the_notebook():
    nb = executed([('import sys\nif "google.colab" in sys.modules:\n    %pip install pymc', 2.0, 47.5),
                   ("import pymc as pm", 47.6, 52.0), ("idata = pm.sample()", 52.1, 110.25),
                   ("watermark()", 110.3, 111.0)],
                  {"kernel_cpu_s": 98.2, "install_cpu_s": 30.4})
    assert benchmark.reader_path_timings(nb) == {"setup_cell_s": 45.5, "to_last_cell_s": 109.0,
                                                 "kernel_cpu_s": 98.2, "install_cpu_s": 30.4}


def test_the_cpu_probe_prints_what_the_timings_read():
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(benchmark.CPU_PROBE, namespace)
    cpu = json.loads(printed.getvalue())
    assert set(cpu) == {"kernel_cpu_s", "install_cpu_s"}
    assert cpu["kernel_cpu_s"] > 0 and cpu["install_cpu_s"] >= 0


def test_the_reader_path_is_rendered_with_failures_named():
    report = {"machine": "2 cores", "date": "2026-12-05", "reader_path": {
        "exercises/c.md": {"notebook": "solutions/c.ipynb with the student notebook's set-up cell",
                           "setup_cell_s": 45.5, "to_last_cell_s": 109.0, "kernel_cpu_s": 98.2,
                           "install_cpu_s": 30.4},
        "chapters/e.md": {"notebook": "chapters/e.ipynb", "error": "CellExecutionError: boom"}}}
    text = benchmark.markdown(report)
    assert "### The reader's path on simulated Colab" in text
    assert ("| `solutions/c.ipynb with the student notebook's set-up cell` | 45.5 | 109.0 | 98.2 | 30.4 |"
            in text.splitlines())
    assert "| `chapters/e.ipynb` | failed: CellExecutionError: boom | | | |" in text.splitlines()


def test_results_md_is_exactly_what_the_benchmark_renders_from_results_json():
    """The benchmark rewrites results.md whole: a section written by hand would be lost."""
    report = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert (ROOT / "benchmarks" / "results.md").read_text() == benchmark.markdown(report), (
        "benchmarks/results.md differs from what tools/benchmark.py renders from results.json: "
        "put hand-written measurements in benchmarks/README.md, and run "
        "`.venv/bin/python tools/benchmark.py --report-only`")
