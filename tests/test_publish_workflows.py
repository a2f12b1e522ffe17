"""The public repository's GitHub Actions workflows (publish/workflows/, copied by `make public`).

They cannot run here, so this checks what can go wrong without running them: each file is a valid
GitHub workflow (GitHub's own schema, vendored by check-jsonschema), each action is one of the
standard ones pinned to a commit, and each command a workflow runs exists where it runs: the
programs are the runner's, setup-python's or installed by an earlier step of the same job, and
every file they name is in what `make public` exports (the public repository has no Makefile,
tools or tests of its own).
"""
from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from book_layout import ROOT
import export_public

WORKFLOW_FILES = sorted(export_public.WORKFLOWS.glob("*.yml"))
CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
# The only actions the workflows may use: GitHub's own, for checkout, Python and Pages.
STANDARD_ACTIONS = {"actions/checkout", "actions/setup-python", "actions/upload-pages-artifact", "actions/deploy-pages"}
# The programs a run step may start, and where each comes from on the runner.
RUNNER_PROGRAMS = {
    "python": "actions/setup-python (only `python -m pip install`)",
    "bash": "the runner (ubuntu-24.04)",
    "sed": "the runner",
    "mkdir": "the runner",
    "tar": "the runner",
    "gh": "the runner (GitHub's CLI, with the job's token)",
}
# Programs of Python packages: a step of the same job must install the package before using them.
PACKAGE_PROGRAMS = {"jupyter": "nbconvert", "linkchecker": "linkchecker"}
# What a workflow makes for itself: the release's website archive, downloaded and unpacked.
MADE_BY_THE_WORKFLOW = {"website", "website.tar.gz"}
PATH_LIKE = re.compile(r"[\w.*-]+(/[\w.*-]+)*/?")
SEPARATORS = {"&&", "||", "|", ";", "$", "(", ")"}


def load(path):
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def commands(run: str) -> list[list[str]]:
    """The simple commands of a run step, split as the shell splits them (`$(...)` included)."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found = [[]]
    for token in lexer:
        if token in SEPARATORS:
            found.append([])
        else:
            found[-1].append(token)
    return [command for command in found if command]


def binder_pins() -> dict[str, str]:
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    return dict(pin.split("==") for pin in pins)


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


@pytest.fixture(scope="module")
def exported_files(tmp_path_factory):
    """The paths of the public repository's files, as `make public` writes them."""
    out = tmp_path_factory.mktemp("public") / "public"
    export_public.export(out)
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_there_is_a_workflow_for_each_task():
    triggers = {path.name: set(load(path)["on"]) for path in WORKFLOW_FILES}
    assert triggers == {"pages.yml": {"release"}, "links.yml": {"schedule", "workflow_dispatch"},
                        "notebooks.yml": {"pull_request", "workflow_dispatch"}}
    assert load(export_public.WORKFLOWS / "pages.yml")["on"]["release"]["types"] == ["published"]


def test_every_workflow_is_valid_by_githubs_schema():
    result = subprocess.run([*CHECK_JSONSCHEMA, *map(str, WORKFLOW_FILES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    """The check above can fail: a job whose `runs-on` is misspelled is not a valid workflow."""
    broken = tmp_path / "broken.yml"
    text = (export_public.WORKFLOWS / "links.yml").read_text()
    broken.write_text(text.replace("runs-on:", "run-on:"))
    result = subprocess.run([*CHECK_JSONSCHEMA, str(broken)], capture_output=True, text=True)
    assert result.returncode == 1 and "run-on" in result.stdout, result.stdout + result.stderr


def test_every_action_is_a_standard_one_pinned_to_a_commit_and_named_by_its_release():
    pins = {}
    for path in WORKFLOW_FILES:
        for _, step in steps(load(path)):
            if "uses" not in step:
                continue
            action, _, commit = step["uses"].partition("@")
            assert action in STANDARD_ACTIONS, f"{path.name}: {action} is not one of {sorted(STANDARD_ACTIONS)}"
            assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{path.name}: {step['uses']} is not pinned to a commit"
            # The line says which release that commit is, for the maintainer who updates it.
            line = next(line for line in path.read_text().splitlines() if step["uses"] in line)
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{path.name}: {line.strip()!r} names no exact release"
            assert pins.setdefault(action, step["uses"]) == step["uses"], f"{action} is pinned to two commits"
    assert set(pins) == STANDARD_ACTIONS


@pytest.mark.slow  # the export builds the website
def test_every_command_runs_what_the_public_repository_and_its_runner_hold(exported_files):
    exported_names = exported_files | {name.split("/")[0] for name in exported_files}
    checked = 0
    for path in WORKFLOW_FILES:
        workflow = load(path)
        for job_name, job in workflow["jobs"].items():
            installed: set[str] = set()
            for step in job.get("steps", []):
                if "uses" in step and step["uses"].startswith("actions/setup-python@"):
                    assert step["with"]["python-version"] == "3.13", f"{path.name}: the book needs Python 3.13"
                for command in commands(step.get("run", "")):
                    program, arguments = command[0], command[1:]
                    where = f"{path.name}, job {job_name}: {shlex.join(command)}"
                    if program in PACKAGE_PROGRAMS:
                        assert PACKAGE_PROGRAMS[program] in installed, f"{where}: nothing installed {program}"
                    else:
                        assert program in RUNNER_PROGRAMS, f"{where}: {program} is neither the runner's nor installed"
                    if program == "python":
                        assert arguments[:3] == ["-m", "pip", "install"], where
                        for requirement in arguments[3:]:
                            name, _, version = requirement.partition("==")
                            assert version == locked()[name], f"{where}: {name} is not at the lock's version"
                            installed.add(name)
                    # `$(sed ... environment.yml)`: what Binder installs, environment.yml's pins.
                    if program == "sed" and arguments[-1] == "environment.yml":
                        installed |= set(binder_pins())
                    for argument in arguments:
                        if not PATH_LIKE.fullmatch(argument) or argument in MADE_BY_THE_WORKFLOW:
                            continue
                        if "/" in argument or "." in argument or argument in exported_names:
                            assert fnmatch.filter(exported_names, argument), (
                                f"{where}: {argument} is not in the public repository")
                            checked += 1
    # The Binder job names environment.yml, postBuild and the two folders of notebooks.
    assert checked >= 4


def test_the_binder_job_installs_exactly_environment_yml(tmp_path):
    """The workflow's sed finds every pin of environment.yml and nothing else (run here by bash)."""
    run = next(step["run"] for _, step in steps(load(export_public.WORKFLOWS / "notebooks.yml"))
               if "environment.yml" in step.get("run", ""))
    substitution = re.search(r"\$\((sed .*)\)$", run).group(1)
    result = subprocess.run(["bash", "-c", substitution], cwd=ROOT, capture_output=True, text=True, check=True)
    binder = binder_pins()
    assert result.stdout.split() == [f"{name}=={version}" for name, version in binder.items()]
    assert "nbconvert" in binder and "ipykernel" in binder


def test_the_website_archive_is_the_one_contributing_tells_to_attach():
    pages = (export_public.WORKFLOWS / "pages.yml").read_text()
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    assert "--pattern website.tar.gz" in pages
    assert "website.tar.gz" in contributing and "gh release create" in contributing
    upload = next(step for _, step in steps(load(export_public.WORKFLOWS / "pages.yml"))
                  if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "website"


@pytest.mark.slow  # the export builds the website
def test_the_export_carries_the_workflows(exported_files):
    assert {f".github/workflows/{path.name}" for path in WORKFLOW_FILES} <= exported_files
