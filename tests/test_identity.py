"""Licence and identity: LICENSE, LICENSE-CONTENT, CITATION.cff, the release in every page's
footer, a description and Open Graph tags on each page, and the sitemap."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from book_layout import ROOT, release_tag, toc_docnames


def test_licences_and_citation_are_there_and_agree_with_the_release():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert "CC BY 4.0" in content and "creativecommons.org/licenses/by/4.0" in content
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert "v" + citation["version"] == release_tag(), "CITATION.cff's version is not pyproject.toml's"
    assert citation["authors"] and citation["title"] == yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert set(citation["license"]) == {"MIT", "CC-BY-4.0"}
    # The placeholder author is named as such for the maintainer.
    assert "placeholder" in (ROOT / "CITATION.cff").read_text().lower()
    assert "placeholder" in (ROOT / "README.md").read_text().lower()


@pytest.mark.slow
def test_every_page_has_a_description_open_graph_tags_and_the_release(built_site):
    tag = release_tag()
    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    for name in toc_docnames():
        page = (built_site / f"{name}.html").read_text()
        for tag_name in ('property="og:title"', 'property="og:url"', 'property="og:description"',
                         'name="description"'):
            assert tag_name in page, f"{name}.html has no {tag_name}"
        description = re.search(r'<meta name="description" content="([^"]*)"', page).group(1)
        assert len(description) > 40, f"{name}.html: description {description!r}"
        assert f'content="{base}{name}.html"' in page, f"{name}.html: og:url is not its address"
        assert f"Release {tag}" in page, f"{name}.html: no release in the footer"


@pytest.mark.slow
def test_the_sitemap_lists_every_page(built_site):
    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    tree = ET.parse(built_site / "sitemap.xml")
    locations = {el.text for el in tree.iter() if el.tag.endswith("loc")}
    missing = [name for name in toc_docnames() if f"{base}{name}.html" not in locations]
    assert not missing, f"sitemap.xml lacks {missing}"


@pytest.mark.slow
def test_the_pdf_prints_the_release_and_its_date():
    """The PDF is printed from the pages, whose footer carries the release and its date."""
    import subprocess
    import sys

    from pypdf import PdfReader

    import build_pdf
    import build_site

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_pdf.py")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"build_pdf failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(str(build_pdf.OUTPUT)).pages)
    release = f"Release {release_tag()}, {build_site.release_date()}"
    assert release in text, f"the PDF does not print {release!r}"
