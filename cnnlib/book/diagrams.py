"""Block diagrams of network blocks: boxes for layers, arrows for the data."""

import matplotlib.pyplot as plt

from cnnlib.book.viz import MIN_FONTSIZE

ROW_GAP = 0.5
"""Extra room above and below the boxes, in rows."""


def _box(ax, x, y, text, colour):
    """A label in a rounded box that grows with the text; returns the box (a patch)."""
    label = ax.text(x, y, text, ha="center", va="center", fontsize=MIN_FONTSIZE, zorder=3,
                    bbox={"boxstyle": "round,pad=0.45,rounding_size=0.5", "facecolor": colour,
                          "edgecolor": "0.25", "linewidth": 0.8})
    return label.get_bbox_patch()


def _arrow(ax, start, end, patch_a=None, patch_b=None):
    """An arrow from ``start`` to ``end`` (data points), cut where it leaves ``patch_a`` and where
    it enters ``patch_b``. It is drawn after the boxes, which fit their patches to the text as
    they are drawn."""
    ax.annotate("", xy=end, xytext=start, zorder=4,
                arrowprops={"arrowstyle": "->", "color": "0.25", "linewidth": 0.8,
                            "shrinkA": 0, "shrinkB": 0, "patchA": patch_a, "patchB": patch_b})


def _line(ax, points):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color="0.25", linewidth=0.8, zorder=1)


def block_diagram(ax, columns, *, join="concat", input_label="input", title=None,
                  colours=None):
    """Draw a block of parallel paths that start at one input and meet at ``join``.

    Each box is as wide as its label, so a long label never spills out of it;
    lines run between the boxes' centres and are hidden behind the boxes.

    Parameters
    ----------
    ax : matplotlib Axes
    columns : list of list of str
        One list of layer labels per path, drawn top to bottom; an empty list
        is a path with no layers (an identity shortcut).
    join : str
        Label of the box where the paths meet ("concat", "+", ...); with one
        path and ``join=None`` the diagram is a plain stack.
    input_label, title : str
    colours : list of str, optional
        One face colour per column.
    """
    n_cols = len(columns)
    depth = max(1, max(len(c) for c in columns))
    colours = colours or [f"C{i}" for i in range(n_cols)]
    xs = [i - (n_cols - 1) / 2 for i in range(n_cols)]
    top = 0.0
    bottom = -(depth + 1) if join else -depth
    source = _box(ax, 0, top, input_label, "0.92")
    sink = _box(ax, 0, bottom, join, "0.92") if join else None
    turn = top - 0.5  # where a side path turns down from the input
    merge = bottom + 0.5  # where a side path turns towards the join
    for x, layers, colour in zip(xs, columns, colours):
        span = depth + 1 if join else depth
        ys = [top - (i + 1) * span / (len(layers) + 1) for i in range(len(layers))]
        if not join:
            ys = [top - (i + 1) for i in range(len(layers))]
        start, patch = (0, top), source
        if x != 0:  # a side path leaves the input box's centre and turns down
            _line(ax, [(0, top), (x, turn)])
            start, patch = (x, turn), None
        for y, label in zip(ys, layers):
            box = _box(ax, x, y, label, _lighter(colour))
            _arrow(ax, start, (x, y), patch, box)
            start, patch = (x, y), box
        if join and x != 0:
            _line(ax, [start, (x, merge)])
            _arrow(ax, (x, merge), (0, bottom), None, sink)
        elif join:
            _arrow(ax, start, (0, bottom), patch, sink)
    half = max(xs[-1], 0) + 0.5
    ax.set_xlim(-half, half)
    ax.set_ylim(bottom - ROW_GAP, top + ROW_GAP)
    ax.axis("off")
    if title:
        ax.set_title(title)


def _lighter(colour, amount=0.65):
    """``colour`` mixed with white."""
    r, g, b = plt.matplotlib.colors.to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)
