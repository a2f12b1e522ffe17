"""Small Sphinx fixes for this book's website (loaded through `sphinx.local_extensions`).

* sphinx-thebe and sphinx-togglebutton add an inline script while the build runs, and it
  lands on every page twice (once through Sphinx's registry, once through the builder), so
  browsers report "Identifier 'THEBE_JS_URL' has already been declared". Each page keeps one
  copy of any script that appears twice.
* Two accessibility fixes in page bodies (the axe-core audit in tests/test_website.py):
  docutils marks each bibliography entry `role="doc-biblioentry"` inside a `role="list"`, a
  deprecated role and a list without list items (aria-required-children, critical), so
  entries become `role="listitem"`; myst-nb labels each hidden cell's toggle "Toggle hidden
  content" while it shows "Show code cell content" (label-content-name-mismatch, serious),
  so the toggle is named by its visible text.
"""

BODY_FIXES = [
    ('role="doc-biblioentry"', 'role="listitem"'),
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
]


def _script_key(script):
    attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
    # Sphinx 7 page scripts are _JavaScript objects (filename, priority, attributes); an inline
    # script has its code in `body` and a filename of None or "" depending on whether it came
    # through the registry or the builder. Priority does not make two copies differ.
    return getattr(script, "filename", str(script)) or "", attributes


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: later handlers (MathJax on pages with math) add to this same list.
    context["script_files"][:] = unique


def fix_accessibility(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        for old, new in BODY_FIXES:
            body = body.replace(old, new)
        context["body"] = body


def setup(app):
    # Early: `html-page-context` stops at the first handler that returns a template name.
    app.connect("html-page-context", drop_duplicate_scripts, priority=100)
    app.connect("html-page-context", fix_accessibility, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

