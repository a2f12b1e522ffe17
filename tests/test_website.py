"""The website as readers meet it, tested in a real browser (headless Chromium) over HTTP.

Skipped, with a message saying how to install it, when Chromium is absent; CI installs it.
"""
import os
import re
import subprocess
from urllib.parse import urlsplit

import pytest

from book_layout import ROOT, notebook_sources, reader_pages, repository
from browser import CHROMIUM_FLAGS, HOW_TO_GET_CHROMIUM, PageProblems, chromium_executable, serve

PAGES = reader_pages()
NOTEBOOK_PAGES = [s.relative_to(ROOT).with_suffix("").as_posix() for s in notebook_sources()
                  if not s.relative_to(ROOT).as_posix().startswith("solutions/")]
EXERCISE_PAGES = [name for name in NOTEBOOK_PAGES if name.startswith("exercises/")]
MATH_WAIT_MS = 30_000


@pytest.fixture(scope="module")
def site_url(built_site):
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("REQUIRE_CHROMIUM"):  # set by .ci/run: CI must not skip these
            pytest.fail(HOW_TO_GET_CHROMIUM)
        pytest.skip(HOW_TO_GET_CHROMIUM)
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url)
    yield context
    context.close()


def open_page(context, site_url, name, query=""):
    page = context.new_page()
    problems = PageProblems(page, site_url)
    page.goto(f"{site_url}/{name}.html{query}", wait_until="load")
    wait_for_math(page)
    page.wait_for_load_state("networkidle")
    return page, problems


def wait_for_math(page):
    """Wait until MathJax has typeset the page, if the page has math."""
    if page.locator("article .math").count() == 0:
        return
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=MATH_WAIT_MS)
    page.evaluate("() => MathJax.startup.promise")


def switch_to_dark_mode(page):
    """What the theme's switch stores, then a reload, as a returning reader would see it."""
    page.evaluate("() => { localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark'); }")
    page.reload(wait_until="networkidle")
    wait_for_math(page)


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_console_errors(context, site_url, name):
    page, problems = open_page(context, site_url, name)
    assert page.locator("main h1").count() >= 1, f"{name}: no page title"
    assert not problems.items, f"{name}:\n" + "\n".join(problems.items)


@pytest.mark.parametrize("name", [p for p in PAGES if (ROOT / f"{p}.md").exists()])
def test_math_is_typeset(context, site_url, name):
    page, _ = open_page(context, site_url, name)
    sources = page.locator("article .math").count()
    typeset = page.locator("article mjx-container").count()
    assert typeset == sources, f"{name}: {sources} math elements, {typeset} typeset by MathJax"
    assert page.locator("article mjx-merror").count() == 0, f"{name}: MathJax reports a TeX error"
    # Text outside code and typeset math must not show TeX delimiters: they mean a formula
    # was not recognised as math (e.g. display math glued to a paragraph in a dropdown).
    stray = page.evaluate("""() => {
        const article = document.querySelector('article.bd-article').cloneNode(true);
        article.querySelectorAll('pre, code, mjx-container, script, style, .cell_output')
               .forEach(node => node.remove());
        article.querySelectorAll('details').forEach(node => node.setAttribute('open', ''));
        const text = article.textContent;
        return [...text.matchAll(/.{0,40}(\\$|\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]).{0,40}/g)].map(m => m[0]);
    }""")
    assert not stray, f"{name}: TeX left untypeset: {stray[:5]}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_figures_load_with_alt_text_and_captions(context, site_url, name):
    page, _ = open_page(context, site_url, name)
    images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(img => ({
        src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
        loaded: img.complete && img.naturalWidth > 0,
        caption: img.closest('figure')?.querySelector('figcaption')?.textContent.trim() || ''}))""")
    for image in images:
        assert image["loaded"], f"{name}: {image['src']} did not load"
        assert image["alt"].strip(), f"{name}: {image['src']} has no alt text"
        if "_images/" in image["src"]:
            assert re.match(r"Fig\. \d+", image["caption"]), f"{name}: {image['src']} has no numbered caption"


def test_cross_references_carry_the_target_number(context, site_url):
    """Equation and figure references show the number the target itself displays."""
    numbers_on = {}  # page URL -> {anchor: displayed number}

    def numbers(url):
        if url not in numbers_on:
            target_page = context.new_page()
            target_page.goto(url)
            numbers_on[url] = target_page.evaluate("""() => Object.fromEntries(
                [...document.querySelectorAll('[id]')].map(el => {
                    const label = el.querySelector(':scope .eqno, :scope .caption-number');
                    const number = label && label.textContent.match(/\\(\\d+\\)|Fig\\. \\d+/);
                    return [el.id, number ? number[0] : null];
                }))""")
            target_page.close()
        return numbers_on[url]

    checked = {"equation": 0, "figure": 0}
    for name in NOTEBOOK_PAGES:
        page, _ = open_page(context, site_url, name)
        references = page.evaluate("""() => [...document.querySelectorAll('article a.reference.internal')]
            .filter(a => /#(equation-|fig-)/.test(a.getAttribute('href')))
            .map(a => ({href: a.href, text: a.textContent.trim()}))""")
        page.close()
        for reference in references:
            url, anchor = reference["href"].split("#")
            number = numbers(url).get(anchor)
            assert number, f"{name}: {reference['href']} points at nothing numbered"
            assert number in reference["text"], (
                f"{name}: a reference reads {reference['text']!r} but its target shows {number!r}")
            checked["equation" if anchor.startswith("equation-") else "figure"] += 1
    assert checked["equation"] >= 3 and checked["figure"] >= 3, (
        f"expected the chapter to cross-reference its equations and figures: {checked}")


@pytest.mark.parametrize("name", EXERCISE_PAGES)
def test_solutions_are_collapsed_and_open_on_click(context, site_url, name):
    page, _ = open_page(context, site_url, name)
    written = page.locator("article details.sd-dropdown")
    code = page.locator("article .tag_solution details")
    assert written.count() + code.count() > 0, f"{name}: no solution dropdowns"
    for dropdowns in (written, code):
        for index in range(dropdowns.count()):
            dropdown = dropdowns.nth(index)
            body = dropdown.locator(":scope > div").first
            assert dropdown.get_attribute("open") is None, f"{name}: a solution is open on load"
            assert not body.is_visible(), f"{name}: a collapsed solution is visible"
    first = written.first if written.count() else code.first
    first.locator("summary").click()
    assert first.get_attribute("open") is not None
    assert first.locator(":scope > div").first.is_visible(), f"{name}: the solution did not open on click"


def test_search_finds_a_term_from_the_text(context, site_url):
    term = "funnel"
    assert term in (ROOT / "chapters" / "eight-schools.md").read_text()
    page, problems = open_page(context, site_url, "search", f"?q={term}")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=20_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("chapters/eight-schools.html" in href for href in hrefs), hrefs
    assert not problems.items, problems.items


def _tracked(path: str) -> bool:
    return subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=ROOT,
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_launch_and_download_buttons(context, site_url, name):
    url, branch = repository()
    owner_repo = urlsplit(url).path.strip("/")
    notebook = f"{name}.ipynb"
    assert (ROOT / notebook).exists() and _tracked(notebook), (
        f"the launch buttons of {name} open {notebook}, which is not committed")
    page, _ = open_page(context, site_url, name)
    page.locator(".dropdown-launch-buttons button").click()
    launch = page.locator(".dropdown-launch-buttons a")
    hrefs = {launch.nth(i).get_attribute("href") for i in range(launch.count())}
    assert f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}" in hrefs, hrefs
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}" in hrefs, hrefs
    assert launch.first.is_visible(), "the launch menu did not open"

    edit = page.locator(".dropdown-source-buttons a[href*='/edit/']").get_attribute("href")
    assert edit == f"{url}/edit/{branch}/{name}.md"

    downloads = page.locator(".dropdown-download-buttons a")
    files = [downloads.nth(i).get_attribute("href") for i in range(downloads.count())]
    for suffix in (".ipynb", ".md"):
        link = next((f for f in files if f and f.endswith(suffix)), None)
        assert link, f"{name}: no {suffix} download"
        response = page.request.get(f"{site_url}/{name}.html".rsplit("/", 1)[0] + "/" + link)
        assert response.ok, f"{name}: the {suffix} download answers {response.status}"


def test_copy_button_copies_the_code(context, site_url):
    page, _ = open_page(context, site_url, "chapters/eight-schools")
    cell = page.locator("article .cell_input").nth(2)
    code = cell.locator("pre").inner_text()
    cell.hover()
    cell.locator("button.copybtn").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == code.strip()


def test_dark_mode_keeps_figures_readable(context, site_url):
    page, _ = open_page(context, site_url, "chapters/eight-schools")
    switch_to_dark_mode(page)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    figures = page.evaluate("""() => [...document.querySelectorAll('article figure img')].map(img => {
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
        const corner = g.getImageData(1, 1, 1, 1).data;
        const alpha = g.getImageData(0, 0, canvas.width, canvas.height).data
                       .filter((_, i) => i % 4 === 3);
        return {src: img.getAttribute('src'), filter: getComputedStyle(img).filter,
                corner: [...corner], transparent: alpha.some(a => a < 255)};
    })""")
    assert figures
    body = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert _luminance(body) < 0.3, f"dark mode did not darken the page ({body})"
    for figure in figures:
        # Opaque figures on a light background keep their dark ink readable on a dark page;
        # a transparent PNG would put black axes on a black page.
        assert not figure["transparent"], f"{figure['src']} has transparent pixels"
        assert min(figure["corner"][:3]) > 200, f"{figure['src']} does not have a light background"
        assert "invert" not in figure["filter"], f"{figure['src']} is colour-inverted in dark mode"


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_references_page_lists_the_cited_works(context, site_url):
    page, _ = open_page(context, site_url, "chapters/eight-schools")
    citations = page.locator("article a[href*='bibliography.html#']")
    assert citations.count() >= 2
    citations.first.click()
    page.wait_for_load_state("load")
    assert page.url.split("#")[0].endswith("/bibliography.html")
    anchor = page.url.split("#")[1]
    assert page.locator(f"[id='{anchor}']").is_visible(), "the citation does not land on its reference"


def test_status_page_shows_execution_times_and_benchmarks(context, site_url):
    page, _ = open_page(context, site_url, "status")
    table = page.locator("article table").first.inner_text()
    for name in NOTEBOOK_PAGES:
        if name.startswith("chapters/"):
            assert name in table, f"{name} missing from the execution table"
    assert page.locator("article table").count() >= 2, "the benchmark tables are missing"


@pytest.fixture(scope="module")
def axe_script():
    from vendor_assets import install_axe
    return install_axe().read_text()


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_accessibility_audit_has_no_serious_violations(context, site_url, axe_script, name, mode):
    """axe-core on every page, in both colour modes: no serious or critical violation."""
    page, _ = open_page(context, site_url, name)
    if mode == "dark":
        switch_to_dark_mode(page)
    page.add_script_tag(content=axe_script)
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
        .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.impact} ${v.id}: ${v.help} -- ` +
                  v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))""")
    assert not violations, f"{name} ({mode} mode):\n" + "\n".join(violations)
