"""_ext/icon_font.py on a small site of its own: the theme's stylesheet and Font Awesome fonts, a
page and a script that name icons. (tests/test_website.py checks the icons in the browser.)"""
import importlib.util
import re
import shutil
from pathlib import Path

import pydata_sphinx_theme
from fontTools.ttLib import TTFont

from book_layout import ROOT

THEME_STATIC = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
ROCKET, GITHUB, XMARK, DRAGON = 0xF135, 0xF09B, 0xF00D, 0xF6D5
# What the theme's stylesheet draws itself: the admonitions' "info" icon, the breadcrumbs' chevron.
CIRCLE_INFO, ANGLE_RIGHT = 0xF05A, 0xF105


def icon_font():
    spec = importlib.util.spec_from_file_location("icon_font", ROOT / "_ext" / "icon_font.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(tmp_path):
    static = tmp_path / "_static"
    (static / "styles").mkdir(parents=True)
    shutil.copyfile(THEME_STATIC / "styles" / "pydata-sphinx-theme.css", static / "styles" / "pydata-sphinx-theme.css")
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    fonts.mkdir(parents=True)
    for font in (THEME_STATIC / "vendor" / "fontawesome" / "webfonts").glob("*.ttf"):
        shutil.copyfile(font, fonts / font.name)
    (static / "scripts").mkdir()
    # The theme's script adds a close button; fontawesome.js itself names every icon and is not read.
    (static / "scripts" / "pydata-sphinx-theme.js").write_text('r.classList="fa-solid fa-xmark"')
    (static / "scripts" / "fontawesome.js").write_text('var icons = ["fa-dragon"];')
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "page.html").write_text(
        '<button><i class="fas fa-rocket"></i></button><a><span class="fab fa-github"></span></a>')
    return tmp_path


def _cmap(path):
    return set(TTFont(path).getBestCmap())


def test_the_fonts_hold_the_icons_the_site_shows_and_no_other(tmp_path):
    site = _site(tmp_path)
    kept = icon_font().write_icon_font(site)
    assert {ROCKET, GITHUB, XMARK, CIRCLE_INFO, ANGLE_RIGHT} <= kept
    assert DRAGON not in kept
    assert len(kept) < 60, f"{len(kept)} icons kept"
    fonts = site / "_static" / "book-icons"
    solid, brands = fonts / "fa-solid-900.woff", fonts / "fa-brands-400.woff"
    assert {ROCKET, XMARK, CIRCLE_INFO} <= _cmap(solid) and GITHUB not in _cmap(solid)
    assert GITHUB in _cmap(brands) and ROCKET not in _cmap(brands)
    assert all(TTFont(path).flavor == "woff" for path in fonts.iterdir())
    total = sum(path.stat().st_size for path in fonts.iterdir())
    assert total < 20_000, f"the icon fonts weigh {total} bytes"


def test_the_stylesheet_names_only_the_subset_fonts(tmp_path):
    site = _site(tmp_path)
    icon_font().write_icon_font(site)
    css = (site / "_static" / "book-icons.css").read_text()
    faces = re.findall(r"@font-face\{([^}]*)\}", css)
    assert len(faces) == 3
    for face in faces:
        url = re.search(r"src:url\(([^)]+)\)", face)[1]
        assert (site / "_static" / url).is_file(), face
        assert "(book subset)" in face and "font-weight" in face
    # Each theme rule that names a Font Awesome family is restated with the subset's name: the
    # icon classes, and the variables the theme's own drawn icons use.
    assert re.search(r'\.fa-solid[^{]*\{font-family:"Font Awesome 6 Free \(book subset\)"\}', css)
    assert re.search(r'\.fab[^{]*\{font-family:"Font Awesome 6 Brands \(book subset\)"\}', css)
    assert '--fa-font-solid:normal 900 1em/1 "Font Awesome 6 Free (book subset)"' in css
    unrenamed = re.findall(r"Font Awesome(?:\\ | )6 (?:Free|Brands)(?! \(book subset\))", css)
    assert not unrenamed, f"the stylesheet still names the theme's fonts: {unrenamed}"
