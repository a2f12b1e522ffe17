"""Exercise pages: how to work on them, labelled solutions, and solutions kept out of search.

Loaded through `sphinx.local_extensions`; acts on the pages under `exercises/` only, so the
exercise sources need not change.

* A box at the top of every exercise page, in both editions, says how to work: open the page as
  a notebook on Colab or Binder (links to this page's committed notebook, the ones the launch
  button offers), answer in the marked cells, run the check after each answer, and for a graded
  course submit the saved notebook. On paper (the PDF) the first step prints the Colab and Binder
  addresses and the page's address on the website (`html: baseurl:` in _config.yml, Sphinx's html_baseurl), and the note
  on solutions says where they are online.
* Solution toggles say what they reveal: a code cell tagged `solution` shows "Show solution" /
  "Hide solution" instead of "Show code cell content", and so does a written solution (a
  dropdown titled "Solution").
* The main edition's search does not index solution text: each page's doctree is handed to
  Sphinx's indexer without its solution nodes, which stay on the page. (The student edition has
  no solutions at all.)
"""
from __future__ import annotations

from urllib.parse import urlsplit

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

EXERCISE_FOLDER = "exercises/"
SOLUTION_CLASSES = {"solution", "tag_solution"}
SHOW, HIDE = "Show solution", "Hide solution"


def is_exercise(docname: str) -> bool:
    return docname.startswith(EXERCISE_FOLDER)


def launch_urls(config, docname: str) -> dict[str, str]:
    """Colab and Binder addresses of a page's committed notebook at the release tag, as the launch
    buttons give them (`site_theme.point_repository_links`)."""
    theme = config.html_theme_options
    launch = theme.get("launch_buttons", {})
    owner_repo = urlsplit(theme.get("repository_url", "")).path.strip("/")
    branch = config.book_release_tag or theme.get("repository_branch") or "main"
    prefix = theme.get("path_to_docs", "").strip("/")
    notebook = f"{prefix + '/' if prefix else ''}{docname}.ipynb"
    interface = {"classic": "tree", "jupyterlab": "lab/tree"}[launch.get("notebook_interface", "classic")]
    urls = {}
    if launch.get("colab_url") and owner_repo:
        urls["Colab"] = f"{launch['colab_url'].rstrip('/')}/github/{owner_repo}/blob/{branch}/{notebook}"
    if launch.get("binderhub_url") and owner_repo:
        urls["Binder"] = f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{owner_repo}/{branch}?urlpath={interface}/{notebook}"
    return urls


def _text(*parts) -> list[nodes.Node]:
    """Inline nodes from strings (plain text), (`code`,) 1-tuples (literal) and nodes."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(nodes.Text(part))
        elif isinstance(part, tuple):
            out.append(nodes.literal(part[0], part[0]))
        else:
            out.append(part)
    return out


def page_address(config, docname: str) -> str:
    """This page's address on the published website (`html: baseurl:` in _config.yml, Sphinx's html_baseurl), or ""."""
    website = (config.html_baseurl or "").rstrip("/")
    return f"{website}/{docname}.html" if website else ""


def _url(address: str) -> nodes.reference:
    return nodes.reference("", address, refuri=address, classes=["printed-url"])


def printed_opening(config, docname: str, urls: dict[str, str]) -> list:
    """Step 1 on paper, where there is no button to press: the addresses to type."""
    website = page_address(config, docname)
    parts = ["Open this exercise in Colab: ", _url(urls["Colab"]), ". "] if "Colab" in urls else []
    if website:
        parts += ["Its page on the website, ", _url(website),
                  ", also opens it on Binder and downloads it for your own Jupyter."]
    return parts or ["Download this exercise as a notebook from the website and run it in Jupyter."]


def how_to_work_box(config, docname: str) -> nodes.admonition:
    urls = launch_urls(config, docname)
    links = []
    for label, url in urls.items():
        if links:
            links.append(" or ")
        links.append(nodes.reference("", f"on {label}", refuri=url, classes=["exercise-launch"]))
    opening = (["Open the exercise as a notebook, "] + links
               + [" (the rocket button at the top offers the same), or download it with the download "
                  "button for your own Jupyter. The notebook carries its own checks, so the file alone "
                  "is enough."]) if links else [
        "Download this page as a notebook with the download button and run it in Jupyter."]
    box = nodes.admonition(classes=["exercise-how-to"])
    box += nodes.title("", "How to work on this exercise")
    steps = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
    first = nodes.list_item()
    first += nodes.paragraph("", "", *_text(*opening), classes=["only-screen"])
    first += nodes.paragraph("", "", *_text(*printed_opening(config, docname, urls)), classes=["only-print"])
    steps += first
    for parts in (
        ["Run the cells from the top. Answer each question in the cell below it: replace the ",
         ("...",), " in a code cell, and the text ", nodes.emphasis("", "Type your answer here"),
         " in a text cell."],
        ["After each code answer, run the check cell that follows it (", ('grader.check("q2")',),
         ", say): it tells you whether your answer passes."],
        ["For a graded course, save the notebook with its answers and submit the ", (".ipynb",),
         " file as your instructor asks."],
    ):
        steps += nodes.list_item("", nodes.paragraph("", "", *_text(*parts)))
    box += steps
    if config.book_local_install:
        box += nodes.paragraph("", "", *_text(
            "On your own computer, with Python 3.13, install what the notebook needs with one line, "
            "then open it with ", ("jupyter lab",), ":"))
        box += nodes.literal_block(config.book_local_install, config.book_local_install,
                                   language="bash", classes=["exercise-local-install"])
    if config.book_edition == "main":
        note = nodes.paragraph("", "", *_text(
            "Each solution on this page stays collapsed until you open it: try the question first."))
        note["classes"].append("only-screen")
        box += note
        website = page_address(config, docname)
        printed = nodes.paragraph("", "", *_text(
            "This printed edition leaves the solutions out; they are on the website"
            + (": " if website else "."), *([_url(website), "."] if website else [])))
        printed["classes"].append("only-print")
        box += printed
    return box


def add_how_to_work_box(app, doctree):
    docname = app.env.docname
    if not is_exercise(docname):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    # Under the title, after the page's own overview box if it has one.
    position = 1
    if len(section) > 1 and "page-overview" in section[1].get("classes", []):
        position = 2
    section.insert(position, how_to_work_box(app.config, docname))


def _is_solution_dropdown(node) -> bool:
    if node.get("design_component") != "dropdown" or not node.get("has_title") or not node.children:
        return False
    return node[0].astext().strip().rstrip(".:").lower() == "solution"


def label_written_solutions(app, doctree):
    """A dropdown titled "Solution" shows "Show solution" or "Hide solution" as it is closed or open."""
    for node in doctree.findall(nodes.container):
        if _is_solution_dropdown(node):
            node["container_classes"] = [*node.get("container_classes", []), "solution"]
            title = node[0]
            title.children = []
            title += nodes.inline("", SHOW, classes=["solution-show"])
            title += nodes.inline("", HIDE, classes=["solution-hide"])


class LabelCodeSolutions(SphinxPostTransform):
    """A code cell tagged `solution` is hidden behind "Show solution", not "Show code cell content".

    Runs before myst-nb's HideInputCells (priority 199), which wraps the cell and reads these labels.
    """

    default_priority = 198
    formats = ("html",)

    def run(self, **kwargs):
        for node in self.document.findall(nodes.container):
            if node.get("nb_element") == "cell_code" and node.get("hide_mode") and \
                    "tag_solution" in node.get("classes", []):
                node["prompt_show"], node["prompt_hide"] = SHOW, HIDE


def without_solutions(doctree: nodes.document) -> nodes.document:
    """A copy of a page's doctree with every solution node removed."""
    copy = doctree.deepcopy()
    for node in list(copy.findall(nodes.Element)):
        if SOLUTION_CLASSES & set(node.get("classes", [])) and node.parent is not None:
            node.parent.remove(node)
    return copy


def keep_solutions_out_of_search(app):
    builder = app.builder
    if builder.format != "html" or not hasattr(builder, "index_page"):
        return
    index_page = builder.index_page

    def index_page_without_solutions(pagename, doctree, title):
        if is_exercise(pagename):
            doctree = without_solutions(doctree)
        index_page(pagename, doctree, title)

    builder.index_page = index_page_without_solutions


def setup(app):
    # The one `pip install` line for a local Jupyter (tools/build_site.py sets it; empty: no line).
    app.add_config_value("book_local_install", "", "env")
    app.connect("doctree-read", add_how_to_work_box)
    app.connect("doctree-read", label_written_solutions)
    app.add_post_transform(LabelCodeSolutions)
    app.connect("builder-inited", keep_solutions_out_of_search)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
