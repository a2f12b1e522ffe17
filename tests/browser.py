"""Headless Chromium on a loopback web server, for the website tests.

Browsers cannot be downloaded here, so Playwright (through pytest-playwright's fixtures) drives
the system's Chromium (Debian's `chromium` package, which `.ci/run` installs), with the flags and
loopback server that tools/build_pdf.py prints the book with: Chromium's own background traffic
is switched off, since on a closed network it only produces connection errors.

Each page is loaded once per view (width and colour mode) and read by tests/page_probe.js; the
tests check that report, so several checks cost one page load.
"""
from __future__ import annotations

from pathlib import Path

# The PDF is printed by the same Chromium, so the tools hold the browser's settings.
from build_pdf import CHROMIUM_FLAGS, HOW_TO_GET_CHROMIUM, chromium_executable, serve  # noqa: F401

# A reader's screens: a desktop and a phone, each in light and dark mode (the reader's system
# setting, which the theme follows by default).
VIEWS = {
    "desktop-light": {"viewport": {"width": 1400, "height": 900}, "color_scheme": "light"},
    "desktop-dark": {"viewport": {"width": 1400, "height": 900}, "color_scheme": "dark"},
    "phone-light": {"viewport": {"width": 390, "height": 844}, "color_scheme": "light"},
    "phone-dark": {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"},
}
MATH_WAIT_MS = 30_000
PROBE = (Path(__file__).parent / "page_probe.js").read_text()


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


def wait_for_math(page):
    """Wait until MathJax has typeset the page, if the page has math."""
    if page.locator("article .math").count() == 0:
        return
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=MATH_WAIT_MS)
    page.evaluate("() => MathJax.startup.promise")


def open_page(context, base_url: str, name: str, query: str = ""):
    """A page of the site, loaded and typeset; returns (page, problems seen while loading)."""
    page = context.new_page()
    problems = PageProblems(page, base_url)
    page.goto(f"{base_url}/{name}.html{query}", wait_until="load")
    wait_for_math(page)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    return page, problems


AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']}))
    .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id}: ${v.help} -- ` +
              v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""


class SiteVisits:
    """Each page of the site read once per view: the probe's report, load problems and the
    axe-core audit, kept for every test that asks."""

    def __init__(self, browser, base_url: str, axe_script: str):
        self.browser, self.base_url, self.axe_script = browser, base_url, axe_script
        self.contexts: dict[str, object] = {}
        self.reports: dict[tuple[str, str], dict] = {}

    def context(self, view: str):
        if view not in self.contexts:
            self.contexts[view] = self.browser.new_context(**VIEWS[view])
        return self.contexts[view]

    def open(self, view: str, name: str, query: str = ""):
        return open_page(self.context(view), self.base_url, name, query)

    def report(self, view: str, name: str) -> dict:
        key = (view, name)
        if key not in self.reports:
            page, problems = self.open(view, name)
            try:
                report = page.evaluate(PROBE, {"darkFigures": view.endswith("dark")})
                page.add_script_tag(content=self.axe_script)
                report["axe"] = page.evaluate(AXE_RUN)
                report["problems"] = list(problems.items)
            finally:
                page.close()
            self.reports[key] = report
        return self.reports[key]

    def close(self):
        for context in self.contexts.values():
            context.close()
