"""A kernel sliding along a 1-D signal: the step-by-step figure, its explorer and animation."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from cnnlib.nn.conv import conv1d

KERNELS_1D = {
    "smoothing": np.full(3, 1 / 3),
    "difference": np.array([-1.0, 0.0, 1.0]),
    "sharpening": np.array([-1.0, 3.0, -1.0]),
}
"""Three kernels of width 3: average the window, subtract its ends, boost its centre."""

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:red")


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

    def num(v):
        return f"{round(float(v), digits) + 0.0:g}"

    terms = " + ".join(f"{num(w)} × {num(v)}" for w, v in zip(kernel, window))
    return f"y[{position}] = {terms} = {num(window @ kernel)}"


class _StepPlot:
    """The artists of the step figure, drawn once and then moved from position to position."""

    def __init__(self, axes, x, kernels):
        self.x = np.asarray(x, dtype=float)
        widths = {len(k) for k in kernels.values()}
        if len(widths) != 1:
            raise ValueError(f"draw_step: kernels must share one width, got {sorted(widths)}")
        (self.width,) = widths
        self.outputs = {name: conv1d(self.x, np.asarray(k, dtype=float))
                        for name, k in kernels.items()}
        self.centres = np.arange(len(self.x) - self.width + 1) + (self.width - 1) / 2
        axes[0].plot(np.arange(len(self.x)), self.x, "o-", color="0.3", ms=3, lw=1)
        axes[0].set_title("input, with the window", fontsize=9, loc="left")
        self.windows, self.done, self.current = [], [], []
        for ax in axes:
            window = Rectangle((0, 0), self.width, 1, transform=ax.get_xaxis_transform(),
                               color="gold", alpha=0.35, lw=0)
            ax.add_patch(window)
            self.windows.append(window)
            ax.set_xlim(-0.7, len(self.x) - 0.3)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        for i, (ax, (name, kernel)) in enumerate(zip(axes[1:], kernels.items())):
            y, color = self.outputs[name], _COLORS[i % len(_COLORS)]
            ax.plot(self.centres, y, "-", color=color, alpha=0.2, lw=1)
            self.done.append(ax.plot([], [], "o-", color=color, ms=3, lw=1)[0])
            self.current.append(ax.plot([], [], "o", color=color, ms=8, mec="black")[0])
            weights = ", ".join(f"{w:.2g}" for w in np.asarray(kernel, dtype=float))
            ax.set_title(f"{name}  [{weights}]", fontsize=9, loc="left")
            ax.set_ylim(*_padded_range(y))

    def update(self, position):
        for window in self.windows:
            window.set_x(position - 0.5)
        for done, current, y in zip(self.done, self.current, self.outputs.values()):
            done.set_data(self.centres[: position + 1], y[: position + 1])
            current.set_data([self.centres[position]], [y[position]])
        return [*self.windows, *self.done, *self.current]


def _padded_range(y):
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.12 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


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

    Display the instance (or its ``box``) in a notebook.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernels : dict of name -> array_like, shape (k,), optional
        Defaults to :data:`KERNELS_1D`.
    """

    def __init__(self, x, kernels=None):
        self.x = np.asarray(x, dtype=float)
        self.kernels = dict(KERNELS_1D if kernels is None else kernels)
        self.choice = widgets.ToggleButtons(options=list(self.kernels), description="kernel")
        width = len(self.kernels[self.choice.value])
        self.position = widgets.IntSlider(0, min=0, max=len(self.x) - width,
                                          description="position")
        self.label = widgets.Label()
        self.out = widgets.Output()
        self.choice.observe(self.redraw, names="value")
        self.position.observe(self.redraw, names="value")
        self.box = widgets.VBox([self.choice, self.position, self.label, self.out])
        self.redraw()

    @property
    def kernel(self):
        """The chosen kernel, shape (k,)."""
        return np.asarray(self.kernels[self.choice.value], dtype=float)

    def redraw(self, change=None):
        """Recompute the text and the figure for the current choice and position."""
        self.position.max = len(self.x) - len(self.kernel)
        self.label.value = step_text(self.x, self.kernel, self.position.value)
        with self.out:
            self.out.clear_output(wait=True)
            fig, axes = plt.subplots(2, 1, figsize=(7, 3.6), sharex=True, dpi=80)
            draw_step(axes, self.x, {self.choice.value: self.kernel}, self.position.value)
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def signal_animation(x, kernels=None, *, figsize=(6.4, 4.6), dpi=72, interval=400):
    """Animate the window sliding along ``x``, one frame per position.

    Every kernel gets its own output panel, so one animation compares them.
    Show it on a static page with ``HTML(anim.to_jshtml())``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernels : dict of name -> array_like, shape (k,), optional
        Defaults to :data:`KERNELS_1D`.
    figsize : (float, float)
    dpi : int
        Low by default to keep the embedded frames small.
    interval : int
        Milliseconds between frames.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        With ``n - k + 1`` frames; the figure is closed, so it is not shown twice.
    """
    x = np.asarray(x, dtype=float)
    kernels = dict(KERNELS_1D if kernels is None else kernels)
    width = len(next(iter(kernels.values())))
    fig, axes = plt.subplots(1 + len(kernels), 1, figsize=figsize, dpi=dpi, sharex=True)
    plot = _StepPlot(axes, x, kernels)
    fig.tight_layout()
    anim = FuncAnimation(fig, plot.update, frames=len(x) - width + 1, interval=interval)
    plt.close(fig)
    return anim
