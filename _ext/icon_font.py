"""The website's icons from a small font, without the theme's fontawesome.js (loaded through
`sphinx.local_extensions`).

pydata-sphinx-theme loads `_static/scripts/fontawesome.js` (about 1.5 MB) on every page, the
landing page included, to turn each `<i class="fa-solid fa-...">` of the header (chapter list,
search, colour mode, repository, download and launch buttons) into an SVG. The theme's stylesheet
already holds Font Awesome's webfont rules (every `.fa-NAME:before {content}` and the `@font-face`
of its fonts), so the `<i>` elements can be drawn from a font instead, and a font holding only the
icons the book shows weighs a few kB where the theme's fonts weigh 300 kB.

When the HTML build has finished, this extension

* collects the icons the site uses: every `fa-NAME` class in the written pages and in the site's
  scripts (the theme's script adds a close button, for instance), and every icon the stylesheets
  draw themselves (admonition titles, breadcrumbs, external links: the theme's `--pst-icon-*`);
* subsets each of the theme's Font Awesome fonts (its `@font-face` rules say which files) to
  those glyphs with fontTools, as WOFF (WOFF2 would need brotli, which the environment lacks, and
  saves little on a font this small), into `_static/book-icons/`;
* writes `_static/book-icons.css`, linked from every page after the theme's stylesheet: an
  `@font-face` for each subset under a family name of its own, and the theme's rules that name a
  Font Awesome family restated with that name. The theme's full fonts are then never requested.

`_templates/static/webpack-macros.html` leaves the script tag of fontawesome.js out of every page.
"""
from __future__ import annotations

import re
from pathlib import Path

import tinycss2
from fontTools import subset
from fontTools.ttLib import TTFont

ICON_CLASS = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")
ICON_RULE_SELECTOR = re.compile(r"^\.fa-[a-z0-9-]+::?before$")
STYLESHEET = "book-icons.css"
FONT_FOLDER = "book-icons"
# The theme's script that this extension replaces: neither read for icon names nor loaded.
THEME_SCRIPT = "fontawesome.js"


def _is_private_use(character: str) -> bool:
    return len(character) == 1 and 0xE000 <= ord(character) <= 0xF8FF


def _declarations(rule):
    return [item for item in tinycss2.parse_declaration_list(rule.content, skip_comments=True,
                                                             skip_whitespace=True)
            if item.type == "declaration"]


def _strings(tokens):
    """Every string token in a declaration's value, inside functions such as var() too."""
    for token in tokens:
        if token.type == "string":
            yield token.value
        elif token.type == "function":
            yield from _strings(token.arguments)


def _family_name(tokens) -> str:
    return " ".join(tinycss2.serialize(tokens).replace("\\ ", " ").strip("'\" ").split())


class ThemeIcons:
    """What the site's stylesheets say about Font Awesome: the icon each `fa-NAME` class draws,
    the icons the stylesheets draw themselves, the font faces, and the rules naming a family."""

    def __init__(self, stylesheets: list[Path]):
        self.codepoints: dict[str, int] = {}  # icon class -> the character it draws
        self.drawn_by_css: set[int] = set()
        self.faces: list[tuple[Path, dict[str, str]]] = []  # (TrueType file, its descriptors)
        rules = []
        for path in stylesheets:
            for rule in tinycss2.parse_stylesheet(path.read_text(), skip_comments=True, skip_whitespace=True):
                if rule.type == "at-rule" and rule.lower_at_keyword == "font-face":
                    self._add_face(path, rule)
                elif rule.type == "qualified-rule":
                    rules.append(rule)
        self.families = sorted({descriptors["font-family"] for _, descriptors in self.faces})
        self.family_rules = []  # (selector, [(property, value text)]) naming a Font Awesome family
        for rule in rules:
            self._read_rule(rule)

    def _add_face(self, stylesheet: Path, rule):
        descriptors, truetype = {}, None
        for declaration in _declarations(rule):
            if declaration.lower_name == "src":
                urls = [token.value for token in declaration.value if token.type == "url"]
                truetype = next((url for url in urls if url.split("?")[0].endswith(".ttf")), None)
            elif declaration.lower_name == "font-family":
                descriptors["font-family"] = _family_name(declaration.value)
            else:
                descriptors[declaration.lower_name] = tinycss2.serialize(declaration.value).strip()
        if truetype and "Font Awesome" in descriptors.get("font-family", ""):
            self.faces.append(((stylesheet.parent / truetype.split("?")[0]).resolve(), descriptors))

    def _read_rule(self, rule):
        selectors = [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
        declarations = _declarations(rule)
        if all(ICON_RULE_SELECTOR.match(s) for s in selectors):
            content = [d for d in declarations if d.lower_name == "content"]
            characters = [text for d in content for text in _strings(d.value)]
            if len(characters) == 1 and len(characters[0]) == 1:
                for selector in selectors:
                    self.codepoints[selector.lstrip(".").split(":")[0]] = ord(characters[0])
                return
        naming = []
        for declaration in declarations:
            for text in _strings(declaration.value):
                self.drawn_by_css.update(ord(c) for c in text if _is_private_use(c))
            value = tinycss2.serialize(declaration.value)
            if any(_family_pattern(family).search(value) for family in self.families):
                naming.append((declaration.name, value))
        if naming:
            self.family_rules.append((", ".join(selectors), naming))


def _family_pattern(family: str) -> re.Pattern:
    """A family name as stylesheets write it: quoted, or bare with escaped or plain spaces."""
    words = r"(?:\\ |\s+)".join(re.escape(word) for word in family.split())
    return re.compile(rf"""(["']?){words}\1""")


def subset_family(family: str) -> str:
    return f"{family} (book subset)"


def used_icon_classes(site: Path) -> set[str]:
    """Every `fa-NAME` the written pages and the site's scripts mention."""
    names = set()
    files = list(site.rglob("*.html")) + [path for path in (site / "_static").rglob("*.js")
                                          if path.name != THEME_SCRIPT]
    for path in files:
        names.update(ICON_CLASS.findall(path.read_text(errors="replace")))
    return names


def subset_font(truetype: Path, codepoints: set[int], target: Path) -> set[int]:
    """Write the glyphs of `codepoints` that `truetype` holds to `target` (WOFF); returns them."""
    font = TTFont(truetype)
    kept = codepoints & set(font.getBestCmap())
    if not kept:
        return kept
    options = subset.Options()
    options.name_IDs = ["*"]  # the font's copyright and licence stay in it
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(kept))
    subsetter.subset(font)
    font.flavor = "woff"
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(target)
    return kept


def icon_stylesheet(theme: ThemeIcons, fonts: list[tuple[str, dict[str, str]]]) -> str:
    """The @font-face of each subset font and the theme's family rules, renamed."""
    lines = ["/* Written by _ext/icon_font.py: the icons this site shows, subset from the theme's "
             "Font Awesome fonts. */"]
    for url, descriptors in fonts:
        properties = [f'font-family:"{subset_family(descriptors["font-family"])}"']
        properties += [f"{name}:{value}" for name, value in descriptors.items() if name != "font-family"]
        properties.append(f'src:url({url}) format("woff")')
        lines.append("@font-face{" + ";".join(properties) + "}")
    for selector, declarations in theme.family_rules:
        restated = []
        for name, value in declarations:
            for family in theme.families:
                value = _family_pattern(family).sub(f'"{subset_family(family)}"', value)
            restated.append(f"{name}:{value}")
        lines.append(f"{selector}{{{';'.join(restated)}}}")
    return "\n".join(lines) + "\n"


def write_icon_font(site: Path) -> set[int]:
    """Subset the theme's icon fonts to what `site` shows and write the stylesheet; returns the
    characters kept."""
    static = site / "_static"
    stylesheets = sorted(path for path in static.rglob("*.css") if path.name != STYLESHEET)
    theme = ThemeIcons(stylesheets)
    used = {theme.codepoints[name] for name in used_icon_classes(site) if name in theme.codepoints}
    wanted = used | theme.drawn_by_css
    fonts, kept = [], set()
    for truetype, descriptors in theme.faces:
        name = f"{truetype.stem}.woff"
        in_font = subset_font(truetype, wanted, static / FONT_FOLDER / name)
        if in_font:
            fonts.append((f"{FONT_FOLDER}/{name}", descriptors))
            kept |= in_font
    (static / STYLESHEET).write_text(icon_stylesheet(theme, fonts))
    return kept


def build_icon_font(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    write_icon_font(Path(app.outdir))


def setup(app):
    app.add_css_file(STYLESHEET)
    app.connect("build-finished", build_icon_font)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
