"""A 3x3 kernel on a 2-D image: preset kernels, step-by-step figure, explorer and static grid."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.patches import Rectangle

from cnnlib import functional as F
from cnnlib.book.viz import heatmap

KERNELS_2D = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "vertical edge": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "horizontal edge": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
}
"""Classic 3x3 image kernels by name (the two directed edge kernels are Sobel's)."""


def apply_kernel(image, kernel):
    """Slide one 2-D kernel over one 2-D image (no padding, stride 1, no flip).

    Parameters
    ----------
    image : array_like, shape (H, W)
    kernel : array_like, shape (KH, KW)

    Returns
    -------
    out : ndarray, shape (H - KH + 1, W - KW + 1)
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"apply_kernel: image and kernel must be 2-D, got shapes "
                         f"{image.shape} and {kernel.shape}")
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def conv_steps_figure(image, kernel, *, size=1.7):
    """One small panel per output position: the input with the patch under the kernel.

    Each panel shows the input's values, outlines the patch in red and puts
    the output value for that position in its title.

    Parameters
    ----------
    image : array_like, shape (H, W)
    kernel : array_like, shape (KH, KW)
    size : float
        Width of one panel in inches.

    Returns
    -------
    matplotlib Figure
        A grid of (H - KH + 1) x (W - KW + 1) panels, in output layout.
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    out = apply_kernel(image, kernel)
    kh, kw = kernel.shape
    ho, wo = out.shape
    fig, axes = plt.subplots(ho, wo, figsize=(size * wo, (size + 0.25) * ho), squeeze=False)
    for (i, j), value in np.ndenumerate(out):
        ax = axes[i, j]
        heatmap(ax, image, cmap="Greys", vmin=0, vmax=3 * max(image.max(), 1))
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, ec="red", lw=2.5))
        ax.set_title(f"({i}, {j}) → {value:g}", fontsize=10)
    fig.tight_layout()
    return fig


def display_limits(out, kernel, image):
    """Grey-scale limits (vmin, vmax) for showing a filtered image.

    A kernel whose weights sum to 1 keeps the image's brightness, so its
    output is shown on the input's scale; any other kernel (edges sum to 0)
    is shown on a scale symmetric about 0 that ignores the top 1% of values.
    """
    if np.isclose(np.sum(kernel), 1.0):
        return float(np.min(image)), float(np.max(image))
    top = float(np.percentile(np.abs(out), 99))
    return -top if top > 0 else -1.0, top if top > 0 else 1.0


def kernel_grid(image, kernels, *, ncols=None, size=2.2, cmap="gray", dpi=None):
    """A static kernel explorer: each kernel drawn above what it does to ``image``.

    Parameters
    ----------
    image : array_like, shape (H, W)
    kernels : dict of name -> array_like, shape (KH, KW)
    ncols : int, optional
        Kernels per row; all in one row when not given.
    size : float
        Width of one column in inches.
    cmap : str
        Colour map for the outputs, each scaled by :func:`display_limits`.
    dpi : float, optional
        Resolution of the figure; matplotlib's default when not given.

    Returns
    -------
    matplotlib Figure
        Two rows of panels (kernel, then output) per row of kernels.
    """
    n = len(kernels)
    ncols = n if ncols is None else ncols
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, figsize=(size * ncols, (2 * size + 0.4) * nrows),
                             squeeze=False, dpi=dpi,
                             gridspec_kw={"height_ratios": [0.8, 1.2] * nrows})
    for ax in axes.flat:
        ax.axis("off")
    for index, (name, kernel) in enumerate(kernels.items()):
        row, col = 2 * (index // ncols), index % ncols
        kernel = np.asarray(kernel, dtype=float)
        top = 1.6 * np.abs(kernel).max()
        axes[row, col].axis("on")
        heatmap(axes[row, col], kernel, fmt="{:.2g}", cmap="RdBu", title=name, vmin=-top,
                vmax=top)
        out = apply_kernel(image, kernel)
        vmin, vmax = display_limits(out, kernel, image)
        axes[row + 1, col].imshow(out, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.tight_layout()
    return fig


class KernelExplorer:
    """Choose a preset 3x3 kernel or type its nine weights; see the filtered image.

    Display the instance (or its ``box``) in a notebook.

    Parameters
    ----------
    image : array_like, shape (H, W)
    kernels : dict of name -> array_like, shape (3, 3), optional
        The presets; defaults to :data:`KERNELS_2D`.
    """

    def __init__(self, image, kernels=None):
        self.image = np.asarray(image, dtype=float)
        self.kernels = {name: np.asarray(k, dtype=float)
                        for name, k in (KERNELS_2D if kernels is None else kernels).items()}
        for name, k in self.kernels.items():
            if k.shape != (3, 3):
                raise ValueError(f"KernelExplorer: preset {name!r} has shape {k.shape}, "
                                 "expected (3, 3)")
        self.preset = widgets.Dropdown(options=list(self.kernels), description="preset",
                                       layout=widgets.Layout(width="230px"))
        self.cells = [widgets.FloatText(layout=widgets.Layout(width="66px")) for _ in range(9)]
        grid = widgets.GridBox(self.cells, layout=widgets.Layout(
            grid_template_columns="repeat(3, 70px)", width="230px"))
        self.out = widgets.Output()
        self._filling = False
        self.preset.observe(self._load_preset, names="value")
        for cell in self.cells:
            cell.observe(self.redraw, names="value")
        controls = widgets.VBox([self.preset, widgets.Label("weights"), grid],
                                layout=widgets.Layout(min_width="240px", overflow="hidden"))
        self.box = widgets.HBox([controls, self.out])
        self._load_preset()

    @property
    def kernel(self):
        """The weights now in the nine boxes, shape (3, 3)."""
        return np.array([c.value for c in self.cells], dtype=float).reshape(3, 3)

    @property
    def result(self):
        """The image filtered by :attr:`kernel`, shape (H - 2, W - 2)."""
        return apply_kernel(self.image, self.kernel)

    def _load_preset(self, change=None):
        self._filling = True
        for cell, value in zip(self.cells, self.kernels[self.preset.value].ravel()):
            cell.value = round(float(value), 4)
        self._filling = False
        self.redraw()

    def redraw(self, change=None):
        """Draw the image, the kernel and the result (skipped while a preset loads)."""
        if self._filling:
            return
        out = self.result
        with self.out:
            self.out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(8, 3), dpi=80,
                                     gridspec_kw={"width_ratios": [1, 0.6, 1]})
            axes[0].imshow(self.image, cmap="gray")
            axes[0].set_title("input", fontsize=10)
            axes[0].axis("off")
            k = self.kernel
            top = 1.6 * max(np.abs(k).max(), 1e-9)
            heatmap(axes[1], k, fmt="{:.3g}", cmap="RdBu", vmin=-top, vmax=top, title="kernel")
            vmin, vmax = display_limits(out, k, self.image)
            axes[2].imshow(out, cmap="gray", vmin=vmin, vmax=vmax)
            axes[2].set_title(f"output {out.shape[0]}x{out.shape[1]}", fontsize=10)
            axes[2].axis("off")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)
