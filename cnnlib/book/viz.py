"""Matplotlib figures shared by the chapters: the book style, annotated grids, image rows, confusion counts.

The legibility rule
-------------------
A figure on the web page is shown at most as wide as the text column, and on
a phone (390 px screen) that column is 358 CSS px wide. The browser scales the
whole PNG to fit, text included, so a text of ``fontsize`` points in a figure
``W`` inches wide is drawn ``fontsize * 358 / (72 * W)`` CSS px tall there.
For it to stay readable (at least about 11 CSS px)::

    fontsize_pt / figure_width_in >= 2.2        (MIN_RATIO)

A 5-inch-wide figure needs text of at least 11 pt, a 7-inch one 15.4 pt.
:func:`use_book_style` (called in every chapter's setup cell) sets defaults
that satisfy it: 11 pt for the smallest text (tick labels, legends), 12 pt
elsewhere, figures 5 inches wide by default, and :data:`MAX_WIDTH` = 5 inches
for the helpers here. Prefer fewer panels per row (two rows of four rather
than one row of eight) to smaller text, and never set a ``fontsize`` below
:data:`MIN_FONTSIZE`. :func:`legibility_problems` lists the texts of a
figure that break the rule.

The style also saves inline figures at twice the resolution ("retina"): the
PNG has 200 pixels per inch and its output metadata asks the page to show it
at half its pixel size, so a figure keeps its CSS size (100 px per inch) and
stays sharp on high-density screens. The book's CSS lets images shrink to the
column's width and keeps their aspect ratio.
"""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

MIN_RATIO = 2.2
"""Smallest allowed ratio of a text's size in points to its figure's width in inches."""

MIN_FONTSIZE = 11
"""Smallest font size, in points, that the book's figures use (tick labels, legends)."""

MAX_WIDTH = MIN_FONTSIZE / MIN_RATIO
"""Widest figure, in inches (5.0), whose smallest text still reads at phone width."""

BOOK_STYLE = {
    "figure.figsize": (MAX_WIDTH, 3.2),
    "figure.dpi": 100,
    "savefig.dpi": "figure",
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": MIN_FONTSIZE,
    "ytick.labelsize": MIN_FONTSIZE,
    "legend.fontsize": MIN_FONTSIZE,
    "legend.title_fontsize": MIN_FONTSIZE,
    "figure.titlesize": 13,
    "figure.labelsize": 12,
    "lines.linewidth": 2.0,
}
"""The rcParams that :func:`use_book_style` sets."""


def use_book_style():
    """Set the book's figure defaults (:data:`BOOK_STYLE`) and, in Jupyter, retina PNGs.

    Every chapter calls this once in its setup cell. Outside IPython only the
    rcParams change.
    """
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import InlineBackend, set_matplotlib_formats

    # The trait covers the inline backend being set up later (it reads the
    # formats from here); the call covers the formatters already in place.
    InlineBackend.instance().figure_formats = {"retina"}
    set_matplotlib_formats("retina")


def legibility_problems(fig, *, ratio=MIN_RATIO):
    """The visible texts of a figure that are too small for its width.

    Parameters
    ----------
    fig : matplotlib Figure
    ratio : float
        Smallest allowed ``fontsize_pt / figure_width_in``.

    Returns
    -------
    list of (str, float)
        Each offending text and its size in points; empty when the figure
        follows the rule. Tick labels count; empty strings do not.
    """
    fig.canvas.draw()
    width = fig.get_figwidth()
    problems = []
    for text in fig.findobj(mpl.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_figure() is not None:
            size = text.get_fontsize()
            if size / width < ratio - 1e-9:
                problems.append((text.get_text(), size))
    return problems


def relative_luminance(rgba):
    """WCAG relative luminance of colours, 0 (black) to 1 (white).

    Parameters
    ----------
    rgba : array_like, shape (..., 3) or (..., 4)
        sRGB components in [0, 1]; alpha is ignored.

    Returns
    -------
    ndarray, shape (...)
    """
    rgb = np.asarray(rgba, dtype=float)[..., :3]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def text_colour(rgba):
    """"black" or "white", whichever contrasts more with a background colour.

    Black wins when the background's relative luminance L is above 0.179,
    where the two contrast ratios, (L + 0.05) / 0.05 and 1.05 / (L + 0.05),
    are equal.
    """
    return "black" if relative_luminance(rgba) > 0.179 else "white"


def heatmap(ax, a, *, annotate=True, fmt="{:g}", cmap="Blues", title=None, vmin=None,
            vmax=None, fontsize=None):
    """Draw a 2-D array as coloured cells, optionally writing each value in its cell.

    Each number is written in black or white, whichever reads better on its
    cell's colour (:func:`text_colour`), so any colour map works.

    Parameters
    ----------
    ax : matplotlib Axes
    a : array_like, shape (H, W)
    annotate : bool
    fmt : str
        Format of the numbers, e.g. ``"{:.1f}"``.
    cmap : str or Colormap
    title : str, optional
    vmin, vmax : float, optional
        Colour limits; the data's range by default.
    fontsize : float, optional
        Size of the numbers and the title, in points; by default the style's
        ``font.size`` and ``axes.titlesize``.

    Returns
    -------
    matplotlib Axes
    """
    a = np.asarray(a)
    image = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        colours = image.cmap(image.norm(a))
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color=text_colour(colours[i, j]))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)
    return ax


def integer_ticks(ax, axis="both"):
    """Put ticks on whole numbers only, for axes that count positions or steps."""
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def show_images(images, titles=None, *, ncols=4, size=1.25, cmap="gray_r", vmin=None,
                vmax=None):
    """A grid of small images (each 2-D) with optional titles; returns the figure.

    ``size`` is each image's side in inches, shrunk if needed so that the
    figure stays within :data:`MAX_WIDTH` and its titles (the style's
    ``axes.titlesize``) read on a phone. Four per row keeps each image about
    90 CSS px wide on a phone; pass fewer, shorter titles rather than more columns.
    """
    images = list(images)
    nrows = -(-len(images) // ncols)
    ncols = min(ncols, len(images))
    size = min(size, MAX_WIDTH / ncols)
    title_room = 0.35 if titles is not None else 0.05
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + title_room) * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i])
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm
