"""Matplotlib figures shared by the chapters: annotated grids, image rows, confusion counts."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


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
            vmax=None, fontsize=9):
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
    fontsize : float
        Size of the numbers.

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
        ax.set_title(title, fontsize=10)
    return ax


def integer_ticks(ax, axis="both"):
    """Put ticks on whole numbers only, for axes that count positions or steps."""
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


MAX_WIDTH = 6.2
"""Widest figure, in inches, that the book's column shows legibly at phone width."""


def show_images(images, titles=None, *, ncols=8, size=1.3, cmap="gray_r", vmin=None,
                vmax=None):
    """A grid of small images (each 2-D) with optional titles; returns the figure.

    ``size`` is each image's side in inches, shrunk if needed so that the
    figure stays within :data:`MAX_WIDTH` and reads on a phone.
    """
    images = list(images)
    nrows = -(-len(images) // ncols)
    ncols = min(ncols, len(images))
    size = min(size, MAX_WIDTH / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm
