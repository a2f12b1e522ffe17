"""Run an untrusted command in a bubblewrap sandbox: what the grader runs each submission in.

The sandbox sees a read-only system (/usr and a few files of /etc), this Python installation
read-only (the virtual environment, the interpreter it was made from and, for an editable
install, the helper package's source folder), and nothing else of the machine: not the
repository, the answer keys, the hidden checks, other submissions or the score table. What it
may write is in memory and private to it: its home folder (holding a copy of the submission), /tmp
and /dev/shm, each of a bounded size. It has no network (a loopback interface only), its own
process, IPC and host-name namespaces, and a new session. Its processes run as an unprivileged
user with no capabilities and `no_new_privs`, under limits on address space, processes, CPU
time, file size and open files; a watchdog outside adds a wall-clock limit and a limit on the
memory of the whole process tree, counting what its in-memory folders hold.

Memory that belongs to no process escapes that count: System V shared memory and `memfd_create`
files (a file in /dev/shm is bounded by its folder's size). A seccomp filter (SECCOMP_FILTER
below, given to bubblewrap with --seccomp) makes those system calls fail with EPERM. It is a
short BPF program written here rather than built with libseccomp: libseccomp's Python bindings
are not on PyPI for this Python (Debian's are for the system Python; `pyseccomp`, a ctypes
wrapper, has not been released since 2021), and the program is eleven instructions. It is for
x86_64 only: on another architecture the sandbox refuses to start and says so (`problem()`). When the command ends, fails or is stopped, every process of
the sandbox is killed: the sandbox is a PID namespace whose first process is killed with it.

Two ways to get there, chosen automatically:
  * run as root (CI, Gradescope): bubblewrap builds the sandbox as root (so it can read a Python
    installed under /root), and before anything else runs, `setpriv` switches to a dedicated user
    which owns nothing on the machine. Each slot (sandboxes running at the same time) of each
    grading run leases its own user from SANDBOX_UID (default 65432, or $GRADER_SANDBOX_UID)
    upwards: the first of SANDBOX_USERS (grader/limits.py) users whose lock file (in LOCK_DIR) no other process holds
    locked and which runs no process. So two grading runs at once never share a user, and one
    run's processes never count against another's process limit;
  * run as an ordinary user (an instructor's laptop): bubblewrap makes a user namespace, which
    also forbids further user namespaces inside (--disable-userns); the processes keep the
    instructor's user id outside the sandbox, and the mount namespace is what hides their files.

This module uses only the standard library.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import limits as _limits

BWRAP = os.environ.get("GRADER_BWRAP") or "bwrap"
SANDBOX_UID = int(os.environ.get("GRADER_SANDBOX_UID", "65432"))
HOME = "/home/student"  # the submission's working folder inside the sandbox
GRADER_DIR = "/grader"  # the grader's own read-only files inside the sandbox
INSTALL_HINT = ("Install bubblewrap (Debian/Ubuntu: `sudo apt-get install -y bubblewrap`; Fedora: "
                "`sudo dnf install bubblewrap`), or grade without isolation, trusting every submission, "
                "with UNISOLATED=1 (`--unisolated`).")
LOCK_DIR = Path(os.environ.get("GRADER_LOCK_DIR") or Path(tempfile.gettempdir()) / "grader-sandbox-users")


@dataclasses.dataclass
class Limits:
    """One sandbox's limits: by default grader/limits.py's."""

    memory: int = _limits.SANDBOX_MEMORY  # address space per process, and resident memory of the whole tree
    processes: int = _limits.SANDBOX_PROCESSES  # processes and threads of the sandbox's user
    file_size: int = _limits.SANDBOX_FILE_SIZE  # largest file a process may write (also caps the output)
    home_size: int = _limits.SANDBOX_HOME_SIZE  # the writable home folder, in memory
    tmp_size: int = _limits.SANDBOX_TMP_SIZE  # /tmp, in memory
    shm_size: int = _limits.SANDBOX_SHM_SIZE  # /dev/shm, in memory
    open_files: int = _limits.SANDBOX_OPEN_FILES


@dataclasses.dataclass
class Result:
    returncode: int | None  # None when the sandbox was stopped
    output: bytes  # the command's standard output (at most Limits.file_size)
    log: str  # the end of its standard error, for the instructor's diagnosis only
    seconds: float
    timed_out: bool = False
    out_of_memory: bool = False
    start_failed: bool = False


def python_roots() -> list[Path]:
    """Folders this interpreter needs: its environment and the installation it was made from."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return sorted(roots)


def _place(text: str, **places: str) -> str:
    """`{home}`, `{grader}` and `{tmp}` in a command or environment value, replaced (nothing else)."""
    for name, path in places.items():
        text = text.replace("{" + name + "}", path)
    return text


def _merged_usr() -> bool:
    return all(Path(p).is_symlink() for p in ("/bin", "/lib"))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _user_files(uid: int, gid: int) -> dict[str, bytes]:
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{uid}:{gid}:student:{HOME}:/bin/sh\n"
                       f"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".encode(),
        "/etc/group": f"root:x:0:\nstudent:x:{gid}:\nnogroup:x:65534:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost sandbox\n::1 localhost\n",
    }


# The seccomp filter --------------------------------------------------------------------------
# The kernel runs it on every system call with `struct seccomp_data` as its input:
#   offset 0: int nr (the call's number), offset 4: u32 arch (AUDIT_ARCH_*), then the pointer and
#   arguments, which this filter does not read.
# Each instruction is `struct sock_filter {u16 code; u8 jt; u8 jf; u32 k;}`: a conditional jump
# skips jt instructions when true and jf when false.

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load the 32-bit word at offset k
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K: return k
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000  # x32 ABI calls: the same numbers with this bit set
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000  # | errno
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1
# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl): what allocates memory no process maps.
DENIED_SYSCALLS = {"shmget": 29, "shmat": 30, "memfd_create": 319, "memfd_secret": 447}


def seccomp_filter() -> bytes:
    """The BPF program bubblewrap installs before the sandbox's first process starts (x86_64)."""
    import struct

    deny_at = 5 + len(DENIED_SYSCALLS) + 1  # index of the EPERM return, the last instruction
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # 0: A = arch
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),  # 1: x86_64 -> 3, else -> 2
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),  # 2: a 32-bit (int 0x80) call: no such code here
        (BPF_LD_W_ABS, 0, 0, 0),  # 3: A = nr
        (BPF_JGE_K, deny_at - 5, 0, X32_SYSCALL_BIT),  # 4: any x32 call -> EPERM
    ]
    for number in DENIED_SYSCALLS.values():
        program.append((BPF_JEQ_K, deny_at - len(program) - 1, 0, number))
    program += [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM)]
    assert len(program) == deny_at + 1
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def architecture_problem() -> str | None:
    """Why the seccomp filter cannot be used on this machine (None on x86_64)."""
    import platform

    machine = platform.machine()
    if machine in ("x86_64", "AMD64") and sys.maxsize > 2**32:
        return None
    return (f"this machine is {machine}, and the grader's seccomp filter (which stops shared memory "
            "from escaping the memory limit) is written for x86_64 only. Grade on an x86_64 machine, "
            "or with UNISOLATED=1 (`--unisolated`) for trusted notebooks.")


class _UserLeases:
    """The sandbox users this process holds, one per slot, each locked (flock) for its lifetime."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.held: dict[int, tuple[int, int]] = {}  # slot -> (uid, locked file descriptor)

    def uid(self, slot: int) -> int:
        import fcntl

        with self.lock:
            if slot in self.held:
                return self.held[slot][0]
            LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            taken = {uid for uid, _ in self.held.values()}
            for uid in range(SANDBOX_UID, SANDBOX_UID + _limits.SANDBOX_USERS):
                if uid in taken:
                    continue
                fd = os.open(LOCK_DIR / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                if _process_count(uid):  # a leftover of a run that held it: never share a user
                    os.close(fd)
                    continue
                self.held[slot] = (uid, fd)
                return uid
        raise OSError(f"all {_limits.SANDBOX_USERS} sandbox users from {SANDBOX_UID} are in use by other grading runs "
                      f"(lock files in {LOCK_DIR}); wait for one to end, or set GRADER_SANDBOX_UID to "
                      "another range")

    def uids(self) -> list[int]:
        with self.lock:
            return sorted(uid for uid, _ in self.held.values())

    def release(self) -> None:
        with self.lock:
            for _, fd in self.held.values():
                os.close(fd)
            self.held.clear()


class _Runner:
    """What the sandbox and the unisolated runner share: limits, supervision, clean-up."""

    isolated = True

    def __init__(self, readable: list[Path], limits: Limits | None = None, env: dict[str, str] | None = None):
        self.readable = sorted({Path(p).resolve() for p in readable})
        self.limits = limits or Limits()
        self.env = env or {}
        self.as_root = os.geteuid() == 0
        self.leases = _UserLeases()

    def uid(self, slot: int = 0) -> int:
        """The user the sandboxes of this slot run as (as root: leased, see the module's docstring)."""
        return self.leases.uid(slot) if self.as_root else os.getuid()

    def users(self) -> list[int]:
        """The sandbox users this runner has leased so far."""
        return self.leases.uids()

    def _environment(self, home: str, grader: str, tmp: str) -> dict[str, str]:
        env = {"PATH": f"{Path(sys.prefix)}/bin:/usr/bin:/bin", "HOME": home, "USER": "student",
               "LOGNAME": "student", "LANG": "C.UTF-8", "TMPDIR": tmp, **self.env}
        return {key: _place(value, home=home, grader=grader, tmp=tmp) for key, value in env.items()}

    def _preexec(self, extra_processes: int, cpu_seconds: int):
        limits = self.limits

        def apply():
            os.setsid()
            os.umask(0o022)  # what the sandbox's own files and folders are created with
            for kind, value in ((resource.RLIMIT_AS, limits.memory), (resource.RLIMIT_FSIZE, limits.file_size),
                                (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0),
                                (resource.RLIMIT_CPU, cpu_seconds),
                                (resource.RLIMIT_NPROC, limits.processes + extra_processes)):
                resource.setrlimit(kind, (value, value))
        return apply

    def _supervise(self, args: list[str], *, timeout: float, fds: list[int], cwd: str | None,
                   env: dict[str, str] | None, private: Path, extra_processes: int) -> Result:
        out_path, err_path = private / "out", private / "err"
        started = time.monotonic()
        cpu_seconds = int(timeout) * (os.cpu_count() or 1) + _limits.CPU_SECONDS_MARGIN
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=fds, close_fds=True,
                    # CPU time is a backstop only (the wall clock is the limit): all cores, all the time.
                    cwd=cwd, env=env, preexec_fn=self._preexec(extra_processes, cpu_seconds),
                )
        except OSError as error:
            return Result(None, b"", f"could not start {args[0]}: {error}", 0.0, start_failed=True)
        finally:
            for fd in fds:
                os.close(fd)
        watch = _Watchdog(process.pid, self.limits.memory)
        timed_out = out_of_memory = False
        while process.poll() is None:
            time.sleep(0.2)
            if time.monotonic() - started > timeout:
                timed_out = True
            elif watch.memory() > self.limits.memory:
                out_of_memory = True
            if timed_out or out_of_memory:
                break
        watch.kill_all()
        process.wait()
        output = out_path.read_bytes()[: self.limits.file_size]
        log = err_path.read_bytes()[-_limits.SANDBOX_LOG_BYTES:].decode(errors="replace")
        return Result(None if (timed_out or out_of_memory) else process.returncode, output, log,
                      time.monotonic() - started, timed_out=timed_out, out_of_memory=out_of_memory)


class Sandbox(_Runner):
    """One configuration of the sandbox; `run` starts a fresh one for each command."""

    def run(self, command: list[str], *, timeout: float, home_files: dict[str, bytes] | None = None,
            grader_files: dict[str, bytes] | None = None, binds: dict[str, tuple[Path, bool]] | None = None,
            slot: int = 0) -> Result:
        """Run `command` in a fresh sandbox, with `home_files` copied into its home folder.

        `grader_files` appear read-only in /grader; `binds` maps a path inside to an outside
        folder and whether it is writable (only ever for the grader's own trusted warm-up).
        `{home}`, `{grader}` and `{tmp}` in the command and the environment name those folders.
        Never raises for anything the command does; Result.start_failed says the sandbox itself
        could not be made. Sandboxes running at the same time use different `slot`s: as root, each
        slot has its own leased user, so one sandbox's processes never count against another's limit.
        """
        if self.as_root:
            try:
                uid = gid = self.uid(slot)
            except OSError as error:
                return Result(None, b"", f"could not prepare the sandbox: {error}", 0.0, start_failed=True)
        else:
            uid, gid = os.getuid(), os.getgid()
        extra = 0 if self.as_root else _process_count(os.getuid())
        fds: list[int] = []
        info_read, info_write = os.pipe()
        fds.append(info_write)
        binds = binds or {}
        places = {"home": HOME, "grader": GRADER_DIR, "tmp": "/tmp"}
        with tempfile.TemporaryDirectory(prefix="sandbox-") as private:
            try:
                args = self._arguments(fds, home_files or {}, grader_files or {}, binds, uid, gid)
                args[1:1] = ["--info-fd", str(info_write)]
                writable = [inside for inside, (_, can_write) in binds.items() if can_write]
                args += self._drop_privileges(uid, gid, [HOME, *writable]) or ["--"]
                args += [_place(part, **places) for part in command]
            except OSError as error:
                for fd in fds:
                    os.close(fd)
                os.close(info_read)
                return Result(None, b"", f"could not prepare the sandbox: {error}", 0.0, start_failed=True)
            result = self._supervise(args, timeout=timeout, fds=fds, cwd=None, env=None, private=Path(private),
                                     extra_processes=extra)
        with os.fdopen(info_read, "rb") as info:
            result.start_failed = result.start_failed or (b"child-pid" not in info.read(4096) and not result.timed_out)
        return result

    def _arguments(self, fds: list[int], home_files: dict[str, bytes], grader_files: dict[str, bytes],
                   binds: dict[str, tuple[Path, bool]], uid: int, gid: int) -> list[str]:
        limits = self.limits
        args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-net",
                "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        seccomp = _memfd("seccomp", seccomp_filter())
        fds.append(seccomp)
        args += ["--seccomp", str(seccomp)]
        if not self.as_root:
            args += ["--unshare-user", "--disable-userns"]
        args += ["--clearenv"]
        for key, value in self._environment(HOME, GRADER_DIR, "/tmp").items():
            args += ["--setenv", key, value]
        # bubblewrap makes missing parent folders of a mount point as private as the mounted
        # file's mode; every folder on the way is made explicitly, world-readable, instead.
        made = set()

        def folders(path: str) -> list[str]:
            made_now = []
            for parent in reversed(Path(path).parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    made_now += ["--perms", "0755", "--dir", str(parent)]
            return made_now

        args += ["--ro-bind", "/usr", "/usr"]
        if _merged_usr():
            for name in ("bin", "lib", "lib64", "sbin"):
                if Path(f"/{name}").is_symlink():
                    args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        else:
            for name in ("/bin", "/lib", "/lib64", "/sbin"):
                if Path(name).is_dir():
                    args += ["--ro-bind", name, name]
        for name in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                     "/etc/localtime", "/etc/nsswitch.conf", "/etc/fonts"):
            if Path(name).exists():
                args += folders(name) + ["--ro-bind", name, name]

        def data(path: str, content: bytes, flag: str, perms: str):
            fd = _memfd(Path(path).name, content)
            fds.append(fd)
            return folders(path) + ["--perms", perms, flag, str(fd), path]

        for path, content in _user_files(uid, gid).items():
            args += data(path, content, "--ro-bind-data", "0444")
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
        args += ["--perms", "1777", "--size", str(limits.shm_size), "--tmpfs", "/dev/shm"]
        args += folders(HOME) + ["--perms", "0700", "--size", str(limits.home_size), "--tmpfs", HOME]
        made.add(HOME)
        for root in self.readable:
            args += folders(str(root)) + ["--ro-bind", str(root), str(root)]
        for relative in sorted(home_files):
            args += data(str(Path(HOME) / relative), home_files[relative], "--file", "0644")
        for name in sorted(grader_files):
            args += data(f"{GRADER_DIR}/{name}", grader_files[name], "--ro-bind-data", "0444")
        for inside, (outside, can_write) in sorted(binds.items()):
            args += folders(inside) + ["--bind" if can_write else "--ro-bind", str(outside), inside]
        args += ["--remount-ro", "/", "--chdir", HOME]
        return args

    def _drop_privileges(self, uid: int, gid: int, folders: list[str]) -> list[str]:
        """Inside the sandbox, as root: give the home folder to the sandbox user, then become it."""
        if not self.as_root:
            return []
        script = (f'chown -R {uid}:{gid} {" ".join(folders)} && exec setpriv --reuid={uid} --regid={gid} '
                  '--clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"')
        return ["--cap-add", "CAP_CHOWN", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--", "/bin/sh", "-c", script, "sandbox"]


class Unisolated(_Runner):
    """The same run without a sandbox, for an instructor who asks for it (UNISOLATED=1).

    The command runs as the grader's own user, with the same resource limits and time limit, in
    a temporary folder, and its process group and every descendant seen are killed at the end.
    Nothing else is hidden or protected: a submission can read and change anything that user can.
    """

    isolated = False

    def run(self, command: list[str], *, timeout: float, home_files: dict[str, bytes] | None = None,
            grader_files: dict[str, bytes] | None = None, binds: dict[str, tuple[Path, bool]] | None = None,
            slot: int = 0) -> Result:
        with tempfile.TemporaryDirectory(prefix="unisolated-") as private:
            places = {name: str(Path(private) / name) for name in ("home", "grader", "tmp")}
            for folder in places.values():
                Path(folder).mkdir()
            for relative, content in (home_files or {}).items():
                target = Path(places["home"]) / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            for name, content in (grader_files or {}).items():
                (Path(places["grader"]) / name).write_bytes(content)
            for inside, (outside, _) in (binds or {}).items():
                for name, place in ((HOME, "home"), (GRADER_DIR, "grader")):
                    if inside.startswith(name + "/"):
                        link = Path(places[place]) / inside[len(name) + 1:]
                        link.parent.mkdir(parents=True, exist_ok=True)
                        link.symlink_to(outside)
            env = self._environment(places["home"], places["grader"], places["tmp"])
            args = [_place(part, **places) for part in command]
            return self._supervise(args, timeout=timeout, fds=[], cwd=places["home"], env=env,
                                   private=Path(private), extra_processes=_process_count(os.getuid()))


class _Watchdog:
    """Every process descended from the sandbox's first process, remembered as they appear."""

    def __init__(self, root: int, memory_limit: int):
        self.root = root
        self.memory_limit = memory_limit
        self.seen: dict[int, str] = {}  # pid -> start time, so that a reused pid is never killed
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.proportional = (0.0, 0)  # (when, value) of the last PSS sum: reading it is slow

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            stat = _stat(int(entry.name))
            if stat:
                children.setdefault(stat[0], []).append(int(entry.name))
        found, queue = [], [self.root]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue.extend(children.get(pid, []))
        for pid in found:
            stat = _stat(pid)
            if stat:
                self.seen.setdefault(pid, stat[1])
        return found

    def memory(self) -> int:
        """Resident memory of the tree; shared pages are counted once each (PSS) when it matters."""
        pids = self._tree()
        resident = 0
        for pid in pids:
            try:
                resident += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page
            except (OSError, IndexError, ValueError):
                pass
        resident += self._folders(pids)
        if resident <= self.memory_limit:
            return resident
        # Forked processes share most pages, which resident sizes count in each; the proportional
        # set size counts them once. It is slow to read for many processes: at most every 2 s.
        if time.monotonic() - self.proportional[0] < 2:
            return self.proportional[1]
        proportional = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        proportional += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                pass
        proportional += self._folders(pids)
        self.proportional = (time.monotonic(), proportional)
        return proportional

    def _folders(self, pids: list[int]) -> int:
        """What the sandbox's in-memory folders hold (tmpfs pages belong to no process), seen through
        a sandboxed process's root; 0 for a run without its own mount namespace."""
        try:
            own = os.readlink("/proc/self/ns/mnt")
        except OSError:
            return 0
        for pid in pids:
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") == own:
                    continue
                used = 0
                for folder in ("/tmp", "/dev/shm", HOME):
                    info = os.statvfs(f"/proc/{pid}/root{folder}")
                    used += (info.f_blocks - info.f_bfree) * info.f_frsize
                return used
            except OSError:
                continue
        return 0

    def kill_all(self) -> None:
        self._tree()
        try:
            os.killpg(self.root, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid, start in self.seen.items():
            stat = _stat(pid)
            if stat and stat[1] == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), fields[19]


def _process_count(uid: int) -> int:
    """Processes and threads of a user now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                pass
    return count


def problem() -> str | None:
    """Why sandboxes cannot be made here (None when they can): bubblewrap missing or refused."""
    if shutil.which(BWRAP) is None:
        return f"bubblewrap ({BWRAP}) is not installed. {INSTALL_HINT}"
    if architecture_problem():
        return architecture_problem()
    trial = Sandbox(python_roots())
    result = trial.run([sys.executable, "-c", "print('ok')"], timeout=_limits.SANDBOX_CHECK_SECONDS)
    trial.leases.release()
    if result.output.strip() != b"ok":
        return (f"bubblewrap is installed but could not make a sandbox here ({result.log.strip()[-300:]}). "
                f"{INSTALL_HINT}")
    return None
