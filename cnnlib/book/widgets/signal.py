"""A kernel sliding along a 1-D signal: the step-by-step figure, its explorer (live and static)."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from cnnlib.book.viewer import (Control, Frame, StaticViewer, figure_data_uri, figure_png,
                                 live_and_static)
from cnnlib.book.viz import integer_ticks
from cnnlib.nn.conv import conv1d

KERNELS_1D = {
    "smoothing": np.full(3, 1 / 3),
    "difference": np.array([-1.0, 0.0, 1.0]),
    "sharpening": np.array([-1.0, 3.0, -1.0]),
}
"""Three kernels of width 3: average the window, subtract its ends, boost its centre."""

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:red")


def _num(v, digits):
    return f"{round(float(v), digits) + 0.0:g}"


def step_text(x, kernel, position, *, digits=2):
    """The sum computed at one position, written out, e.g. ``"y[0] = 0.33 × 2 + ... = 4"``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,)
    position : int, 0 <= position <= n - k
    digits : int
        Decimal places for the numbers in the text.

    Returns
    -------
    str
    """
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    if not 0 <= position <= len(x) - len(kernel):
        raise ValueError(f"step_text: position {position} is outside 0..{len(x) - len(kernel)}")
    window = x[position: position + len(kernel)]
    terms = " + ".join(f"{_num(w, digits)} × {_num(v, digits)}" for w, v in zip(kernel, window))
    return f"y[{position}] = {terms} = {_num(window @ kernel, digits)}"


def _padded_range(y):
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.12 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def _kernel_width(kernels, caller):
    widths = {len(k) for k in kernels.values()}
    if len(widths) != 1:
        raise ValueError(f"{caller}: kernels must share one width, got {sorted(widths)}")
    return widths.pop()


class _StepPlot:
    """The artists of the step figure, drawn once and then moved from position to position."""

    def __init__(self, axes, x, kernels):
        self.x = np.asarray(x, dtype=float)
        self.width = _kernel_width(kernels, "draw_step")
        self.outputs = {name: conv1d(self.x, np.asarray(k, dtype=float))
                        for name, k in kernels.items()}
        self.centres = np.arange(len(self.x) - self.width + 1) + (self.width - 1) / 2
        axes[0].plot(np.arange(len(self.x)), self.x, "o-", color="0.3", ms=3, lw=1)
        axes[0].set_title("input, with the window", loc="left")
        self.windows, self.done, self.current = [], [], []
        for ax in axes:
            self.windows.append(ax.axvspan(0, self.width, color="gold", alpha=0.35, lw=0))
            ax.set_xlim(-0.7, len(self.x) - 0.3)
            integer_ticks(ax, "x")
            ax.grid(alpha=0.3)
        for i, (ax, (name, kernel)) in enumerate(zip(axes[1:], kernels.items())):
            y, color = self.outputs[name], _COLORS[i % len(_COLORS)]
            ax.plot(self.centres, y, "-", color=color, alpha=0.2, lw=1)
            self.done.append(ax.plot([], [], "o-", color=color, ms=3, lw=1)[0])
            self.current.append(ax.plot([], [], "o", color=color, ms=8, mec="black")[0])
            weights = ", ".join(f"{w:.2g}" for w in np.asarray(kernel, dtype=float))
            ax.set_title(f"{name}  [{weights}]", loc="left")
            ax.set_ylim(*_padded_range(y))

    def update(self, position):
        """Move the window to ``position`` and show the outputs up to it."""
        if not 0 <= position <= len(self.x) - self.width:
            raise ValueError(f"draw_step: position {position} is outside "
                             f"0..{len(self.x) - self.width}")
        for window in self.windows:
            window.set_x(position - 0.5)
        for done, current, y in zip(self.done, self.current, self.outputs.values()):
            done.set_data(self.centres[: position + 1], y[: position + 1])
            current.set_data([self.centres[position]], [y[position]])


def draw_step(axes, x, kernels, position):
    """Draw the input with the window at ``position`` and each kernel's output so far.

    Each output value is drawn under the centre of the window that made it,
    so input and outputs line up; values still to come are drawn faintly.

    Parameters
    ----------
    axes : sequence of matplotlib Axes, length 1 + len(kernels)
        The input goes in ``axes[0]``, one output per following axis.
    x : array_like, shape (n,)
    kernels : dict of name -> array_like, shape (k,)
        All kernels must have the same width k.
    position : int, 0 <= position <= n - k

    Returns
    -------
    outputs : dict of name -> ndarray, shape (n - k + 1,)
    """
    plot = _StepPlot(axes, x, kernels)
    plot.update(position)
    return plot.outputs


class SignalExplorer:
    """Pick a kernel and a position; see the window, the sum and the output so far.

    Displayed in a notebook it is a live ipywidget; on a web page (the
    ``text/html`` of the same output) a :class:`~cnnlib.book.viewer.StaticViewer`
    over every kernel and position, with a play button.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernels : dict of name -> array_like, shape (k,), optional
        Defaults to :data:`KERNELS_1D`; all of the same width.
    """

    def __init__(self, x, kernels=None):
        self.x = np.asarray(x, dtype=float)
        self.kernels = {name: np.asarray(k, dtype=float)
                        for name, k in (KERNELS_1D if kernels is None else kernels).items()}
        self.last = len(self.x) - _kernel_width(self.kernels, "SignalExplorer")
        if self.last < 0:
            raise ValueError(f"SignalExplorer: kernels are longer than the signal ({len(self.x)})")
        self.choice = widgets.ToggleButtons(options=list(self.kernels), description="kernel")
        self.position = widgets.IntSlider(0, min=0, max=self.last, description="position")
        self.label = widgets.Label()
        self.picture = widgets.Image(format="png")
        self.choice.observe(self.redraw, names="value")
        self.position.observe(self.redraw, names="value")
        self.box = widgets.VBox([self.choice, self.position, self.label, self.picture])
        self.redraw()

    @property
    def kernel(self):
        """The chosen kernel, shape (k,)."""
        return self.kernels[self.choice.value]

    def _plot(self, name):
        fig, axes = plt.subplots(2, 1, figsize=(4.8, 3.3), dpi=100, sharex=True)
        plot = _StepPlot(axes, self.x, {name: self.kernels[name]})
        fig.tight_layout()
        return fig, plot

    def figure(self, name, position):
        """The explorer's picture for kernel ``name`` at ``position``: input above, output below."""
        fig, plot = self._plot(name)
        plot.update(position)
        return fig

    def redraw(self, change=None):
        """Recompute the text and the figure for the current choice and position."""
        self.label.value = step_text(self.x, self.kernel, self.position.value)
        fig = self.figure(self.choice.value, self.position.value)
        self.picture.value = figure_png(fig, colors=48)

    def static(self):
        """The web page's form: a viewer over every kernel and every position."""
        frames = {}
        for name, kernel in self.kernels.items():
            fig, plot = self._plot(name)    # drawn once, then moved along
            for position in range(self.last + 1):
                plot.update(position)
                y = float(plot.outputs[name][position])
                alt = (f"The signal with the window over samples {position} to "
                       f"{position + len(kernel) - 1}, and the {name} output up to "
                       f"y[{position}] = {y:.2f}.")
                frames[name, position] = Frame(
                    figure_data_uri(fig, close=False), alt=alt, values={"y": y},
                    caption=step_text(self.x, kernel, position))
            plt.close(fig)
        controls = [Control("kernel", tuple(self.kernels), kind="buttons"),
                    Control("position", tuple(range(self.last + 1)), play=True)]
        inputs = {"x": self.x.tolist(), "kernels": {n: k.tolist() for n, k in self.kernels.items()}}
        return StaticViewer(controls, lambda s: frames[s["kernel"], s["position"]],
                            inputs=inputs, interval=400)

    def _repr_mimebundle_(self, **kwargs):
        return live_and_static(self.box, self.static().html())
