"""Block diagrams of network blocks: boxes for layers, arrows for the data."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from cnnlib.book.viz import MIN_FONTSIZE

BOX_WIDTH = 0.86
BOX_HEIGHT = 0.56


def _box(ax, x, y, text, colour):
    ax.add_patch(FancyBboxPatch((x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
                                boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=colour,
                                edgecolor="0.25", linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=MIN_FONTSIZE)


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "->", "color": "0.25", "linewidth": 0.8,
                            "shrinkA": 0, "shrinkB": 0})


def _line(ax, start, end):
    ax.plot([start[0], end[0]], [start[1], end[1]], color="0.25", linewidth=0.8)


def block_diagram(ax, columns, *, join="concat", input_label="input", title=None,
                  colours=None):
    """Draw a block of parallel paths that start at one input and meet at ``join``.

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
    top, bottom = 0.0, -(depth + 1)
    _box(ax, 0, top, input_label, "0.92")
    for x, layers, colour in zip(xs, columns, colours):
        ys = [top - (i + 1) * (depth + 1) / (len(layers) + 1) for i in range(len(layers))]
        start = (x, top - BOX_HEIGHT / 2)
        if x != 0:  # a side path leaves the input box's centre and turns down
            start = (x, top - BOX_HEIGHT)
            _line(ax, (0, top - BOX_HEIGHT / 2), start)
        for y, label in zip(ys, layers):
            _arrow(ax, start, (x, y + BOX_HEIGHT / 2))
            _box(ax, x, y, label, _lighter(colour))
            start = (x, y - BOX_HEIGHT / 2)
        if join and x != 0:
            _line(ax, start, (x, bottom + BOX_HEIGHT))
            _arrow(ax, (x, bottom + BOX_HEIGHT), (0, bottom + BOX_HEIGHT / 2))
        elif join:
            _arrow(ax, start, (0, bottom + BOX_HEIGHT / 2))
    if join:
        _box(ax, 0, bottom, join, "0.92")
    half = max(xs[-1], 0) + BOX_WIDTH / 2 + 0.05
    ax.set_xlim(-half, half)
    ax.set_ylim(bottom - BOX_HEIGHT, top + BOX_HEIGHT)
    ax.axis("off")
    if title:
        ax.set_title(title)


def _lighter(colour, amount=0.65):
    """``colour`` mixed with white."""
    r, g, b = plt.matplotlib.colors.to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)
