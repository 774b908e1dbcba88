"""Where sliding windows land: their positions, an explorer (live and static), receptive fields."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from cnnlib.book.viz import MAX_WIDTH, MIN_FONTSIZE
from cnnlib.book.widgets.sliders import SliderExplorer
from cnnlib.nn.windows import coverage, window_starts
from cnnlib.tools.shapes import grow_receptive_field, receptive_field_units

_PAD_COLOR = "#d9d9d9"
_UNSEEN_COLOR = "#f4b6b6"

STATIC_GRID = {"n": (5, 6, 7), "kernel": (2, 3), "stride": (1, 2, 3), "padding": (0, 1)}
"""The settings the static explorer precomputes (with ceil mode off and on)."""


def draw_positions(ax, n, kernel, *, stride=1, padding=0, ceil_mode=False, title=True,
                   fontsize=9):
    """Draw a square input, its padding and every position of a square kernel.

    Input cells are shaded by how many windows cover them (the count is in
    the cell's corner, on a white label that window outlines do not hide);
    cells that no window covers are red; padding cells are grey. Each window
    is outlined in its own colour, nested slightly so that overlapping
    windows stay visible, with a dot at its centre (one dot per output
    pixel). A partial window of ``ceil_mode`` runs past the padded input; the
    missing cells are drawn dotted.

    Parameters
    ----------
    ax : matplotlib Axes
    n, kernel, stride, padding : int
    ceil_mode : bool
    title : bool
        Put the setting and the output size in the title.
    fontsize : float
        Size of the counts (the title is one point larger).

    Returns
    -------
    starts : ndarray of int, shape (n_out,)
        The window starts along each axis, as from :func:`window_starts`.
    """
    starts = window_starts(n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    counts = coverage(n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    padded = n + 2 * padding
    size = max(padded, starts[-1] + kernel)
    cover2d = np.outer(counts, counts)
    top = max(cover2d.max(), 1)
    cmap = plt.get_cmap("Blues")
    for r in range(size):
        for c in range(size):
            if r >= padded or c >= padded:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ls=":",
                                       ec="0.5", lw=0.8))
                continue
            if not (padding <= r < padding + n and padding <= c < padding + n):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fc=_PAD_COLOR, ec="white",
                                       lw=1))
                continue
            v = cover2d[r, c]
            color = _UNSEEN_COLOR if v == 0 else cmap(0.1 + 0.4 * v / top)
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fc=color, ec="white", lw=1))
            ax.text(c - 0.42, r - 0.42, str(v), ha="left", va="top", fontsize=fontsize,
                    zorder=4, bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none",
                                    "alpha": 0.85})
    ax.add_patch(Rectangle((padding - 0.5, padding - 0.5), n, n, fill=False, ec="black",
                           lw=1.5))
    colors = plt.get_cmap("tab10")
    inset_steps = min(len(starts), 3)
    lw = 1.4 if len(starts) <= 3 else 0.9
    mid = (kernel - 1) / 2
    for i, r0 in enumerate(starts):
        for j, c0 in enumerate(starts):
            inset = 0.1 + 0.1 * ((i + j) % inset_steps)
            color = colors((i * len(starts) + j) % 10)
            ax.add_patch(Rectangle((c0 - 0.5 + inset, r0 - 0.5 + inset), kernel - 2 * inset,
                                   kernel - 2 * inset, fill=False, ec=color, lw=lw))
            ax.plot(c0 + mid, r0 + mid, "o", color=color, ms=4)
    ax.set_xlim(-0.6, size - 0.4)
    ax.set_ylim(size - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        mode = ", ceil" if ceil_mode else ""
        m = len(starts)
        ax.set_title(f"n={n}, k={kernel}, s={stride}, p={padding}{mode}\noutput {m}×{m}",
                     fontsize=fontsize + 1)
    return starts


def describe_positions(n, kernel, stride, padding, ceil_mode):
    """The explorer's caption and the numbers it states, for one setting.

    Returns
    -------
    (str, dict)
        The text, and ``{"output": n_out, "starts": [...], "unread": cells}``
        where ``unread`` counts the input cells (in 2-D) that no window reads.
    """
    starts = window_starts(n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    counts = coverage(n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    inside = counts[padding: padding + n]
    unread = n * n - int(np.count_nonzero(inside)) ** 2
    m = len(starts)
    mode = " in ceil mode" if ceil_mode else ""
    text = (f"n = {n}, k = {kernel}, s = {stride}, p = {padding}{mode}: output {m} × {m}. "
            f"Windows start at {', '.join(map(str, starts))} (counting the padding); "
            f"input cells never read: {unread}.")
    return text, {"output": m, "starts": starts.tolist(), "unread": unread}


class PositionsExplorer(SliderExplorer):
    """Sliders for input size, kernel, stride, padding and ceil mode over :func:`draw_positions`.

    In a notebook it is a live ipywidget; on a web page, a
    :class:`~cnnlib.book.viewer.StaticViewer` over :data:`STATIC_GRID` with
    ceil mode off and on.

    Parameters
    ----------
    n, kernel, stride, padding : int
        The setting shown first.
    """

    SLIDERS = {"n": ("input size n", 2, 10), "kernel": ("kernel k", 1, 6),
               "stride": ("stride s", 1, 4), "padding": ("padding p", 0, 3)}
    CHECKBOXES = {"ceil_mode": "ceil mode"}
    STATIC_GRID = STATIC_GRID
    ALT = "Every position of the kernel on the padded input. "

    def __init__(self, n=5, kernel=3, stride=1, padding=0):
        super().__init__(n=n, kernel=kernel, stride=stride, padding=padding)

    describe = staticmethod(describe_positions)

    @staticmethod
    def draw(ax, n, kernel, stride, padding, ceil_mode):
        draw_positions(ax, n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                       title=False, fontsize=10)


def draw_receptive_field(layers, *, margin=2, ax=None):
    """Draw the receptive field of one top unit, layer by layer, along one axis.

    Each row is one layer (the input at the bottom). A dot is one unit,
    placed at the centre of its own receptive field in input pixels; the
    coloured dots are those that feed the top unit, and lines join each one
    to the units it reads. The right margin gives each layer's size and jump.

    Parameters
    ----------
    layers : list of (label, kernel, stride)
    margin : int
        Input pixels drawn on each side of the receptive field, with the
        units around them in grey.
    ax : matplotlib Axes, optional

    Returns
    -------
    sizes : list of int
        Receptive-field size after each layer (input first, so 1).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(MAX_WIDTH, 0.7 * len(layers) + 1.2))
    windows = [(kernel, stride, 1) for _, kernel, stride in layers]
    units = receptive_field_units(windows)
    size, jump = map(list, zip(*grow_receptive_field(windows)))
    width = size[-1]
    labels = ["input"] + [label for label, _, _ in layers]

    def centre(level, i):
        return i * jump[level] + (size[level] - 1) / 2

    for px in range(-margin, width + margin):
        fc = "#fdd49e" if px in units[0] else "white"
        ax.add_patch(Rectangle((px - 0.5, -0.3), 1, 0.6, fc=fc, ec="0.5", lw=0.8))
    colors = plt.get_cmap("viridis")
    for level in range(len(labels)):
        first = -(margin // jump[level])
        last = (width + margin - size[level]) // jump[level]
        xs = [centre(level, i) for i in range(first, last + 1)]
        ax.plot(xs, [level] * len(xs), "o", color="0.8", ms=5, zorder=2)
        color = colors(level / max(len(layers), 1) * 0.85)
        ax.plot([centre(level, i) for i in units[level]], [level] * len(units[level]), "o",
                color=color, ms=7, zorder=3)
        if level > 0:
            _, kernel, stride = layers[level - 1]
            for i in units[level]:
                for t in range(kernel):
                    ax.plot([centre(level, i), centre(level - 1, i * stride + t)],
                            [level, level - 1], color=color, lw=0.7, alpha=0.6, zorder=1)
        ax.text(-margin - 1, level, labels[level], ha="right", va="center",
                fontsize=MIN_FONTSIZE)
        ax.text(width + margin, level, f"size {size[level]}, jump {jump[level]}", ha="left",
                va="center", fontsize=MIN_FONTSIZE)
    ax.set_xlim(-margin - 4, width + margin + 5)
    ax.set_ylim(-0.6, len(layers) + 0.5)
    ax.axis("off")
    return size
