"""tools/page_weight.py on a small site of its own: what a page weighs, and what it shares."""
import page_weight


def _site(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"a" * 1000)
    (tmp_path / "_images" / "b.png").write_bytes(b"b" * 3000)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "logo.png").write_bytes(b"s" * 50_000)
    (tmp_path / "mathjax").mkdir()
    (tmp_path / "mathjax" / "tex.js").write_bytes(b"m" * 70_000)
    (tmp_path / "chapters").mkdir()
    page = ('<img src="../_images/a.png"><img src="../_images/a.png">'
            '<img src="../_images/b.png?v=1"><img src="../_static/logo.png"><img src="data:image/png;base64,AA">')
    (tmp_path / "chapters" / "page.html").write_text(page)
    return tmp_path, len(page)


def test_a_page_counts_its_html_and_each_image_once_but_not_shared_assets(tmp_path):
    site, html_bytes = _site(tmp_path)
    row = page_weight.page_weight(site, "chapters/page")
    assert row == {"page": "chapters/page", "html": html_bytes, "images": 4000, "image_count": 2,
                   "own": html_bytes + 4000}


def test_the_report_lists_pages_and_the_shared_assets_separately(tmp_path):
    site, html_bytes = _site(tmp_path)
    text, rows = page_weight.report(site, ["chapters/page"])
    assert [row["page"] for row in rows] == ["chapters/page"]
    assert f"| chapters/page | {html_bytes / 1000:,.0f} kB | 4 kB (2) |" in text
    assert "| theme assets (_static/) | 50 kB |" in text
    assert "| MathJax (mathjax/) | 70 kB |" in text
