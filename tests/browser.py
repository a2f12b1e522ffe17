"""Headless Chromium on a loopback web server, for the website tests.

Browsers cannot be downloaded here, so Playwright drives the system's Chromium (Debian's
`chromium` package, which `.ci/run` installs). Chromium's own background traffic is switched
off: on a closed network it only produces connection errors.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
HOW_TO_GET_CHROMIUM = (
    "Chromium is not installed, so the browser tests are skipped. On Debian or Ubuntu: "
    "`sudo apt-get install chromium` (CI installs it in .ci/run); elsewhere set CHROMIUM=/path/to/chromium."
)


def chromium_executable() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(directory: Path):
    """Serve a folder on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PageProblems:
    """Everything a page reports as wrong while it loads: console errors, script errors,
    failed or refused requests, and any request that leaves the loopback server."""

    def __init__(self, page, base_url: str):
        self.base_url = base_url
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"script error: {error}"))
        page.on("requestfailed", lambda request: self.items.append(
            f"request failed: {request.url} ({request.failure})"))
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message):
        if message.type == "error":
            self.items.append(f"console error: {message.text}")

    def _response(self, response):
        if response.status >= 400:
            self.items.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request):
        if not request.url.startswith((self.base_url, "data:", "blob:", "about:")):
            self.items.append(f"request leaves the site: {request.url}")
