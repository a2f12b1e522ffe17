"""Build the website into _build/html, failing on any warning or cell error.

Usage: python tools/build_book.py [BOOK_DIR]   (run by `make html`; BOOK_DIR defaults to the repository)

Pages are executed through jupyter-cache (_build/.jupyter_cache), so an unchanged page is
not executed again. When a page fails, its execution report is printed: it names the page,
shows the failing cell's code and the traceback.
"""
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT  # noqa: E402
from vendor_assets import install_mathjax  # noqa: E402


def main(book=ROOT):
    start = time.perf_counter()
    if book == ROOT:
        install_mathjax()
    REPORTS = book / "_build" / "html" / "reports"
    for old_report in REPORTS.rglob("*.err.log") if REPORTS.exists() else []:
        old_report.unlink()
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(book), "--builder", "html", "-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=book)
    if result.returncode != 0:
        for report in sorted(REPORTS.rglob("*.err.log")) if REPORTS.exists() else []:
            page = report.relative_to(REPORTS).as_posix().removesuffix(".err.log")
            print(f"\n===== execution of page '{page}' failed; its report follows =====")
            print(report.read_text())
        print("\nThe build failed: see the warnings and any execution report above.", file=sys.stderr)
        return result.returncode
    print(f"Built {book / '_build' / 'html' / 'index.html'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT))
