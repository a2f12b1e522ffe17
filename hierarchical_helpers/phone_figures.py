"""A phone rendition of every figure a page draws: the same figure, redrawn narrower and taller.

A figure drawn FIGURE_WIDTH_INCHES wide shows its smallest text (MIN_FONT_POINTS) too small on a
phone's column of about 358 CSS pixels. `setup_page` registers `phone_bundle` with IPython's
display machinery, so that every matplotlib figure a notebook displays carries, next to its
ordinary PNG, a second PNG drawn from a copy of the same figure object: PHONE_WIDTH_INCHES wide,
at the same resolution and font sizes, with its grid of panels relaid into one column (two for
grids of four columns or more) and each figure legend moved under the panels. It travels in the
output's metadata under PHONE_METADATA_KEY, which Jupyter, Colab and nbval ignore; the website
(`_ext/site_theme.py`) serves it to narrow screens with `<picture>`.

Figures whose panels are not independent (one axes holding only labels, as ArviZ's forest plot
has) keep their layout and are only redrawn narrower; figures already at most PHONE_WIDTH_INCHES
wide get no phone rendition (the desktop image fits).
"""
from __future__ import annotations

import base64
import io
import pickle

# The phone rendition's width: a 358 CSS px column shows MIN_FONT_POINTS (9.5 pt) at
# 9.5 / 72 * 358 / 5.0 = 9.4 px, above the website's 8 px minimum.
PHONE_WIDTH_INCHES = 5.0
PHONE_METADATA_KEY = "hierarchical_book/phone"
# Room around one panel of the stacked layout (titles, tick labels, axis labels), in inches.
PANEL_MARGIN_INCHES = 0.75
# A stacked panel is at most this tall and at least this tall, in inches.
PANEL_HEIGHT_RANGE = (1.6, 3.0)


def _draws_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images)


def _grid_axes(fig):
    """The figure's axes placed on one top-level grid, if every axes is (else None)."""
    from matplotlib.gridspec import GridSpec

    axes = [ax for ax in fig.axes if ax.get_visible()]
    specs = [ax.get_subplotspec() for ax in axes]
    if not axes or any(spec is None for spec in specs):
        return None
    grids = {id(spec.get_gridspec()) for spec in specs}
    if len(grids) != 1 or not isinstance(specs[0].get_gridspec(), GridSpec):
        return None
    return axes


def _phone_layout(axes, ncols):
    """Rows of the phone grid: lists of (axes, spans the full row), in reading order."""
    phone_columns = 1 if ncols <= 3 else 2
    rows, row = [], []
    ordered = sorted(axes, key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))
    for ax in ordered:
        spec = ax.get_subplotspec()
        if len(spec.colspan) == ncols and ncols > 1 or phone_columns == 1:
            if row:
                rows.append(row)
                row = []
            rows.append([ax])
            continue
        row.append(ax)
        if len(row) == phone_columns:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return rows, phone_columns


def _show_tick_labels(ax, left_neighbour):
    """Panels that hid inner tick labels (shared axes, or by hand) get them back where the new
    layout needs them: x labels under every panel; y labels unless the panel sits right of a panel
    with the same y range."""
    if ax.xaxis.get_label_position() == "bottom":
        ax.xaxis.set_tick_params(which="both", labelbottom=True)
    if ax.yaxis.get_label_position() == "left":
        if left_neighbour is None or tuple(left_neighbour.get_ylim()) != tuple(ax.get_ylim()):
            ax.yaxis.set_tick_params(which="both", labelleft=True)


def _restack(fig, axes):
    from matplotlib.gridspec import GridSpec

    old_width, old_height = fig.get_size_inches()
    ncols = axes[0].get_subplotspec().get_gridspec().get_geometry()[1]
    rows, phone_columns = _phone_layout(axes, ncols)
    low, high = PANEL_HEIGHT_RANGE
    heights = [min(high, max(low, max(ax.get_position().height * old_height for ax in row))) for row in rows]
    fig.set_size_inches(PHONE_WIDTH_INCHES, sum(heights) + PANEL_MARGIN_INCHES * len(rows), forward=False)
    grid = GridSpec(len(rows), phone_columns, figure=fig, height_ratios=heights)
    for r, row in enumerate(rows):
        if len(row) == 1 and (phone_columns == 1 or len(row[0].get_subplotspec().colspan) == ncols):
            row[0].set_subplotspec(grid[r, :])
        else:
            for c, ax in enumerate(row):
                ax.set_subplotspec(grid[r, c])
        for c, ax in enumerate(row):
            _show_tick_labels(ax, row[c - 1] if c else None)


def _legend_columns(legend) -> list:
    return legend._legend_handle_box.get_children()


def _repack_legend(legend, columns: int) -> None:
    """Lay a legend's entries out in `columns` columns, in the same order (down each column, as
    matplotlib fills them). Matplotlib builds a legend's box once (`set_ncols` alone does not
    re-lay it out), so the entries are repacked into new columns of the same spacing."""
    from matplotlib.offsetbox import VPacker

    entries = [entry for column in _legend_columns(legend) for entry in column.get_children()]
    per_column = -(-len(entries) // columns)
    spacing = legend.labelspacing * legend._fontsize
    legend._legend_handle_box._children = [
        VPacker(pad=0, sep=spacing, align="baseline", children=entries[k:k + per_column])
        for k in range(0, len(entries), per_column)]
    legend.stale = True


def _legends_below(fig) -> float:
    """Move each figure legend under the panels, in as many columns as fit; its height in figure fraction."""
    if not fig.legends:
        return 0.0
    renderer = fig.canvas.get_renderer()  # an Agg canvas (phone_figure attaches one)
    bottom = 0.0
    for legend in fig.legends:
        legend.set_loc("lower center")
        legend.set_bbox_to_anchor((0.5, bottom), transform=fig.transFigure)
        columns = len(_legend_columns(legend))
        while columns > 1 and legend.get_window_extent(renderer).width > 0.96 * fig.bbox.width:
            columns -= 1
            _repack_legend(legend, columns)
        bottom += legend.get_window_extent(renderer).height / fig.bbox.height
    return bottom


def _wrap_wide_titles(fig, renderer) -> bool:
    """Break titles and x-axis labels that no longer fit across the narrower figure into lines
    (at spaces; never inside $...$ math). True if any changed."""
    import textwrap

    texts = [fig._suptitle] if fig._suptitle else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label]
    changed = False
    for text in texts:
        content = text.get_text()
        if not content or "$" in content or "\n" in content or not text.get_visible():
            continue
        box = text.get_window_extent(renderer)
        centre = (box.x0 + box.x1) / 2
        room = 2 * min(centre, fig.bbox.width - centre) * 0.96
        if box.width <= room or room <= 0:
            continue
        width = max(12, int(len(content) * room / box.width))
        text.set_text(textwrap.fill(content, width=width, break_long_words=False))
        changed = True
    return changed


def _keep_annotations_inside(fig, renderer) -> bool:
    """Widen a linear x axis whose annotations (text placed in the axes) now run off the figure."""
    changed = False
    for ax in fig.axes:
        if ax.get_xscale() != "linear" or not ax.texts:
            continue
        boxes = [text.get_window_extent(renderer) for text in ax.texts if text.get_visible() and text.get_text()]
        if not boxes:
            continue
        right = max(box.x1 for box in boxes) - fig.bbox.width * 0.99
        left = fig.bbox.width * 0.01 - min(box.x0 for box in boxes)
        if right <= 0 and left <= 0:
            continue
        low, high = ax.get_xlim()
        per_pixel = (high - low) / ax.get_window_extent(renderer).width
        ax.set_xlim(low - max(left, 0) * per_pixel * 1.3, high + max(right, 0) * per_pixel * 1.3)
        changed = True
    return changed


def phone_figure(fig):
    """A copy of `fig` laid out for a phone, or None if `fig` is already narrow enough."""
    if fig.get_size_inches()[0] <= PHONE_WIDTH_INCHES + 1e-6:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # A copy outside pyplot (a figure pickled while pyplot manages it would be re-registered as
    # a new pyplot figure, which the inline backend would then display too).
    manager, fig.canvas.manager = fig.canvas.manager, None
    try:
        copy = pickle.loads(pickle.dumps(fig))
    finally:
        fig.canvas.manager = manager
    FigureCanvasAgg(copy)
    axes = _grid_axes(copy)
    if axes is not None and len(axes) > 1 and all(_draws_data(ax) for ax in axes):
        _restack(copy, axes)
    else:
        width, height = copy.get_size_inches()
        copy.set_size_inches(PHONE_WIDTH_INCHES, height, forward=False)
    if axes is not None:
        import warnings

        copy.set_layout_engine(None)
        legend_height = _legends_below(copy)
        renderer = copy.canvas.get_renderer()
        for _ in range(2):  # lay out, then fix what the narrower layout pushed off the figure
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "not compatible with tight_layout": keep what it can do
                copy.tight_layout(rect=(0, legend_height + (0.01 if legend_height else 0), 1, 1))
            wrapped = _wrap_wide_titles(copy, renderer)
            widened = _keep_annotations_inside(copy, renderer)
            if not (wrapped or widened):
                break
    return copy


def phone_png(fig) -> bytes | None:
    """The phone rendition of `fig` as PNG bytes (same dpi and fonts), or None if not needed."""
    copy = phone_figure(fig)
    if copy is None:
        return None
    buffer = io.BytesIO()
    # Same options as the inline backend's PNG (setup_page keeps bbox_inches off).
    copy.savefig(buffer, format="png", dpi=copy.dpi, bbox_inches=None, facecolor=copy.get_facecolor(),
                 edgecolor=copy.get_edgecolor())
    return buffer.getvalue()


def phone_bundle(fig):
    """IPython mimebundle formatter: no data of its own, the phone PNG in the output's metadata."""
    try:
        png = phone_png(fig)
    except Exception:  # a figure that cannot be copied keeps only its ordinary rendition
        return None
    if png is None:
        return None
    return {}, {PHONE_METADATA_KEY: {"image/png": base64.b64encode(png).decode("ascii")}}


def register(shell) -> None:
    """Make every matplotlib figure `shell` displays carry its phone rendition."""
    from matplotlib.figure import Figure

    shell.display_formatter.mimebundle_formatter.for_type(Figure, phone_bundle)
