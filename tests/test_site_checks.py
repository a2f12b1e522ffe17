"""Checks of the built website that need no browser: links and anchors, and page weight."""
import re
import subprocess
import sys
import textwrap

from book_layout import ROOT
from page_weight import LIMIT_BYTES, report

LINKCHECKER_CONFIG = """
    [checking]
    threads=4
    [filtering]
    # Internal links only: the build machine and CI have no internet.
    ignore=
      ^https?://
      ^mailto:
    [AnchorCheck]
    """


def test_no_broken_internal_links_or_anchors(built_site, tmp_path):
    config = tmp_path / "linkcheckerrc"
    config.write_text(textwrap.dedent(LINKCHECKER_CONFIG))
    # Run as root (as in CI), LinkChecker switches to the user `nobody`, who may not be allowed to
    # read the clone's folder (a private temporary directory, say): it only reads the built
    # site here, so it keeps the caller's user.
    linkchecker = [sys.executable, "-c", "import linkcheck.command.linkchecker as lc; "
                   "lc.drop_privileges = lambda: None; lc.linkchecker()"]
    result = subprocess.run([*linkchecker, f"--config={config}", "--no-status", "--output=text",
                             str(built_site / "index.html")], cwd=tmp_path, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-3:]
    assert "0 warnings found. 0 errors found." in result.stdout, (
        "LinkChecker found broken links or anchors (a missing anchor is reported as a warning):\n"
        + result.stdout[-8000:])
    checked = re.search(r"(\d+) links in \d+ URLs checked", result.stdout)
    assert checked and int(checked.group(1)) > 100, f"LinkChecker did not crawl the site: {summary}"


def test_every_page_weighs_under_the_limit(built_site):
    text, rows = report(built_site)
    (ROOT / "_build" / "page-weight.md").write_text(text)
    assert len(rows) >= 15
    heavy = {r["page"]: r["own"] for r in rows if r["own"] > LIMIT_BYTES}
    assert not heavy, f"pages over {LIMIT_BYTES} bytes of own HTML and images: {heavy}\n{text}"
