"""Every limit the grader enforces, in one place (tests/grading/test_limits.py checks that no other
module of the package sets one). Honest notebooks are far below all of them; each is there so
that a submission cannot make the grader slow, large or stuck.

The code that runs inside the sandbox (sandbox_runner.py and the exporter in answers.py) cannot
import this module there: the grader writes the limits it needs into each submission's job.
"""
GIB = 1 << 30
MIB = 1 << 20

# A submission's run, in seconds --------------------------------------------------------------
DEFAULT_TIMEOUT = 300  # per submission (--timeout); the slowest answer key runs in well under a minute
STARTUP_SECONDS = 90  # on top of the notebook's time: sandbox, runner and kernel start, export
KERNEL_START_SECONDS = 120  # for the notebook's kernel to start inside the sandbox
SETUP_CELL_SECONDS = 60  # for the cell that seeds the random generators
EXPORT_SECONDS = 30  # for the export after the last cell (and after a check cell), on top of the notebook's time
SANDBOX_CHECK_SECONDS = 60  # for the trial sandbox that shows bubblewrap works here
CPU_SECONDS_MARGIN = 60  # CPU time the sandbox may use beyond timeout x cores

# Reading and analysing a submission (outside the sandbox, in a process of its own) --------------
MAX_NOTEBOOK_BYTES = 100 * MIB
ANALYSIS_SECONDS = 60
ANALYSIS_MEMORY = 4 * GIB
MAX_CELLS = 2000
MAX_CELL_CHARS = 200_000
ESCAPE_BUDGET = 200_000  # IPython re-reads a cell once per escape (!, %): escapes x characters
MAX_ESCAPES = 100  # per cell, analysed by IPython (it gives up at 500)

# The sandbox (grader/sandbox.py) ----------------------------------------------------------------
SANDBOX_MEMORY = 4 * GIB  # address space per process, and resident memory of the whole tree
SANDBOX_PROCESSES = 256  # processes and threads of the sandbox's user
SANDBOX_FILE_SIZE = 256 * MIB  # largest file a process may write (also caps the output)
SANDBOX_HOME_SIZE = 256 * MIB  # the writable home folder, in memory
SANDBOX_TMP_SIZE = 512 * MIB  # /tmp, in memory
SANDBOX_SHM_SIZE = 64 * MIB  # /dev/shm, in memory
SANDBOX_OPEN_FILES = 1024
SANDBOX_USERS = 256  # dedicated users a grading run as root may lease, from the first sandbox uid up
SANDBOX_LOG_BYTES = 8000  # of the sandbox's standard error kept for the instructor's diagnosis

# What comes back from the sandbox -------------------------------------------------------------
MAX_REPORT_BYTES = 240 * MIB  # the runner's report: exported answers (ANSWER_ARRAY_BYTES) and snapshots
SNAPSHOT_BYTES = 48 * MIB  # of all the questions' snapshots together, as exported text
ANSWER_ARRAY_BYTES = 64 * MIB  # of array data in one export
ANSWER_DEPTH = 16  # nesting of lists, dicts and pandas or xarray objects
ANSWER_ITEMS = 100_000  # elements of one list, tuple, set or dict

# The checks (grader/checks.py), run outside the sandbox -------------------------------------
CASE_SECONDS = 30  # per check case
CHECKS_SECONDS = 300  # for all of one submission's checks
CHECKS_MEMORY = 4 * GIB  # address space of the checking process


def answer_limits() -> dict[str, int]:
    """The exporter's limits (answers.py), as the job gives them to the sandbox and `read` takes them."""
    return {"array_bytes": ANSWER_ARRAY_BYTES, "depth": ANSWER_DEPTH, "items": ANSWER_ITEMS}


def runner_limits() -> dict[str, int]:
    """The limits the runner inside the sandbox applies, written into each job."""
    return {"kernel_start_seconds": KERNEL_START_SECONDS, "setup_cell_seconds": SETUP_CELL_SECONDS,
            "export_seconds": EXPORT_SECONDS, "snapshot_bytes": SNAPSHOT_BYTES, "answers": answer_limits()}
