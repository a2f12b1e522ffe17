"""The sandbox's seccomp filter, run by a small BPF interpreter on made-up system calls (no sandbox)."""
from __future__ import annotations

import os
import struct

import pytest

from grader import limits, sandbox

I386 = 0x40000003
AARCH64 = 0xC00000B7


def run_filter(program: bytes, nr: int, arch: int) -> int:
    """What the kernel would return for this call: a classic-BPF interpreter for the instructions
    the filter may use (load word, jump if equal / greater or equal, return), and nothing else."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *[0] * 6)
    instructions = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    accumulator, pc = 0, 0
    for _ in range(len(instructions)):  # classic BPF only jumps forward: one pass at most
        code, jt, jf, k = instructions[pc]
        if code == sandbox.BPF_LD_W_ABS:
            accumulator = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (sandbox.BPF_JEQ_K, sandbox.BPF_JGE_K):
            true = accumulator == k if code == sandbox.BPF_JEQ_K else accumulator >= k
            pc += 1 + (jt if true else jf)
        elif code == sandbox.BPF_RET_K:
            return k
        else:
            raise AssertionError(f"instruction {code:#x} at {pc} is not one the filter should use")
    raise AssertionError("the program ran off its end")


DENY = sandbox.SECCOMP_RET_ERRNO | sandbox.EPERM


@pytest.mark.parametrize("name, nr, expected", [
    ("shmget", 29, DENY), ("shmat", 30, DENY), ("memfd_create", 319, DENY), ("memfd_secret", 447, DENY),
    ("read", 0, sandbox.SECCOMP_RET_ALLOW), ("mmap", 9, sandbox.SECCOMP_RET_ALLOW),
    ("shmdt", 67, sandbox.SECCOMP_RET_ALLOW), ("clone3", 435, sandbox.SECCOMP_RET_ALLOW),
    ("openat", 257, sandbox.SECCOMP_RET_ALLOW), ("x32 memfd_create", 0x40000000 + 319, DENY),
    ("x32 read", 0x40000000, DENY),
])
def test_the_filter_denies_shared_memory_calls_only(name, nr, expected):
    assert run_filter(sandbox.seccomp_filter(), nr, sandbox.AUDIT_ARCH_X86_64) == expected, name


@pytest.mark.parametrize("arch", [I386, AARCH64, 0])
def test_a_call_of_another_architecture_kills_the_process(arch):
    for nr in (0, 29, 117, 319):  # 117 is i386's ipc(), its shared memory multiplexer
        assert run_filter(sandbox.seccomp_filter(), nr, arch) == sandbox.SECCOMP_RET_KILL_PROCESS


def test_grading_refuses_clearly_on_another_architecture(monkeypatch):
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    # The architecture is refused whether or not bubblewrap is installed (checked first otherwise).
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: f"/usr/bin/{name}")
    problem = sandbox.problem()
    assert problem and "aarch64" in problem and "x86_64" in problem and "UNISOLATED=1" in problem


def test_two_grading_runs_lease_different_sandbox_users(monkeypatch, tmp_path):
    """Each slot of each run holds its own user, locked by a file: a second run (here a second
    lease table, as flock locks belong to an open file) skips the users the first holds."""
    monkeypatch.setattr(sandbox, "LOCK_DIR", tmp_path / "locks")
    monkeypatch.setattr(sandbox, "SANDBOX_UID", 64000 + os.getpid() % 1000)
    first, second = sandbox._UserLeases(), sandbox._UserLeases()
    uids = [first.uid(0), first.uid(1), second.uid(0), second.uid(1)]
    assert len(set(uids)) == 4 and first.uid(0) == uids[0]
    assert first.uids() == sorted(uids[:2]) and min(uids) >= sandbox.SANDBOX_UID
    first.release()
    third = sandbox._UserLeases()
    assert third.uid(0) in uids[:2]  # a released user is free again
    monkeypatch.setattr(limits, "SANDBOX_USERS", 5)
    with pytest.raises(OSError, match="in use by other grading runs"):
        for slot in range(5):
            second.uid(2 + slot)
