"""How a transposed convolution's stamps overlap: an explorer over kernel, stride and padding."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from cnnlib import functional as F
from cnnlib.book.viewer import (Control, Frame, StaticViewer, figure_data_uri, figure_png,
                                 live_and_static)

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
    size = 9 if counts.shape[0] <= 9 else 7
    for (r, c), value in np.ndenumerate(counts):
        ax.text(c, r, str(value), ha="center", va="center", fontsize=size)
    ax.set_xticks([])
    ax.set_yticks([])


class StampExplorer:
    """Sliders for kernel, stride and padding over :func:`draw_stamps`.

    In a notebook it is a live ipywidget; on a web page, a
    :class:`~cnnlib.book.viewer.StaticViewer` over :data:`STATIC_GRID`.

    Parameters
    ----------
    kernel, stride, padding : int
        The setting shown first.
    """

    def __init__(self, kernel=3, stride=2, padding=0):
        style = {"description_width": "initial"}
        self.sliders = {
            "kernel": widgets.IntSlider(kernel, min=1, max=6, description="kernel k",
                                        style=style),
            "stride": widgets.IntSlider(stride, min=1, max=4, description="stride s",
                                        style=style),
            "padding": widgets.IntSlider(padding, min=0, max=2, description="padding p",
                                         style=style),
        }
        self.initial = {"kernel": kernel, "stride": stride, "padding": padding}
        self.label = widgets.HTML()
        self.picture = widgets.Image(format="png")
        for control in self.sliders.values():
            control.observe(self.redraw, names="value")
        self.box = widgets.VBox([widgets.HBox([widgets.VBox(list(self.sliders.values())),
                                               self.picture],
                                              layout=widgets.Layout(flex_flow="row wrap")),
                                 self.label])
        self.redraw()

    @staticmethod
    def figure(kernel, stride, padding):
        """The explorer's picture for one setting, or the reason it is impossible."""
        fig = plt.figure(figsize=(3.2, 3.2), dpi=100)
        ax = fig.add_axes([0.02, 0.02, 0.96, 0.96])
        try:
            draw_stamps(ax, kernel, stride, padding)
        except ValueError as err:
            ax.axis("off")
            ax.text(0.5, 0.5, str(err).split(": ", 1)[1], ha="center", va="center", wrap=True,
                    fontsize=10)
        return fig

    def redraw(self, change=None):
        """Redraw the figure and the caption for the sliders' setting."""
        setting = {name: s.value for name, s in self.sliders.items()}
        try:
            text, _ = describe_stamps(**setting)
        except ValueError as err:
            text = str(err).split(": ", 1)[1]
        self.label.value = text
        self.picture.value = figure_png(self.figure(**setting), colors=32)

    def _frame(self, setting):
        text, values = describe_stamps(**setting)
        return Frame(figure_data_uri(self.figure(**setting), colors=32), caption=text,
                     values=values, alt="Stamps per output pixel. " + text)

    def static(self):
        """The web page's form: every setting of :data:`STATIC_GRID`."""
        labels = {"kernel": "kernel k", "stride": "stride s", "padding": "padding p"}
        controls = [Control(name, values, label=labels[name],
                            initial=self.initial[name] if self.initial[name] in values else None)
                    for name, values in STATIC_GRID.items()]
        return StaticViewer(controls, self._frame)

    def _repr_mimebundle_(self, **kwargs):
        return live_and_static(self.box, self.static().html())
