"""How a transposed convolution's stamps overlap: an explorer over kernel, stride and padding."""

import numpy as np

from cnnlib import functional as F
from cnnlib.book.widgets.sliders import SliderExplorer

INPUT_SIZE = 4
"""The explorer upsamples a 4x4 input of ones."""

STATIC_GRID = {"kernel": (2, 3, 4, 5), "stride": (1, 2, 3), "padding": (0, 1)}
"""The settings the static explorer precomputes."""


def stamp_counts(kernel, stride, padding, n=INPUT_SIZE):
    """How many kernel stamps land on each output pixel of an n x n input of ones.

    Returns
    -------
    ndarray of int, shape (H_out, W_out)
        The transposed convolution of ones with a kernel of ones: every input
        pixel adds 1 to the ``kernel`` x ``kernel`` block it stamps.
    """
    out = F.conv_transpose2d(np.ones((1, 1, n, n)), np.ones((1, 1, kernel, kernel)),
                             stride=stride, padding=padding)
    return out[0, 0].astype(int)


def steady_counts(kernel, stride):
    """Stamps per output pixel along one axis, away from the borders: floor and ceil of k / s.

    Output pixel o is stamped by the inputs i with ``i s <= o < i s + k``,
    which are ``floor(k / s)`` or ``ceil(k / s)`` of them, depending on
    ``o mod s``: the same for every pixel only when s divides k.
    """
    return kernel // stride, -(-kernel // stride)


def describe_stamps(kernel, stride, padding):
    """(caption, values) for one setting: the output size and the stamps away from the borders."""
    counts = stamp_counts(kernel, stride, padding)
    low, high = steady_counts(kernel, stride)
    if low == 0:
        verdict = "some pixels would get no stamp (the stride is larger than the kernel)"
    elif low == high:
        verdict = f"each pixel would get {low * low} stamps ({low} per axis): even"
    else:
        verdict = (f"each pixel would get {low * low} to {high * high} stamps ({low} or {high} per "
                   f"axis): uneven, a checkerboard")
    text = (f"{INPUT_SIZE}×{INPUT_SIZE} input, kernel {kernel}, stride {stride}, padding "
            f"{padding}: output {counts.shape[0]}×{counts.shape[1]}. Inside a large input "
            f"{verdict}.")
    return text, {"output": int(counts.shape[0]), "low": low, "high": high}


def draw_stamps(ax, kernel, stride, padding):
    """Heat map of :func:`stamp_counts`, with each count written in its cell."""
    counts = stamp_counts(kernel, stride, padding)
    ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(4, counts.max()) * 1.3)
    size = 9 if counts.shape[0] <= 9 else 8
    for (r, c), value in np.ndenumerate(counts):
        ax.text(c, r, str(value), ha="center", va="center", fontsize=size)
    ax.set_xticks([])
    ax.set_yticks([])


class StampExplorer(SliderExplorer):
    """Sliders for kernel, stride and padding over :func:`draw_stamps`.

    In a notebook it is a live ipywidget; on a web page, a
    :class:`~cnnlib.book.viewer.StaticViewer` over :data:`STATIC_GRID`.

    Parameters
    ----------
    kernel, stride, padding : int
        The setting shown first.
    """

    SLIDERS = {"kernel": ("kernel k", 1, 6), "stride": ("stride s", 1, 4),
               "padding": ("padding p", 0, 2)}
    STATIC_GRID = STATIC_GRID
    FIGSIZE = 3.2
    ALT = "Stamps per output pixel. "

    def __init__(self, kernel=3, stride=2, padding=0):
        super().__init__(kernel=kernel, stride=stride, padding=padding)

    describe = staticmethod(describe_stamps)
    draw = staticmethod(draw_stamps)
