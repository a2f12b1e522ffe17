"""The website as readers meet it, in a real browser (headless Chromium) over HTTP.

Every page is read once per view, a desktop (1400 px) and a phone (390 px) each in light and dark
mode, by tests/page_probe.js (tests/browser.py keeps the reports); most tests check those reports,
so each names every page (and figure, table, term...) that fails. A few tests click: the sidebars,
a solution, a citation, the search. Skipped, with a message saying how to install it, when Chromium
is absent; CI installs it.
"""
import functools
import importlib.util
import json
import os
import re
import urllib.request
from urllib.parse import urlsplit

import pytest

from book_layout import ROOT, release_tag, repository, toc_docnames
from browser import CHROMIUM_FLAGS, HOW_TO_GET_CHROMIUM, VIEWS, SiteVisits, chromium_executable, serve, wait_for_math

pytestmark = pytest.mark.slow

TOC = toc_docnames()
PAGES = TOC + ["search"]
CHAPTERS = [name for name in TOC if name.startswith("chapters/")]
EXERCISES = [name for name in TOC if name.startswith("exercises/")]
NOTEBOOK_PAGES = CHAPTERS + EXERCISES
DESKTOP_TEXT_PX = 10  # a figure's smallest text in the desktop column, in CSS pixels
CAPTION_MIN_PX = 14
VIEW_NAMES = list(VIEWS)
DARK_VIEWS = [view for view in VIEWS if view.endswith("dark")]


@functools.cache
def site_theme():
    """The book's theme extension, which sets the figures' phone widths (and reads PNG files)."""
    spec = importlib.util.spec_from_file_location("site_theme", ROOT / "_ext" / "site_theme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------- Fixtures: pytest-playwright's browser, launched from the system's Chromium ----------

@pytest.fixture(scope="session")
def browser_type_launch_args():
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("REQUIRE_CHROMIUM"):  # set by .ci/run: CI must not skip these
            pytest.fail(HOW_TO_GET_CHROMIUM)
        pytest.skip(HOW_TO_GET_CHROMIUM)
    return {"executable_path": executable, "args": CHROMIUM_FLAGS, "headless": True}


@pytest.fixture(scope="session")
def site_url(built_site):
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def visits(browser, site_url):
    from vendor_assets import install_axe
    visits = SiteVisits(browser, site_url, install_axe().read_text())
    yield visits
    visits.close()


def problems_on(visits, view, pages, check) -> list[str]:
    """Run `check(name, report)` (which yields problems) on each page's report for a view."""
    found = []
    for name in pages:
        found += [f"{name}: {problem}" for problem in check(name, visits.report(view, name))]
    return found


def fail_if(problems, what):
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


# ---------- Every page, every view ----------

@pytest.mark.parametrize("view", VIEW_NAMES)
def test_pages_load_without_errors(visits, view):
    def check(name, report):
        if not report["title"]:
            yield "no page title"
        yield from report["problems"]
    fail_if(problems_on(visits, view, PAGES, check), "pages with console errors or failed requests")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_accessibility_audit_has_no_serious_violations(visits, view):
    """axe-core on every page: no serious or critical violation."""
    fail_if(problems_on(visits, view, PAGES, lambda name, report: report["axe"]),
            f"axe-core violations ({view})")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_math_is_typeset(visits, view):
    def check(name, report):
        if report.get("mathTypeset") != report.get("mathSources"):
            yield f"{report.get('mathSources')} formulas, {report.get('mathTypeset')} typeset by MathJax"
        if report.get("mathErrors"):
            yield "MathJax reports a TeX error"
        if report.get("strayTex"):
            yield f"TeX left untypeset: {report['strayTex'][:3]}"
    fail_if(problems_on(visits, view, TOC, check), "math not typeset")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_nothing_is_wider_than_the_screen(visits, view):
    """No page scrolls sideways: wide equations, tables and figures scroll in their own box,
    tables keep their header in view, long titles wrap."""
    def check(name, report):
        if report["documentWidth"] > report["viewport"]:
            yield f"the page is {report['documentWidth']} px wide on a {report['viewport']} px screen"
        yield from report["overflow"]
        for table in report["tables"]:
            if not table["headerVisible"]:
                yield f"a table's header is out of view: {table['header'][:60]}"
    fail_if(problems_on(visits, view, TOC, check), f"content wider than the screen ({view})")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_one_search_box_and_the_sidebar_buttons(visits, view):
    def check(name, report):
        if len(report["searchControls"]) != 1:
            yield f"{len(report['searchControls'])} search boxes: {report['searchControls']}"
        if report["primaryToggles"] != 1:
            yield f"{report['primaryToggles']} visible chapter-list buttons"
    fail_if(problems_on(visits, view, TOC, check), "search box and sidebar buttons")


# ---------- Formulas, tables, code and the footer, laid out for reading ----------

@pytest.mark.parametrize("view", VIEW_NAMES)
def test_formulas_fit_or_scroll_with_a_visible_scrollbar(visits, view):
    """Every typeset formula fits its column (long display equations are broken into aligned
    lines in the sources), or scrolls inside a box of its own that fits the screen and shows
    its scrollbar."""
    def check(name, report):
        for formula in report["formulas"]:
            if not formula["fits"] and not formula["scrolls"]:
                kind = "display" if formula["display"] else "inline"
                yield (f"{kind} formula {formula['tex']!r} is {formula['width']} px wide in a "
                       f"{formula['column']} px column, with no visible scrollbar")
    fail_if(problems_on(visits, view, TOC, check), f"formulas cut off ({view})")


# The PDF's text area: tools/build_pdf.py prints on A4 (210 mm) with 15 mm side margins, and
# Chromium lays a printed page out at that width in CSS pixels (96 per inch).
PRINT_TEXT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)
PRINTED_FORMULAS = """() => {
  const article = document.querySelector("article.bd-article");
  const limit = document.documentElement.clientWidth;
  const problems = [];
  for (const m of article.querySelectorAll("mjx-container")) {
    if (m.closest("mjx-assistive-mml") || !m.getClientRects().length || m.closest(".tag_solution, details.solution")) continue;
    const math = (m.querySelector("mjx-math") || m).getBoundingClientRect();
    const tex = (m.parentElement.textContent || "").trim().slice(0, 70);
    if (math.right > limit + 1 || math.left < -1) problems.push(`${tex}: ${Math.round(math.left)}-${Math.round(math.right)} px on a ${limit} px text area`);
    const number = m.parentElement.querySelector(".eqno") || m.parentElement.parentElement.querySelector(".eqno");
    if (number) {
      const box = number.getBoundingClientRect();
      if (box.left < math.right && math.left < box.right && box.top < math.bottom && math.top < box.bottom)
        problems.push(`${tex}: its equation number overprints it`);
    }
  }
  return problems;
}"""


def test_printed_formulas_fit_the_pdf_text_area(visits):
    """In the PDF, which cannot scroll, no formula reaches past the text area or under its
    equation number: each page laid out as Chromium prints it (print media, the PDF's text width)."""
    context = visits.browser.new_context(viewport={"width": PRINT_TEXT_WIDTH_PX, "height": 1000},
                                         color_scheme="light")
    problems = []
    try:
        for name in TOC:
            page = context.new_page()
            try:
                page.emulate_media(media="print")
                page.goto(f"{visits.base_url}/{name}.html", wait_until="load")
                wait_for_math(page)
                problems += [f"{name}: {problem}" for problem in page.evaluate(PRINTED_FORMULAS)]
            finally:
                page.close()
    finally:
        context.close()
    fail_if(problems, "formulas cut off in the PDF")


TABLE_NUMBER_GAP_PX = 8


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_tables_are_padded_aligned_and_not_overprinted(visits, view):
    """Numbers in neighbouring cells stand at least 8 px apart, no cell's text runs into the
    next, number columns are right-aligned with their headers, no cell says "NaN"; on a phone a
    table is at most 1.5 screens tall unless it scrolls sideways in its own box."""
    phone = view.startswith("phone")

    def check(name, report):
        for table in report["tableLayout"]:
            what = f"table {table['header'][:40]!r}"
            if table["numericGap"] is not None and table["numericGap"] < TABLE_NUMBER_GAP_PX:
                yield f"{what}: two numbers {table['numericGap']} px apart"
            for pair in table["overprinted"][:3]:
                yield f"{what}: overprinted text {pair}"
            for column in table["misaligned"][:3]:
                yield f"{what}: column {column}"
            if phone and table["height"] > 1.5 * table["screenHeight"] and not table["scrollsInOwnBox"]:
                yield f"{what}: {table['height']} px tall on a {table['screenHeight']} px screen"
    fail_if(problems_on(visits, view, TOC, check), f"tables ({view})")


@pytest.mark.parametrize("view", ["desktop-light", "phone-light"])
def test_tables_show_no_nan_and_no_arviz_column_names(visits, view):
    """A value that does not exist is shown as "–" (`hierarchical_helpers.reader_table`, and the
    page says what it means), never as "NaN"; a chapter's table heads its columns as a reader
    says them, not with ArviZ's names (the exercises keep the names their checks use)."""
    def check(name, report):
        for table in report["tableLayout"]:
            if table["noValue"]:
                yield f"table {table['header'][:40]!r} shows {table['noValue'][:2]}"
        if name in CHAPTERS:
            for table in report["tables"]:
                raw = ARVIZ_NAMES.findall(table["header"])
                if raw:
                    yield f"table {table['header'][:40]!r} has columns named {raw}"
    fail_if(problems_on(visits, view, TOC, check), "tables showing NaN or ArviZ's column names")


ARVIZ_NAMES = re.compile(r"\b(hdi\d*_[lu]b|ess_bulk|ess_tail|r_hat|mcse_\w+|elpd_diff|dse|p_worse|diag_\w+)\b")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_code_and_output_lines_are_not_cut(visits, view):
    """On a desktop no line of code or output is wider than its box; on a phone output wraps and
    a code line wider than the screen scrolls in its box with a visible scrollbar."""
    phone = view.startswith("phone")

    def check(name, report):
        for cut in report["cutLines"]:
            if not phone or cut["kind"] == "output" or not cut["scrolls"]:
                yield f"a {cut['kind']} line is cut off: {cut['line']!r}"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), f"code and output lines ({view})")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_footer_links_fit(visits, view):
    """The previous / next links at the foot of a page fit the screen and show all they hold."""
    fail_if(problems_on(visits, view, TOC, lambda name, report: report["footerOverflow"]),
            f"page footer ({view})")


@pytest.mark.parametrize("view", ["desktop-light", "phone-light"])
def test_pages_without_formulas_do_not_load_mathjax(visits, view):
    """MathJax loads only where there is math: not on the landing page, glossary or status page."""
    problems, with_math = [], 0
    for name in TOC:
        report = visits.report(view, name)
        loads = any("mathjax" in src.lower() for src in report["scripts"])
        if report.get("mathSources", 0) == 0 and loads:
            problems.append(f"{name} has no formula but loads MathJax")
        with_math += loads
    fail_if(problems, "MathJax on pages without math")
    assert with_math >= len(CHAPTERS), "pages with formulas no longer load MathJax"


# The header's buttons every page shows, drawn from the icon font (_ext/icon_font.py); pages that
# run (chapters and exercises) show the launch button too.
HEADER_ICONS = {"fa-bars", "fa-github", "fa-download", "fa-magnifying-glass"}
LAUNCH_ICON = "fa-rocket"
SCRIPT_LIMIT_BYTES = 100_000
ICON_FONT_LIMIT_BYTES = 30_000


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_every_icon_is_drawn(visits, view):
    """Every icon of a page (sidebar and header buttons, the launch, repository and download menus,
    search, colour mode) is drawn from its font, with no fontawesome.js to turn it into an image:
    the font draws ink for its character, and not the pixels the fallback fonts draw for it (the
    blank or the box of a character a font lacks); a shown icon takes room."""
    def check(name, report):
        for icon in report["icons"]:
            what = f"icon {icon['classes']!r}"
            if not icon["code"]:
                yield f"{what} has no character to draw"
            elif not icon["ink"] or icon["sameAsFallback"]:
                yield f"{what}: {icon['family']} does not draw U+{icon['code'].upper()}"
            if icon["shown"] and icon["width"] <= 0:
                yield f"{what} is shown 0 px wide"
        if name in TOC:
            shown = {cls for icon in report["icons"] if icon["shown"] for cls in icon["classes"].split()}
            expected = HEADER_ICONS | ({LAUNCH_ICON} if name in NOTEBOOK_PAGES else set())
            if expected - shown:
                yield f"the header does not show {sorted(expected - shown)}"
            if not any("theme-switch" in icon["classes"] and icon["shown"] for icon in report["icons"]):
                yield "the colour-mode button shows no icon"
    fail_if(problems_on(visits, view, PAGES, check), f"icons not drawn ({view})")


def _is_font_awesome(path) -> bool:
    return "fontawesome" in path.name.lower() or b"font awesome" in path.read_bytes().lower()


@pytest.mark.parametrize("view", ["desktop-light", "phone-light"])
def test_icons_cost_a_few_kilobytes(visits, built_site, view):
    """No page, the landing page included, loads a script over 100 KB that is Font Awesome (the
    theme's fontawesome.js weighs 1.5 MB) or the theme's full Font Awesome fonts (300 kB); the
    icon fonts a page loads weigh under 30 kB together."""
    problems = []
    for name in PAGES:
        report = visits.report(view, name)
        icon_font_bytes = 0
        for resource in report["resources"]:
            path = urlsplit(resource["url"]).path
            served = built_site / path.lstrip("/")
            if path.endswith(".js") and served.is_file() and served.stat().st_size > SCRIPT_LIMIT_BYTES \
                    and _is_font_awesome(served):
                problems.append(f"{name} loads {path} ({served.stat().st_size / 1000:,.0f} kB)")
            if "/vendor/fontawesome/" in path:
                problems.append(f"{name} loads the theme's full icon font {path}")
            if "/book-icons/" in path:
                icon_font_bytes += resource["bytes"]
        if icon_font_bytes == 0:
            problems.append(f"{name} loads no icon font from _static/book-icons/")
        elif icon_font_bytes > ICON_FONT_LIMIT_BYTES:
            problems.append(f"{name} loads {icon_font_bytes / 1000:.0f} kB of icon fonts")
    fail_if(problems, "icons that cost more than a small font")


@pytest.mark.parametrize("view", ["desktop-light", "phone-light"])
def test_edit_button_only_where_the_public_repository_has_the_file(visits, view):
    """Only chapter pages, whose MyST source the public repository holds, offer "Edit this
    page"; the landing page, glossary, references and status page do not."""
    def check(name, report):
        edits = [link for link in report["edit"] if "/edit/" in link]
        if edits:
            yield f"offers {edits}"
    fail_if(problems_on(visits, view, [n for n in TOC if n not in NOTEBOOK_PAGES], check),
            "edit buttons to files the public repository lacks")


# ---------- The reader sees the statistics, not the bookkeeping ----------

BOOKKEEPING = re.compile(
    r"^\s*(%pip|!pip|import \w|from [\w.]+ import |glue(_values|_math)?\(|(\w+\s*=\s*)?setup_page\(|"
    r"assert\s|warnings\.|logging\.|plt\.rcParams|%config)")
# What assert_converged shows: its one line for a fit that passed, or the reason a fit meant to fail
# (the centred Eight Schools) did not.
CONVERGENCE_LINE = re.compile(r"converged: \d+ divergences|the fit has not converged: ")
TOO_MANY_DECIMALS = re.compile(r"\d\.\d{5,}")
E_NOTATION = re.compile(r"\d(\.\d+)?[eE][+-]?\d")
COUNT_AS_FLOAT = re.compile(r"(?<![\d.])\d{4,}\.(0+(?!\d)|\d{3,})")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_visible_cells_hold_no_set_up_or_glue(visits, view):
    """Set-up, imports, glue and asserts are hidden; what the reader sees is the statistics."""
    def check(name, report):
        for cell in report["visibleCode"]:
            lines = [line for line in cell.splitlines() if BOOKKEEPING.match(line)]
            if lines:
                yield f"a visible cell holds {lines[:3]}"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "bookkeeping in visible cells")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_no_stderr_output(visits, view):
    def check(name, report):
        for text in report["stderr"]:
            yield f"stderr output: {text}"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "stderr output on the page")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_convergence_is_shown_for_every_fit(visits, view):
    """Each visible assert_converged(...) prints its one line; a page whose visible code samples
    shows at least one."""
    def check(name, report):
        calls = sum(cell.count("assert_converged(") for cell in report["visibleCode"])
        lines = sum(len(CONVERGENCE_LINE.findall(output)) for output in report["visibleOutputs"])
        samples = any(re.search(r"\bpm\.sample\(|\bsample\(", cell) for cell in report["visibleCode"])
        if lines < calls:
            yield f"{calls} visible assert_converged calls but {lines} convergence lines"
        if samples and not lines:
            yield "samples in visible code but shows no convergence line"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "fits without a visible convergence line")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_tables_are_rounded(visits, view):
    """No table shows floating-point noise: more than 4 decimals, e-notation, counts as floats."""
    def check(name, report):
        for number, table in enumerate(report["tables"], start=1):
            noisy = [cell for cell in table["cells"] if TOO_MANY_DECIMALS.search(cell)
                     or E_NOTATION.search(cell) or COUNT_AS_FLOAT.search(cell)]
            if noisy:
                yield f"table {number} ({table['header'][:50]}) shows {noisy[:4]}"
    fail_if(problems_on(visits, view, TOC, check), "tables with unrounded numbers")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_pasted_numbers_read_as_text_and_formulas_stay_whole(visits, view):
    """A glued number is set as the sentence around it, and never splits a formula in two
    (a number inside math is glued as math, `glue_math` and {glue:md})."""
    def check(name, report):
        for pasted in report["pasted"]:
            if pasted["insideMath"] or pasted["breaksFormula"]:
                yield f"a pasted number breaks a formula: {pasted['context']}"
            if pasted["weight"] > pasted["parentWeight"] or pasted["family"] != pasted["parentFamily"]:
                yield f"{pasted['text']!r} is not set as the text around it"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "pasted numbers")


# ---------- Figures ----------

def _figure_name(figure) -> str:
    number = re.match(r"Fig\. \d+", figure["caption"])
    return f"{figure['id'] or figure['src']}{' (' + number[0] + ')' if number else ''}"


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_figures_load_with_alt_text_and_numbered_captions(visits, view):
    def check(name, report):
        for figure in report["figures"]:
            if not figure["loaded"]:
                yield f"{figure['src']} did not load"
            if not figure["alt"].strip():
                yield f"{_figure_name(figure)} has no alt text"
            if not re.match(r"Fig\. \d+", figure["caption"]):
                yield f"{figure['src']} has no numbered caption"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "figures")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_figure_text_is_readable(visits, built_site, view):
    """The smallest text of each figure (MIN_FONT_POINTS at the PNG's resolution) renders at
    10 CSS px or more in the desktop column; on a phone at PHONE_MIN_TEXT_PX or more, in the image
    the phone actually shows (a figure wider than PHONE_WIDTH_INCHES shows its phone rendition),
    with the whole figure inside the column (no sideways scrolling); a tap opens the image at full
    size. The smallest font is known only for figures drawn as the helpers' setup_page draws
    them: at FIGURE_DPI, at most FIGURE_WIDTH_INCHES wide."""
    from hierarchical_helpers.notebook import FIGURE_DPI, FIGURE_WIDTH_INCHES
    from hierarchical_helpers.phone_figures import PHONE_WIDTH_INCHES
    phone = view.startswith("phone")
    theme = site_theme()
    threshold = theme.PHONE_MIN_TEXT_PX if phone else DESKTOP_TEXT_PX

    def check(name, report):
        for figure in report["figures"]:
            width, _, dpi = theme.png_geometry(built_site / figure["path"].lstrip("/"))
            if round(dpi) != FIGURE_DPI or width > FIGURE_WIDTH_INCHES * FIGURE_DPI + 1:
                yield (f"{_figure_name(figure)}: drawn {width / dpi:.1f} in wide at {dpi:.0f} dpi, not at most "
                       f"{FIGURE_WIDTH_INCHES} in at {FIGURE_DPI} dpi (so its font sizes are unknown)")
            if not figure["shown"]:  # inside a collapsed solution: its size on screen is unknown
                continue
            smallest = theme.MIN_FONT_POINTS * dpi / 72 * figure["width"] / width
            if smallest < threshold - 0.05:
                yield (f"{_figure_name(figure)}: smallest text {smallest:.1f} px (image {width} px wide "
                       f"at {dpi:.0f} dpi, shown {figure['width']:.0f} px wide)")
            if phone and figure["width"] > figure["figureWidth"] + 1:
                yield (f"{_figure_name(figure)} is shown {figure['width']:.0f} px wide in a "
                       f"{figure['figureWidth']:.0f} px column: a reader must scroll to see all of it")
            if phone and width > PHONE_WIDTH_INCHES * dpi + 1:
                yield (f"{_figure_name(figure)}: the phone shows an image {width / dpi:.1f} in wide, "
                       f"not its phone rendition (at most {PHONE_WIDTH_INCHES} in)")
            if not figure["fullSizeLink"].endswith(figure["src"].rsplit("/", 1)[-1]):
                yield f"{_figure_name(figure)} does not open at full size when tapped"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check),
            f"figures whose text renders below {threshold} px ({view}): redraw them at most "
            "7.5 in wide, 150 dpi, fonts at least MIN_FONT_POINTS")


def _luminance(css_colour: str) -> float:
    def channel(value):
        value = int(value) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(v) for v in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_captions_are_readable(visits, view):
    def check(name, report):
        for figure in report["figures"]:
            if not figure["shown"] or "captionSize" not in figure:
                continue
            if figure["captionSize"] < CAPTION_MIN_PX:
                yield f"{_figure_name(figure)}: caption set at {figure['captionSize']} px"
            if figure["captionWeight"] < 400:
                yield f"{_figure_name(figure)}: caption set at weight {figure['captionWeight']:.0f} (thin)"
            contrast = _contrast(figure["captionColour"], figure["captionBackground"])
            if contrast < 4.5:
                yield f"{_figure_name(figure)}: caption contrast {contrast:.1f} (below 4.5)"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "captions")


@pytest.mark.parametrize("view", DARK_VIEWS)
def test_dark_mode_keeps_figures_opaque(visits, view):
    """Opaque figures on a light background keep their dark ink readable on a dark page; a
    transparent PNG would put black axes on a black page."""
    def check(name, report):
        if report["theme"] != "dark" or _luminance(report["bodyBackground"]) > 0.1:
            yield f"not dark: theme {report['theme']!r}, background {report['bodyBackground']}"
        for figure in report["figures"]:
            if figure.get("transparent"):
                yield f"{_figure_name(figure)} has transparent pixels"
            if figure.get("corner") and min(figure["corner"]) < 200:
                yield f"{_figure_name(figure)} does not have a light background"
            if "invert" in figure.get("filter", ""):
                yield f"{_figure_name(figure)} is colour-inverted"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "figures in dark mode")


# ---------- What each page opens with ----------

@pytest.mark.parametrize("view", VIEW_NAMES)
def test_pages_open_with_what_they_teach(visits, view):
    """Under each title: the page-overview box, with objectives, prerequisites and run time."""
    def check(name, report):
        overview = report["overview"]
        if overview is None:
            yield "no 'On this page' box (admonition with class page-overview) under the title"
            return
        if not overview["shown"] or overview["position"] != 0:
            yield f"the overview box is not the first thing under the title (position {overview['position']})"
        for part in ("You will learn", "You need", "Running it"):
            if part not in overview["text"]:
                yield f"the overview box lacks {part!r}"
        if not re.search(r"Running it[^.]*about \d+ s on a fresh machine", overview["text"]):
            yield "the run time is not the benchmark's (run `make benchmark` and commit its results)"
    fail_if(problems_on(visits, view, NOTEBOOK_PAGES, check), "pages without their overview")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_exercise_pages_say_how_to_work(visits, view):
    def check(name, report):
        box = report["howTo"]
        if box is None or not box["shown"]:
            yield "no 'How to work on this exercise' box"
            return
        if box["position"] > 1:
            yield f"the how-to box is not at the top (position {box['position']})"
        for word in ("Colab", "Binder", "check", "submit"):
            if word not in box["text"]:
                yield f"the how-to box does not mention {word}"
        launch = {url for url in report["launch"] if "colab" in url or "binder" in url}
        if set(box["links"]) != launch:
            yield f"the how-to box opens {box['links']}, the launch button {sorted(launch)}"
    fail_if(problems_on(visits, view, EXERCISES, check), "exercise pages")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_solutions_are_collapsed_and_say_so(visits, view):
    def check(name, report):
        solutions = report["codeSolutions"] + [d for d in report["writtenSolutions"] if d["solution"]]
        if not solutions:
            yield "no solutions"
        for dropdown in report["writtenSolutions"]:
            if "solution" in dropdown["label"].lower() and not dropdown["solution"]:
                yield f"a dropdown {dropdown['label']!r} is not marked as a solution"
        for solution in solutions:
            if solution["open"] or solution["bodyShown"]:
                yield "a solution is open on load"
            if solution["label"] != "Show solution":
                yield f"a solution toggle reads {solution['label']!r}"
    fail_if(problems_on(visits, view, EXERCISES, check), "solutions")


# ---------- Buttons and links the book configures ----------

def _tracked(path: str) -> bool:
    import subprocess
    return subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=ROOT,
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_launch_edit_and_download_buttons(visits, site_url, view):
    """Colab and Binder open the committed notebook at the release tag of _config.yml's (public)
    repository, whose set-up cells install that release; "edit" opens a chapter's MyST source, and
    an exercise page has none (its source holds the solutions and hidden checks); the download is
    the reader notebook of the committed notebook, for an exercise of the student notebook (no solution)."""
    url, branch = repository()
    tag = release_tag()
    owner_repo = urlsplit(url).path.strip("/")
    problems = []
    for name in NOTEBOOK_PAGES:
        report = visits.report(view, name)
        notebook = f"{name}.ipynb"
        if not _tracked(notebook):
            problems.append(f"{name}: the launch buttons open {notebook}, which is not committed")
        for expected in (f"https://mybinder.org/v2/gh/{owner_repo}/{tag}?urlpath=lab/tree/{notebook}",
                         f"https://colab.research.google.com/github/{owner_repo}/blob/{tag}/{notebook}"):
            if expected not in report["launch"]:
                problems.append(f"{name}: no launch link {expected} in {report['launch']}")
        if any(f"/{branch}/" in link for link in report["launch"]):
            problems.append(f"{name}: a launch link follows the branch {branch}: {report['launch']}")
        expected_edit = [] if name in EXERCISES else [f"{url}/edit/{branch}/{name}.md"]
        edits = [link for link in report["edit"] if "/edit/" in link]
        if edits != expected_edit:
            problems.append(f"{name}: the edit links are {edits}, not {expected_edit}")
        download = next((link for link in report["downloads"] if link.endswith(".ipynb")), None)
        if download is None:
            problems.append(f"{name}: no .ipynb download")
            continue
        with urllib.request.urlopen(f"{site_url}/{name}.html".rsplit("/", 1)[0] + "/" + download) as response:
            offered = json.loads(response.read())
        # The reader notebook (tools/reader_notebooks.py) of the committed notebook: its code
        # cells, the committed ones; its prose, plain Markdown.
        expected = json.loads((ROOT / "_build" / "reader" / notebook).read_text())
        committed = json.loads((ROOT / notebook).read_text())
        if offered["cells"] != expected["cells"] or \
                [c["source"] for c in offered["cells"] if c["cell_type"] == "code"] != \
                [c["source"] for c in committed["cells"] if c["cell_type"] == "code"]:
            what = "the student notebook" if name in EXERCISES else "the committed notebook"
            problems.append(f"{name}: the .ipynb download is not the reader notebook of {what} {notebook}")
        if name in EXERCISES and any("solution" in cell["metadata"].get("tags", []) for cell in offered["cells"]):
            problems.append(f"{name}: the download carries solution cells")
    fail_if(problems, "launch, edit and download buttons")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_cross_references_carry_the_target_number(visits, view):
    """Equation and figure references show the number their target displays."""
    numbers = {}
    for name in NOTEBOOK_PAGES:
        numbers[name] = visits.report(view, name)["numbers"]
    problems, checked = [], {"equation": 0, "figure": 0}
    for name in NOTEBOOK_PAGES:
        for reference in visits.report(view, name)["references"]:
            address, anchor = reference["href"].split("#")
            target = re.sub(r"^https?://[^/]+/|\.html$", "", address)
            number = numbers.get(target, {}).get(anchor)
            if not number:
                problems.append(f"{name}: {reference['href']} points at nothing numbered")
            elif number not in reference["text"]:
                problems.append(f"{name}: a reference reads {reference['text']!r} but its target shows {number!r}")
            checked["equation" if anchor.startswith("equation-") else "figure"] += 1
    fail_if(problems, "cross-references")
    assert checked["equation"] >= 3 and checked["figure"] >= 3, (
        f"expected the chapter to cross-reference its equations and figures: {checked}")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_citations_land_on_their_reference(visits, view):
    """A citation opens the references page at its entry, whose label reads as the citation does."""
    page = None
    for name in CHAPTERS:
        if visits.report(view, name)["citations"]:
            page, _ = visits.open(view, name)
            break
    assert page is not None, "no page cites anything"
    try:
        citation = page.locator("article a[href*='bibliography.html#']").first
        cited = citation.inner_text().strip()
        citation.click()
        page.wait_for_load_state("load")
        assert page.url.split("#")[0].endswith("/bibliography.html")
        entry = page.locator(f"[id='{page.url.split('#')[1]}']")
        assert entry.is_visible(), "the citation does not land on its reference"
        label = entry.locator(".label").inner_text()
        assert cited in label, f"the text cites {cited!r}, the references page labels it {label!r}"
    finally:
        page.close()


# ---------- Clicking: sidebars, solutions, search ----------

@pytest.mark.parametrize("mode", ["light", "dark"])
def test_phone_reader_opens_the_chapter_list_and_the_page_contents(visits, mode):
    page, problems = visits.open(f"phone-{mode}", NOTEBOOK_PAGES[0])
    try:
        page.locator(".bd-header-article .primary-toggle").click()
        chapters = page.locator("#pst-primary-sidebar-modal nav a.reference")
        chapters.first.wait_for(state="visible", timeout=5_000)
        hrefs = [chapters.nth(i).get_attribute("href") for i in range(chapters.count())]
        for name in NOTEBOOK_PAGES[1:]:  # the first is this page, linked as "#"
            assert any(href.endswith(name.split("/")[-1] + ".html") for href in hrefs if href), (
                f"the chapter list lacks {name}: {hrefs}")
        page.locator("#pst-primary-sidebar-modal a", has_text="The mathematical structure").click()
        page.wait_for_url("**/chapters/mathematical-structure.html")

        page.locator(".bd-header-article .secondary-toggle").click()
        sections = page.locator("#pst-secondary-sidebar-modal a.nav-link:visible")
        sections.first.wait_for(state="visible", timeout=5_000)
        assert sections.count() >= 3, "the page contents list fewer than three sections"
        target = sections.nth(2).get_attribute("href")
        sections.nth(2).click()
        page.wait_for_url(f"**{target}")
        assert not page.evaluate("() => document.getElementById('pst-secondary-sidebar-modal').open"), (
            "the page contents stay open over the page after following a link")
        heading = page.locator(f"[id='{target.lstrip('#')}']")
        assert heading.is_visible() and heading.evaluate("el => el.getBoundingClientRect().top < innerHeight"), (
            "the section the reader chose is not in view")
        assert not problems.items, problems.items
    finally:
        page.close()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_desktop_reader_collapses_the_sidebar(visits, mode):
    page, problems = visits.open(f"desktop-{mode}", "chapters/eight-schools")
    try:
        sidebar = page.locator("#pst-primary-sidebar")
        article = page.locator("article.bd-article")
        assert sidebar.is_visible()
        width = article.bounding_box()["width"]
        page.locator(".bd-header-article .primary-toggle").click()
        page.wait_for_function("() => document.getElementById('pst-primary-sidebar').getBoundingClientRect().right <= 0")
        assert article.bounding_box()["width"] > width, "the article did not take the sidebar's room"
        search = page.locator(".bd-header-article .search-button")
        assert search.is_visible(), "with the sidebar collapsed there is no search box"
        page.locator(".bd-header-article .primary-toggle").click()
        page.wait_for_function("() => document.getElementById('pst-primary-sidebar').getBoundingClientRect().right > 0")
        assert not search.is_visible(), "two search boxes once the sidebar is back"
        assert not problems.items, problems.items
    finally:
        page.close()


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_a_solution_opens_and_closes_on_click(visits, view):
    name = next(n for n in EXERCISES if visits.report(view, n)["codeSolutions"]
                and any(d["solution"] for d in visits.report(view, n)["writtenSolutions"]))
    page, _ = visits.open(view, name)
    try:
        for selector in ("article .tag_solution details", "article details.solution"):
            solution = page.locator(selector).first
            summary = solution.locator(":scope > summary")
            assert summary.inner_text().strip() == "Show solution"
            summary.click()
            assert solution.get_attribute("open") is not None
            assert solution.locator(":scope > :not(summary)").first.is_visible(), f"{name}: the solution did not open"
            assert summary.inner_text().strip() == "Hide solution"
            summary.click()
            assert summary.inner_text().strip() == "Show solution"
    finally:
        page.close()


WORD = re.compile(r"(?<![\w.-])[a-z]{7,}(?![\w.-])")


def _search(visits, word, view="desktop-light") -> dict[str, str]:
    """The search page's results for a word: link -> the snippet shown with it."""
    page, problems = visits.open(view, "search", f"?q={word}")
    try:
        page.wait_for_function("() => /found|did not match/i.test(document.getElementById('search-progress')?.textContent "
                               "|| document.querySelector('#search-results')?.textContent || '')", timeout=20_000)
        # Snippets are fetched after the list is shown.
        page.wait_for_function("() => [...document.querySelectorAll('#search-results ul.search li')]"
                               ".every(li => li.querySelector('p.context'))", timeout=20_000)
        results = page.evaluate("""() => [...document.querySelectorAll('#search-results ul.search li')].map(li =>
            [li.querySelector('a').getAttribute('href'), li.querySelector('p.context')?.textContent || ''])""")
        assert not problems.items, problems.items
        return dict(results)
    finally:
        page.close()


def _page_text_pieces(visits, name, view="desktop-light") -> list[tuple[str, bool]]:
    """A page's text in reading order, each piece marked as inside a solution or not."""
    page, _ = visits.open(view, name)
    try:
        return [tuple(piece) for piece in page.evaluate("""() => {
            const article = document.querySelector('article.bd-article');
            const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
            const pieces = [];
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (node.parentElement.closest('.headerlink, script, style')) continue;
                pieces.push([node.textContent.toLowerCase(),
                             !!node.parentElement.closest('.tag_solution, details.solution')]);
            }
            return pieces;
        }""")]
    finally:
        page.close()


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_search_does_not_index_or_quote_solution_text(visits, view):
    """A word that appears on an exercise page only inside its solutions does not find that
    page; a word of its questions does, and the snippet shown quotes the questions, not a
    solution (the word chosen, where one exists, among those a page shows first in a solution)."""
    hidden, shared = None, None
    for name in EXERCISES:
        pieces = _page_text_pieces(visits, name, view)
        solution_words = set(WORD.findall(" ".join(t for t, inside in pieces if inside)))
        other_text = " ".join(t for t, inside in pieces if not inside)
        other_words = set(WORD.findall(other_text))
        first_in_solution = {}
        for text, inside in pieces:
            for word in WORD.findall(text):
                first_in_solution.setdefault(word, inside)
        # Sphinx stems words: keep only words whose first six letters start no word outside solutions.
        stems = {word[:6] for word in other_words}
        only_in_solutions = sorted(w for w in solution_words if w[:6] not in stems)
        if hidden is None and only_in_solutions:
            hidden = (name, only_in_solutions[:2])
        both = sorted(w for w in other_words & solution_words if first_in_solution[w])
        if (shared is None or not shared[2]) and (both or other_words):
            shared = (name, (both or sorted(other_words))[0], bool(both), "".join(other_text.split()))
    assert hidden and shared, "no exercise page has both solution-only words and words of its questions"

    name, word, _, other_text = shared
    results = _search(visits, word, view)
    snippet = next((text for href, text in results.items() if href.endswith(name.split("/")[-1] + ".html")), None)
    assert snippet is not None, f"searching for {word!r}, a word of {name}'s questions, does not find it"
    letters = re.compile(r"[\W_]+")
    for piece in snippet.lower().split("..."):
        # Snippets quote formulas as text (book.js), the page's text holds MathJax's reading of
        # them: compare letters and digits only.
        assert letters.sub("", piece) in letters.sub("", other_text), (
            f"the search snippet for {name} quotes a solution: {piece!r}")
    name, words = hidden
    for word in words:
        hrefs = list(_search(visits, word, view))
        assert not any(href.endswith(name.split("/")[-1] + ".html") for href in hrefs), (
            f"searching for {word!r}, found on {name} only inside a solution, finds the page: {hrefs}")


def test_search_lists_the_glossary_once_and_quotes_no_tex(visits):
    """A word of the glossary's definitions lists the glossary once, and no snippet shows TeX
    (formulas are quoted as text)."""
    results = _search(visits, "shrinkage")
    glossary = [href for href in results if href.split("#")[0].endswith("glossary.html")]
    assert len(glossary) == 1, f"the glossary is listed {len(glossary)} times: {glossary}"
    tex = {href: text for href, text in results.items() if re.search(r"\\[()\[\]a-zA-Z]", text)}
    assert not tex, f"snippets show TeX: {tex}"
    # The decision guide's overview names "the shrinkage factor $B_i$": quoted as text.
    guide = next(text for href, text in results.items() if "decision-guide" in href)
    assert "shrinkage factor B_i" in guide, f"the decision guide's snippet reads {guide!r}"


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_landing_page_describes_the_launch_button_it_means(visits, view):
    """The landing page's "rocket" is the launch button of the chapter and exercise pages."""
    intro = visits.report(view, "intro")
    page, _ = visits.open(view, "intro")
    try:
        text = page.locator("article").inner_text()
    finally:
        page.close()
    sentences = [s for s in re.split(r"(?<=\.)\s", text) if "rocket" in s.lower()]
    assert not intro["launchButton"] and sentences
    for sentence in sentences:
        assert "chapter and exercise page" in sentence, f"the landing page says: {sentence!r}"
    lacking = [name for name in NOTEBOOK_PAGES if not visits.report(view, name)["launchButton"]]
    assert not lacking, f"pages without the launch (rocket) button: {lacking}"


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_glossary_status_and_references_as_a_reader_opens_them(visits, view):
    """The old index address lands on the glossary, whose terms are shown with their definitions;
    the status page shows the pages in book order with their status in words; a reference's label
    reads as author and year."""
    page = visits.context(view).new_page()  # not `visits.open`, which inspects the page it opened
    try:
        page.goto(f"{visits.base_url}/genindex.html")
        page.wait_for_url("**/glossary.html", timeout=10_000)
        page.wait_for_load_state("load")
        terms = page.locator("dl.glossary > dt")
        assert terms.count() >= 20, f"the glossary shows {terms.count()} terms"
        assert terms.first.is_visible() and page.locator("dl.glossary > dd").first.is_visible()
    finally:
        page.close()
    page, _ = visits.open(view, "status")
    try:
        rows = page.locator("table.page-status tbody tr")
        listed = [rows.nth(i).locator("a").first.get_attribute("href").removesuffix(".html") for i in range(rows.count())]
        assert listed == NOTEBOOK_PAGES, f"the status page lists {listed}"
        statuses = [rows.nth(i).locator("td").nth(2).inner_text().strip() for i in range(rows.count())]
        assert all(re.fullmatch(r"[a-z][a-z ,()0-9]+", status) for status in statuses), statuses
        assert rows.first.is_visible()
    finally:
        page.close()
    page, _ = visits.open(view, "bibliography")
    try:
        labels = page.locator("div.citation .label")
        assert labels.count() >= 5 and labels.first.is_visible()
        text = labels.first.inner_text().strip("[] ")
        assert re.fullmatch(r"[A-Z][^,\[\]]*, \d{4}[a-z]?", text), f"a reference is labelled {text!r}"
    finally:
        page.close()
