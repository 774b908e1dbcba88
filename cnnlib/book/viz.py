"""Matplotlib figures shared by the chapters: annotated grids, image rows, confusion matrices."""

import matplotlib.pyplot as plt
import numpy as np


def heatmap(ax, a, *, annotate=True, fmt="{:g}", cmap="Blues", title=None, vmin=None,
            vmax=None):
    """Draw a 2-D array as coloured cells, optionally writing each value in its cell."""
    a = np.asarray(a)
    ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        lo, hi = (a.min(), a.max()) if vmin is None else (vmin, vmax)
        mid = (lo + hi) / 2
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9,
                    color="white" if v > mid and cmap in ("Blues", "viridis_r", "gray_r")
                    else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_images(images, titles=None, *, ncols=8, size=1.3, cmap="gray_r", vmin=None,
                vmax=None):
    """A grid of small images (each 2-D) with optional titles; returns the figure."""
    images = list(images)
    nrows = -(-len(images) // ncols)
    ncols = min(ncols, len(images))
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
