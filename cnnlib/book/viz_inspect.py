"""Figures for looking inside a network: boxes, heat-map overlays, image grids, reliability."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from cnnlib.book.viz import MAX_WIDTH, MIN_FONTSIZE


def draw_box(ax, top, left, size, *, color="C1", lw=1.5, label=None):
    """Outline the pixels ``[top, top + size) x [left, left + size)`` of an image on ``ax``."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor=color,
                           lw=lw, label=label, clip_on=True))


def overlay(ax, image, heat, *, centre=(0.0, 0.0), step=1.0, cmap="Reds", vmax=None,
            title=None):
    """A heat map with the image's ink drawn over it in translucent black.

    Parameters
    ----------
    ax : matplotlib Axes
    image : ndarray, shape (H, W), ink = 1, paper = 0
    heat : ndarray, shape (h, w), at least 0
        Cell (i, j) is drawn centred on pixel ``(centre[0] + i * step,
        centre[1] + j * step)`` and ``step`` pixels wide, smoothed between
        cells when ``step > 1``. The defaults suit a map with one cell per
        pixel. For the units of a layer, ``centre`` is the middle of unit
        (0, 0)'s receptive box and ``step`` the distance between neighbouring
        boxes.
    cmap : the heat map's colours, white at 0 by default
    vmax : float, optional
        The value drawn at full colour; the heat map's maximum by default.
    title : str, optional
    """
    image = np.asarray(image, dtype=float)
    heat = np.asarray(heat, dtype=float)
    h, w = heat.shape
    r0, c0 = centre
    extent = (c0 - step / 2, c0 + (w - 0.5) * step, r0 + (h - 0.5) * step, r0 - step / 2)
    top = heat.max() if vmax is None else vmax
    ax.imshow(heat, cmap=cmap, vmin=0, vmax=top if top > 0 else 1, extent=extent,
              interpolation="bilinear" if step > 1 else "nearest")
    ink = np.zeros((*image.shape, 4))
    ink[..., 3] = 0.55 * np.clip(image, 0, 1)
    ax.imshow(ink, interpolation="nearest")
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def image_grid(rows, *, row_labels=None, titles=None, size=1.0, cmap="gray_r", vmin=None,
               vmax=None):
    """A grid of small images given row by row; returns the figure.

    Parameters
    ----------
    rows : list of lists of 2-D arrays
        One list per row; rows may differ in length.
    row_labels : list of str, optional
        Written to the left of each row.
    titles : list of lists of str, optional
        Same layout as ``rows``.
    size : float
        Width and height of one image in inches.
    cmap : str or list of str
        One colour map for every image, or one per column.
    vmin, vmax : float, optional
        The colour range of every image; by default each image uses its own.
    """
    ncols = max(len(r) for r in rows)
    cmaps = [cmap] * ncols if isinstance(cmap, str) else list(cmap)
    size = min(size, (MAX_WIDTH - 0.6) / ncols)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols + 0.6,
                                                         (size + 0.25) * len(rows)),
                             squeeze=False)
    for i, row in enumerate(rows):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            ax.imshow(row[j], cmap=cmaps[j], vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[i][j])
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], rotation=0, ha="right",
                                  va="center")
    fig.tight_layout()
    return fig


def reliability_diagram(ax, rel, *, color="C0"):
    """Accuracy per confidence bin, its gap to the mean confidence, and the bins' sizes.

    The bars are each bin's accuracy; the hatched boxes run from there to the
    bin's mean confidence (the gap that the ECE averages); the dashed
    diagonal is perfect calibration. Each non-empty bin's count is written at
    the foot of its bar.

    Parameters
    ----------
    ax : matplotlib Axes
    rel : cnnlib.tools.calibration.Reliability
    color : the bars' colour
    """
    width = np.diff(rel.edges)
    full = rel.count > 0
    left, w = rel.edges[:-1][full], width[full]
    acc, conf = rel.accuracy[full], rel.confidence[full]
    ax.bar(left, acc, width=w, align="edge", color=color, alpha=0.75, edgecolor="white",
           label="accuracy")
    ax.bar(left, conf - acc, bottom=acc, width=w, align="edge", fill=False,
           edgecolor="C3", hatch="///", lw=0.8, label="gap to confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    for x, n in zip(left + w / 2, rel.count[full]):
        ax.text(x, 0.03, str(n), ha="center", va="bottom", rotation=90,
                fontsize=MIN_FONTSIZE)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
