"""The sandbox itself, probed from inside with short Python programs (no notebook, no kernel)."""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import pytest

from book_layout import ROOT
from grader import grade
from grader import sandbox

pytestmark = pytest.mark.usefixtures("sandbox_here")

SLOT_UID = random.Random().randrange(65100, 65400)


@pytest.fixture(scope="module")
def box():
    """A sandbox whose user is this test run's own, so that its leftovers could be found."""
    default, sandbox.SANDBOX_UID = sandbox.SANDBOX_UID, SLOT_UID
    yield sandbox.Sandbox(grade.readable_roots(), env=grade.sandbox_environment())
    sandbox.SANDBOX_UID = default


def run_python(box, code: str, timeout: float = 60, **kwargs) -> sandbox.Result:
    return box.run([sys.executable, "-c", code], timeout=timeout, **kwargs)


def probe(box, code: str, **kwargs) -> dict:
    """Run `code`, which fills a dict `found`, and return it."""
    program = f"import json, os, sys\nfound = {{}}\n{code}\nprint(json.dumps(found))"
    result = run_python(box, program, **kwargs)
    assert result.returncode == 0, result.log
    return json.loads(result.output.decode().strip().splitlines()[-1])


def test_the_repository_keys_checks_and_other_folders_are_unreachable(box, tmp_path):
    secret = tmp_path / "scores.csv"
    secret.write_text("the score table")
    targets = [ROOT / "solutions", ROOT / "solutions" / "tests", ROOT / "exercises", ROOT / "README.md",
               ROOT / ".git", ROOT / "tools", secret, tmp_path, Path("/etc/shadow"), Path("/etc/pip.conf")]
    home = Path.home()
    found = probe(box, f"for path in {[str(t) for t in targets]!r}:\n    found[path] = os.path.exists(path)\n"
                       "found['/work'] = sorted(os.listdir(os.path.dirname(sys.prefix)))\n"
                       f"found['home'] = os.listdir({str(home)!r}) if os.path.isdir({str(home)!r}) else []")
    assert not any(found[str(t)] for t in targets), found
    assert found["/work"] == sorted(p.name for p in grade.readable_roots() if p.parent == Path(sys.prefix).parent)
    # The user's home shows only the folders leading to this Python, if it lives there.
    leading = {root.relative_to(home).parts[0] for root in grade.readable_roots() if root.is_relative_to(home)}
    assert set(found["home"]) <= leading


def test_nothing_on_the_machine_is_writable_but_the_sandbox_s_own_memory(box, tmp_path):
    found = probe(box, """
for path in ["/usr/x", "/x", sys.prefix + "/x", os.path.dirname(sys.prefix) + "/x", "/etc/x", "/grader/x"]:
    try:
        open(path, "w").write("x")
        found[path] = "written"
    except OSError as error:
        found[path] = type(error).__name__
open("/tmp/grading-probe", "w").write("private")
open(os.path.expanduser("~/probe"), "w").write("private")
found["home"] = os.path.expanduser("~")
""")
    assert all(v != "written" for k, v in found.items() if k != "home"), found
    assert found["home"] == sandbox.HOME
    assert not Path("/tmp/grading-probe").exists()


def test_no_network_but_loopback(box):
    found = probe(box, """
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    found["internet"] = True
except OSError:
    found["internet"] = False
try:
    socket.getaddrinfo("pypi.org", 443)
    found["dns"] = True
except OSError:
    found["dns"] = False
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
found["loopback"] = True
""")
    assert found == {"internet": False, "dns": False, "loopback": True}


def test_an_unprivileged_user_with_limits(box):
    found = probe(box, """
import resource
status = open("/proc/self/status").read()
found["uid"] = os.getuid()
found["caps"] = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0]
found["no_new_privs"] = [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")][0]
found["limits"] = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE)]
found["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
""")
    limits = sandbox.Limits()
    if os.geteuid() == 0:
        assert found["uid"] == SLOT_UID
        assert found["limits"] == [limits.memory, limits.processes, limits.file_size]
    assert found["caps"] == "0000000000000000" and found["no_new_privs"] == "1"
    assert len(found["pids"]) <= 3, "the sandbox sees only its own processes"


def test_a_huge_allocation_fails_and_big_files_are_refused(box):
    found = probe(box, """
try:
    block = bytearray(6 * 1024**3)
    found["allocated"] = True
except MemoryError:
    found["allocated"] = False
try:
    with open("/tmp/big", "wb") as f:
        for _ in range(300):
            f.write(b"x" * 2**20)
    found["file"] = True
except OSError as error:
    found["file"] = type(error).__name__
""")
    assert found == {"allocated": False, "file": "OSError"}


def test_memory_of_many_processes_together_is_limited():
    small = sandbox.Sandbox(grade.readable_roots(), limits=sandbox.Limits(memory=1 << 30))
    code = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        block = bytearray(700 * 2**20)\n"
            "        block[::4096] = b'x' * len(block[::4096])\n        time.sleep(60)\ntime.sleep(60)")
    started = time.monotonic()
    result = run_python(small, code, timeout=50)
    assert result.out_of_memory and time.monotonic() - started < 30


def test_a_fork_bomb_stops_at_the_limit_and_every_process_is_killed(box):
    code = ("import os, time\nfirst = os.getpid()\nfor _ in range(64):\n    try:\n        os.fork()\n"
            "    except OSError:\n        break\nif os.getpid() == first:\n"
            "    print(len([p for p in os.listdir('/proc') if p.isdigit()]))\nelse:\n    time.sleep(600)")
    result = run_python(box, code, timeout=60)
    assert result.returncode == 0
    assert int(result.output.split()[-1]) <= sandbox.Limits().processes + 2
    time.sleep(0.5)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) == SLOT_UID]


def test_time_limit_and_detached_processes_are_killed(box):
    marker = f"sandbox-test-{os.getpid()}"
    code = (f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600) # {marker}'],"
            " start_new_session=True)\ntime.sleep(600)")
    result = run_python(box, code, timeout=5)
    assert result.timed_out
    ended = run_python(box, f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
                            f"'import time; time.sleep(600) # {marker}'], start_new_session=True)", timeout=30)
    assert ended.returncode == 0 and not ended.timed_out
    time.sleep(0.5)
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            assert marker.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            pass


def test_files_given_to_the_sandbox_and_its_output(box):
    result = run_python(box, "import os; print(open('work/answer.txt').read(), open('/grader/job.json').read(), "
                             "os.access('work/answer.txt', os.W_OK), os.access('/grader/job.json', os.W_OK))",
                        home_files={"work/answer.txt": b"42"}, grader_files={"job.json": b"{}"})
    assert result.output.decode().split() == ["42", "{}", "True", "False"]


def test_grading_refuses_without_bubblewrap(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap"))
    problem = sandbox.problem()
    assert problem and "apt-get install -y bubblewrap" in problem and "UNISOLATED=1" in problem
    with pytest.raises(SystemExit, match="Refusing to grade"):
        grade.make_runner(False, grade.readable_roots(), {})
    assert not grade.make_runner(True, grade.readable_roots(), {}).isolated


def test_the_unisolated_runner_still_limits_and_cleans_up(tmp_path):
    runner = sandbox.Unisolated(grade.readable_roots())
    result = runner.run([sys.executable, "-c", "import os; print(open('a.txt').read(), os.getcwd() != '/')"],
                        timeout=30, home_files={"a.txt": b"hi"})
    assert result.output.decode().split() == ["hi", "True"]
    assert runner.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=2).timed_out


def _uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _host_shared_memory() -> int:
    """Shmem of /proc/meminfo: tmpfs, System V segments and memfd files of the whole machine."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) * 1024
    raise LookupError("Shmem")


SHARED_MEMORY = """
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segments = []
for _ in range(3):  # three 2 GiB System V segments, touched and detached
    shmid = libc.shmget(0, 2 * 1024**3, 0o1600)
    if shmid < 0:
        found.setdefault("shmget", []).append(os.strerror(ctypes.get_errno()))
        continue
    address = libc.shmat(shmid, None, 0)
    ctypes.memset(address, 1, 2 * 1024**3)
    libc.shmdt(ctypes.c_void_p(address))
    segments.append(shmid)
found["segments"] = len(segments)
files = []
for _ in range(24):  # 24 memfd files of 256 MiB, written and unmapped
    try:
        fd = os.memfd_create("hog")
    except OSError as error:
        found.setdefault("memfd", []).append(type(error).__name__)
        continue
    os.ftruncate(fd, 256 * 2**20)
    with mmap.mmap(fd, 256 * 2**20) as view:
        view[::4096] = b"x" * len(view[::4096])
    files.append(fd)
found["memfd_files"] = len(files)
try:  # shm_open is a file in /dev/shm: bounded by that folder's size
    with open("/dev/shm/hog", "wb") as f:
        for _ in range(1024):
            f.write(b"x" * 2**20)
    found["dev_shm"] = "1 GiB written"
except OSError as error:
    found["dev_shm"] = type(error).__name__
"""


def test_shared_memory_cannot_escape_the_memory_limit(box):
    before = _host_shared_memory()
    found = probe(box, SHARED_MEMORY)
    assert found["segments"] == 0 and found["shmget"] == ["Operation not permitted"] * 3
    assert found["memfd_files"] == 0 and found["memfd"] == ["PermissionError"] * 24
    assert found["dev_shm"] == "OSError"
    # Other engineers' work moves the machine's shared memory too: a margin far below one hog.
    assert _host_shared_memory() - before < 256 * 2**20


def test_what_the_in_memory_folders_hold_counts_against_the_limit():
    small = sandbox.Sandbox(grade.readable_roots(), limits=sandbox.Limits(memory=300 << 20))
    code = ("import time\nfor name in ('a', 'b'):  # two files: one may hold at most Limits.file_size\n"
            "    with open(f'/tmp/{name}', 'wb') as f:\n        for _ in range(200):\n            f.write(b'x' * 2**20)\n"
            "print('written', flush=True)\ntime.sleep(60)")
    started = time.monotonic()
    result = run_python(small, code, timeout=50)
    assert result.out_of_memory and time.monotonic() - started < 30
