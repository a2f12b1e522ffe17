"""Rewrite the reference images in figures/ from the committed executed notebooks.

Usage: python tools/update_figures.py   (run by `make figures`, after `make notebooks`)

Run it only when a figure is meant to change; the tests compare every figure the pages
draw against these references.
"""
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_layout import ROOT, executed_notebook, notebook_figures, notebook_sources, reference_dir  # noqa: E402


def main():
    figures_root = ROOT / "figures"
    if figures_root.exists():
        shutil.rmtree(figures_root)
    for source in notebook_sources():
        notebook = executed_notebook(source)
        if not notebook.exists():
            print(f"{notebook.relative_to(ROOT)} is missing: run `make notebooks` first")
            return 1
        figures = notebook_figures(nbformat.read(notebook, as_version=4))
        target = reference_dir(notebook)
        for name, png in figures.items():
            target.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(png)
        print(f"{notebook.relative_to(ROOT)}: {len(figures)} reference figure(s)")
    (figures_root / "README.md").write_text(
        "Reference images of every figure the book draws, one folder per notebook; `<name>.phone.png`\n"
        "is the figure's phone rendition (hierarchical_helpers/phone_figures.py).\n"
        "Written by `make figures`; compared with freshly executed figures by `make test`.\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
