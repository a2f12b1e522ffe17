"""An exercise's checks, run by the grader outside the sandbox on a submission's exported answers.

The check files are otter-grader exception-based test files (the book's tools/student_materials.py writes
them): one per question, each case a function whose arguments name notebook variables. They are
loaded and scored with otter's own machinery (`otter.test_files.ExceptionTestFile`: cases, points,
`all_or_nothing`, score), but run here by a short loop of our own rather than by otter's `run`,
for two reasons: a case whose answer is missing, `...` or of an unreadable type is not run at all
and says so, and a failure is kept as its kind (the assertion's own message only when the public
check file's author wrote that message) instead of otter's text, which quotes the check's source.

Each submission's checks run in a new process forked from a server that has only imported the
libraries (multiprocessing's forkserver): a fresh process that never saw another submission,
without paying for the imports every time. It is limited in memory and time, and each case has
its own time limit.
"""
from __future__ import annotations

import ast
import copy
import json
import multiprocessing
import os
import resource
import signal
from pathlib import Path

from grader import limits

PRELOAD = ["grader.checks", "grader.answers", "numpy", "pandas", "xarray", "scipy.stats", "arviz", "otter.test_files",
           "hierarchical_helpers"]


def check_files(folder: Path) -> dict[str, Path]:
    """Question name -> check file, in question order (q1, q2, ..., q10)."""
    files = {p.stem: p for p in folder.glob("q*.py")}
    return {name: files[name] for name in sorted(files, key=lambda n: (len(n), n))}


def _case_functions(source: str) -> list[ast.FunctionDef]:
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "test_case"
                for d in node.decorator_list):
            found.append(node)
    return found


def arguments(path: Path) -> list[list[str]]:
    """The notebook variables each case of a check file takes, read with ast (nothing is run)."""
    cases = []
    for function in _case_functions(path.read_text()):
        names = [a.arg for a in function.args.posonlyargs + function.args.args + function.args.kwonlyargs]
        if "env" in names or function.args.vararg or function.args.kwarg:
            raise SystemExit(f"{path}: a check that takes `env`, *args or **kwargs needs the whole notebook; "
                             "the grader exports named variables only. Name the variables as arguments.")
        cases.append(names)
    return cases


def variable_names(folder: Path) -> list[str]:
    """Every variable any check of the exercise takes: what the sandbox exports."""
    return sorted({name for path in check_files(folder).values() for case in arguments(path) for name in case})


def authored_messages(path: Path) -> set[str]:
    """The literal messages of the `assert` statements in a (public) check file."""
    if not path.exists():
        return set()
    return {node.msg.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Assert) and isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str)}


# In the checking process ---------------------------------------------------------------------

class _CaseTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _CaseTimeout


def run_checks(export_text: str, checks: str, public_checks: str, snapshots: dict | None = None) -> list[dict]:
    """Every case of every check file on the exported answers: one dict per case, with the
    question's score from otter. A question with a snapshot (its variables exported when its
    check cell ran) is checked on that, any other on the final export. Runs in the checking process."""
    from otter.test_files import ExceptionTestFile

    from grader import answers
    from otter.test_files.abstract_test import TestCaseResult

    files = check_files(Path(checks))
    names = sorted({n for path in files.values() for case in arguments(path) for n in case})
    final = answers.read(export_text, names, limits.answer_limits())
    snapshots = snapshots or {}
    results = []
    signal.signal(signal.SIGALRM, _alarm)
    for question, path in files.items():
        test_file = ExceptionTestFile.from_file(str(path))
        messages = authored_messages(Path(public_checks) / path.name)
        values = answers.read(snapshots[question], names, limits.answer_limits()) if question in snapshots else final
        case_results = []
        for number, case in enumerate(test_file.test_cases):
            function = case.body.test_func
            arguments_ = list(function.__code__.co_varnames[:function.__code__.co_argcount])
            outcome = _run_case(function, arguments_, values, messages if not case.hidden else set())
            case_results.append(TestCaseResult(test_case=case, message="", passed=outcome["passed"]))
            results.append({"question": question, "case": number, "name": case.body.test_func.__name__,
                            "hidden": bool(case.hidden), "points": float(case.points or 0),
                            "arguments": arguments_, **outcome})
        test_file.test_case_results = case_results
        possible = float(test_file.possible)
        score = min(max(float(test_file.score), 0.0), possible)  # never more than the points possible
        for result in results:
            if result["question"] == question:
                result["question_score"], result["question_possible"] = score, possible
    return results


def _run_case(function, argument_names: list[str], values: dict, messages: set[str]) -> dict:
    from grader import answers

    for name in argument_names:
        value = values.get(name, answers.MISSING)
        if value is Ellipsis:
            return {"passed": False, "reason": "ellipsis", "variable": name}
        if value is answers.MISSING:
            return {"passed": False, "reason": "missing", "variable": name}
        if isinstance(value, answers.Unsupported):
            return {"passed": False, "reason": value.reason, "variable": name, "type": value.type_name,
                    "holds": getattr(value, "holds", "")}
    kwargs = {name: copy.deepcopy(values[name]) for name in argument_names}
    signal.alarm(limits.CASE_SECONDS)
    try:
        function(**kwargs)
    except _CaseTimeout:
        return {"passed": False, "reason": "timeout"}
    except AssertionError as error:
        text = str(error)
        return {"passed": False, "reason": "assertion", "message": text if text in messages else ""}
    except Exception as error:  # noqa: BLE001 - any failure of a check is a failed check
        return {"passed": False, "reason": "error", "error": type(error).__name__}
    finally:
        signal.alarm(0)
    return {"passed": True, "reason": "passed"}


def _child(connection, export_text: str, checks: str, public_checks: str, snapshots: dict) -> None:
    import warnings

    resource.setrlimit(resource.RLIMIT_AS, (limits.CHECKS_MEMORY, limits.CHECKS_MEMORY))
    warnings.simplefilter("ignore")  # a warning prints a check's source line on the instructor's console
    try:
        payload = {"results": run_checks(export_text, checks, public_checks, snapshots)}
    except BaseException as error:  # noqa: BLE001 - reported to the grader, which decides
        payload = {"problem": type(error).__name__}
    connection.send_bytes(json.dumps(payload).encode())
    connection.close()
    os._exit(0)


class Checker:
    """Runs checks in fresh processes forked from a server that has imported the libraries."""

    def __init__(self):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)

    def start(self) -> None:
        """Start the server now (it imports for a few seconds, in parallel with other work)."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def run(self, export_text: str, checks: Path, public_checks: Path,
            snapshots: dict | None = None) -> tuple[list[dict] | None, str | None]:
        """(case results, None), or (None, what went wrong)."""
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child, args=(send, export_text, str(checks), str(public_checks),
                                                            dict(snapshots or {})))
        process.start()
        send.close()
        payload = None
        if receive.poll(limits.CHECKS_SECONDS):
            try:
                payload = json.loads(receive.recv_bytes())
            except (EOFError, OSError, ValueError):
                payload = None
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()
        if payload is None:
            return None, "the checks did not finish"
        if "problem" in payload:
            return None, f"the checks failed ({payload['problem']})"
        return payload["results"], None
