"""The maintainers' documents name no file that is not there.

README.md, CONTRIBUTING.md, GRADING.md and benchmarks/README.md name files and folders in code
spans and links. A renamed or deleted file leaves a stale pointer that sends the next maintainer
looking for something that does not exist: each named path must exist in the repository.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "CONTRIBUTING.md", "GRADING.md", "benchmarks/README.md"]
FILE_SUFFIXES = (".py", ".md", ".yml", ".yaml", ".toml", ".ipynb", ".json", ".cfg", ".in", ".lock",
                 ".js", ".css", ".cff", ".ini", ".txt", ".png", ".sh")
# Names in the documents that are not paths of this repository, each with the reason.
NOT_REPOSITORY_PATHS = {
    "hierarchical_book/phone": "a key in a notebook output's metadata",
    "results/results.json": "a file in Gradescope's own container",
    "setup.sh": "a file inside the Gradescope autograder zip",
    "submissions/section-a-shrinkage-arithmetic-scores.csv": "an example of what `make grade` writes",
}
SKIPPED_ROOTS = {".git", ".venv", "_build", "node_modules", "__pycache__"}


@functools.cache
def repository_paths() -> frozenset[str]:
    """Every file and folder of the working tree, relative to the root, folders ending in '/'."""
    found = set()
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if SKIPPED_ROOTS & set(relative.parts) or any(p.endswith(".egg-info") for p in relative.parts):
            continue
        found.add(relative.as_posix() + ("/" if path.is_dir() else ""))
    return frozenset(found)


def named_paths(text: str) -> set[str]:
    """What a document names as a path: code spans and link targets that look like one."""
    candidates = set(re.findall(r"`([^`\s]+)`", text)) | set(re.findall(r"\]\(([^)\s#]+)\)", text))
    names = set()
    for candidate in candidates:
        name = candidate.rstrip(".,:;")
        if name.startswith(("http", "_build", ".venv", "/", "$", "-", "~")):
            continue  # outside the repository, generated, or a command-line option
        if any(ch in name for ch in "<>*{}$=()[]|'\""):
            continue  # a pattern or an expression, not one path
        if name == ".ipynb" or not ("/" in name or name.endswith(FILE_SUFFIXES)):
            continue
        names.add(name)
    return names


def exists(name: str, document: Path, paths: frozenset[str]) -> bool:
    bare = name.rstrip("/")
    if (ROOT / bare).exists() or (document.parent / bare).exists():
        return True
    # A path written relative to the folder the text is about ("data/colab/" under tests/,
    # "book_pages.py" under _ext/): it must end a real path of the repository.
    return any(p.rstrip("/") == bare or p.rstrip("/").endswith("/" + bare) for p in paths)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_a_document_names_exists(document):
    path = ROOT / document
    assert path.exists(), f"{document} is one of the maintainers' documents and is missing"
    paths = repository_paths()
    missing = sorted(name for name in named_paths(path.read_text(encoding="utf-8"))
                     if name not in NOT_REPOSITORY_PATHS and not exists(name, path, paths))
    assert not missing, f"{document} names paths that do not exist: {missing}"


def test_the_exceptions_are_still_named():
    """An exception no document names any more is removed, so the list cannot grow stale."""
    named = set().union(*(named_paths((ROOT / d).read_text(encoding="utf-8")) for d in DOCUMENTS))
    assert set(NOT_REPOSITORY_PATHS) <= named, set(NOT_REPOSITORY_PATHS) - named


def test_a_stale_pointer_is_found(tmp_path):
    document = tmp_path / "GUIDE.md"
    document.write_text("Edit `tools/no_such_tool.py`, then see [the guide](CONTRIBUTING.md).")
    names = named_paths(document.read_text())
    assert names == {"tools/no_such_tool.py", "CONTRIBUTING.md"}
    paths = repository_paths()
    assert not exists("tools/no_such_tool.py", document, paths) and exists("CONTRIBUTING.md", document, paths)


def test_readme_stays_short_and_points_to_the_other_documents():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 110
    for document in DOCUMENTS[1:]:
        assert f"]({document})" in readme, f"README.md does not link {document}"
