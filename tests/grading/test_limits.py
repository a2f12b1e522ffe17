"""All the grader's limits live in grader/limits.py: no other module of the package sets one."""
from __future__ import annotations

import ast

from grader import PACKAGE, limits, module_files

# Module-level numbers elsewhere that are not limits: an export format's version, the seed, and
# the constants of the seccomp BPF program (instruction codes, architecture, return values).
NOT_LIMITS = {"FORMAT", "GRADER_SEED", "BPF_LD_W_ABS", "BPF_JEQ_K", "BPF_JGE_K", "BPF_RET_K", "AUDIT_ARCH_X86_64",
              "X32_SYSCALL_BIT", "SECCOMP_RET_KILL_PROCESS", "SECCOMP_RET_ERRNO", "SECCOMP_RET_ALLOW", "EPERM"}


def _numeric(node) -> bool:
    """A number written in the code: a literal, or arithmetic of literals (4 << 30, 48 * 1024)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _numeric(node.left) and _numeric(node.right)
    if isinstance(node, ast.UnaryOp):
        return _numeric(node.operand)
    return False


def test_no_other_grader_module_sets_a_limit():
    found = []
    for name, path in module_files().items():
        if name == "limits.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) and node.value is not None else []
            value = getattr(node, "value", None)
            for target in targets:
                label = getattr(target, "id", getattr(target, "attr", ""))
                if value is not None and _numeric(value) and label.isupper() and label not in NOT_LIMITS:
                    found.append(f"{name}: {label}")
            if isinstance(node, ast.ClassDef):  # a dataclass field's default: Limits in sandbox.py
                for field in node.body:
                    if isinstance(field, ast.AnnAssign) and field.value is not None and _numeric(field.value):
                        found.append(f"{name}: {node.name}.{field.target.id}")
    assert not found, f"limits set outside grader/limits.py: {found}"


def test_the_sandbox_gets_the_limits_it_applies_in_the_job():
    runner = limits.runner_limits()
    assert runner["answers"] == limits.answer_limits()
    assert runner["export_seconds"] == limits.EXPORT_SECONDS and runner["snapshot_bytes"] == limits.SNAPSHOT_BYTES
    source = (PACKAGE / "sandbox_runner.py").read_text()
    assert all(f'limits["{key}"]' in source for key in runner), "the runner ignores a limit the job gives it"


def test_module_files_are_the_package_and_hold_the_sandbox_modules():
    from grader import SANDBOX_MODULES

    files = module_files()
    assert set(files) == {p.name for p in PACKAGE.glob("*.py")} and set(SANDBOX_MODULES) <= set(files)
