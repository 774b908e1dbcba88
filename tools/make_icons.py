"""Draw the book's favicon and logo: a 3x3 kernel sliding over an image.

Run from the repository root: .venv/bin/python tools/make_icons.py
Writes book/assets/favicon.png and book/assets/logo.png.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "book" / "assets"
SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
CMAP = plt.get_cmap("RdBu_r")
ACCENT = "#e8710a"


def cells(ax, values, x0, y0, size, gap, cmap, vmin, vmax, edge=None):
    """Draw a grid of squares, row 0 at the top, lower-left corner at (x0, y0)."""
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            colour = cmap((values[r, c] - vmin) / (vmax - vmin))
            ax.add_patch(Rectangle((x0 + c * size + gap / 2, y0 + (rows - 1 - r) * size + gap / 2),
                                   size - gap, size - gap, facecolor=colour,
                                   edgecolor=edge or colour, linewidth=0.8))


def favicon():
    fig = plt.figure(figsize=(1, 1), dpi=64)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 3)
    ax.set_ylim(0, 3)
    ax.axis("off")
    cells(ax, SOBEL, 0, 0, 1, 0.14, CMAP, -2.4, 2.4)
    fig.savefig(OUT / "favicon.png", transparent=True)
    plt.close(fig)


def logo():
    rng = np.random.default_rng(3)
    image = np.zeros((6, 6))
    image[1:5, 2] = 1.0          # a small letter T on a 6x6 canvas
    image[1, 1:4] = 1.0
    image += 0.12 * rng.random((6, 6))
    fig = plt.figure(figsize=(3.6, 2.0), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(-0.2, 11.2)
    ax.set_ylim(-0.2, 6.2)
    ax.set_aspect("equal")
    ax.axis("off")
    greys = plt.get_cmap("Greys")
    cells(ax, image, 0, 0, 1, 0.08, greys, -0.2, 1.3)
    ax.add_patch(Rectangle((1, 3), 3, 3, fill=False, edgecolor=ACCENT, linewidth=3))
    cells(ax, SOBEL, 1.15, 3.15, 0.9, 0.5, CMAP, -2.4, 2.4)
    ax.add_patch(FancyArrowPatch((4.4, 4.5), (6.5, 4.5), arrowstyle="-|>", mutation_scale=18,
                                 color=ACCENT, linewidth=2.5))
    out = np.abs(np.array([[(image[r:r + 3, c:c + 3] * SOBEL).sum() for c in range(4)]
                           for r in range(4)]))
    cells(ax, out, 7, 1, 1, 0.08, plt.get_cmap("Oranges"), -0.3, out.max() + 0.3)
    ax.add_patch(Rectangle((8, 4), 1, 1, fill=False, edgecolor=ACCENT, linewidth=3))
    fig.savefig(OUT / "logo.png", transparent=True)
    plt.close(fig)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    favicon()
    logo()
