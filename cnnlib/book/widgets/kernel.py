"""A 3x3 kernel on a 2-D image: presets, the step-by-step figure, the explorer (live and static)."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from cnnlib import functional as F
from cnnlib.book.viewer import (Control, Frame, StaticViewer, figure_data_uri, figure_png,
                                 live_and_static)
from cnnlib.book.viz import MAX_WIDTH, heatmap

KERNELS_2D = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "vertical edge": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "horizontal edge": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
}
"""Classic 3x3 image kernels by name (the two directed edge kernels are Sobel's)."""

CENTRE_STEPS = (-1.0, 0.0, 1.0)
"""What the static explorer can add to a preset's centre weight."""


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
    size = min(size, MAX_WIDTH / wo)
    fig, axes = plt.subplots(ho, wo, figsize=(size * wo, (size + 0.25) * ho), squeeze=False)
    for (i, j), value in np.ndenumerate(out):
        ax = axes[i, j]
        heatmap(ax, image, cmap="Greys", vmin=0, vmax=3 * max(image.max(), 1))
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, ec="red", lw=2.5))
        ax.set_title(f"({i}, {j}) → {value:g}")
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


def _signed(v):
    return f"{v:+g}"


class KernelExplorer:
    """Choose a preset 3x3 kernel or type its nine weights; see the filtered image.

    In a notebook it is a live ipywidget (a preset menu and nine boxes); on a
    web page, a :class:`~cnnlib.book.viewer.StaticViewer` over every preset
    with :data:`CENTRE_STEPS` added to its centre weight.

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
        self.picture = widgets.Image(format="png")
        self._filling = False
        self.preset.observe(self._load_preset, names="value")
        for cell in self.cells:
            cell.observe(self.redraw, names="value")
        controls = widgets.VBox([self.preset, widgets.Label("weights"), grid],
                                layout=widgets.Layout(min_width="240px", overflow="hidden"))
        self.box = widgets.HBox([controls, self.picture],
                                layout=widgets.Layout(flex_flow="row wrap"))
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

    def figure(self, kernel, title="kernel"):
        """The explorer's picture: the kernel's weights, and the filtered image at twice its size.

        The output is drawn pixel for pixel (each pixel as a 2x2 block), not
        resampled, so what the reader sees is exactly what the kernel gave.
        """
        kernel = np.asarray(kernel, dtype=float)
        out = apply_kernel(self.image, kernel)
        big = np.kron(out, np.ones((2, 2)))
        dpi, margin, gap, side = 100, 0.08, 0.25, 1.5           # inches
        width = 2 * margin + side + gap + big.shape[1] / dpi
        height = max(side + 0.4, big.shape[0] / dpi + 0.35)
        fig = plt.figure(figsize=(width, height), dpi=dpi)
        ax = fig.add_axes([margin / width, (height - side - 0.3) / 2 / height, side / width,
                           side / height])
        top = 1.6 * max(np.abs(kernel).max(), 1e-9)
        heatmap(ax, kernel, fmt="{:.3g}", cmap="RdBu", vmin=-top, vmax=top, title=title,
                fontsize=10)
        vmin, vmax = display_limits(out, kernel, self.image)
        left = int(round((margin + side + gap) * dpi))
        fig.figimage(big, xo=left, yo=int(0.05 * dpi), cmap="gray", vmin=vmin, vmax=vmax,
                     origin="upper")
        fig.text((left + big.shape[1] / 2) / (width * dpi), 1 - 0.2 / height,
                 f"output {out.shape[0]}×{out.shape[1]}", ha="center", va="center", fontsize=10)
        return fig

    def redraw(self, change=None):
        """Draw the kernel and the result (skipped while a preset loads)."""
        if self._filling:
            return
        self.picture.value = figure_png(self.figure(self.kernel), colors=32)

    def _frame(self, setting):
        name, step = setting["preset"], setting["centre"]
        kernel = self.kernels[name].copy()
        kernel[1, 1] += step
        out = apply_kernel(self.image, kernel)
        total = float(kernel.sum())
        title = name if step == 0 else f"{name}, centre {_signed(step)}"
        caption = (f"{title}: the weights sum to {total:.3g}; output {out.shape[0]} × "
                   f"{out.shape[1]}, values from {out.min():.2f} to {out.max():.2f}")
        return Frame(figure_data_uri(self.figure(kernel, title=title), colors=32),
                     caption=caption, alt=f"The {title} kernel's weights and the filtered image.",
                     values={"kernel": kernel.tolist(), "sum": total, "shape": list(out.shape),
                             "min": float(out.min()), "max": float(out.max())})

    def static(self):
        """The web page's form: every preset, with a step added to its centre weight."""
        controls = [Control("preset", tuple(self.kernels), kind="buttons"),
                    Control("centre", CENTRE_STEPS, label="centre weight",
                            labels=[_signed(s) for s in CENTRE_STEPS], initial=0.0)]
        inputs = {"image_shape": list(self.image.shape),
                  "kernels": {n: k.tolist() for n, k in self.kernels.items()}}
        return StaticViewer(controls, self._frame, inputs=inputs)

    def _repr_mimebundle_(self, **kwargs):
        return live_and_static(self.box, self.static().html())
