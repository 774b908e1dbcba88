"""Draw a letter on an 8x8 grid and watch a T-versus-L CNN classify it, live or on a static page."""

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_hex

from cnnlib.book.viewer import live_and_static, pad_html
from cnnlib.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU

_TL_LAYERS = (Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear)
MAP_COLOURS = tuple(to_hex(c) for c in plt.get_cmap("magma")(np.linspace(0, 1, 48)))
"""The feature maps' colour scale (matplotlib's magma), from 0 up to the pad's ``vmax``."""


def parse_drawing(rows, on="#"):
    """Turn a picture written as strings into a 0/1 image.

    Parameters
    ----------
    rows : list of str
        One string per row, all the same length; ``on`` marks a filled pixel
        and any other character an empty one (``"..####.."``).

    Returns
    -------
    image : ndarray of float64, shape (len(rows), len(rows[0]))
    """
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(f"parse_drawing: rows have different lengths {sorted(widths)}")
    return np.array([[1.0 if ch == on else 0.0 for ch in r] for r in rows])


def classify(model, image):
    """The model's output and letter for one drawing.

    Parameters
    ----------
    model : Module
        Maps (N, 1, H, W) to (N, 1); above 0.5 means T.
    image : array_like, shape (H, W)

    Returns
    -------
    (score, letter) : (float, str)
    """
    score = float(model.forward(np.asarray(image, dtype=np.float64)[None, None])[0, 0])
    return score, "T" if score > 0.5 else "L"


def drawings_figure(model, drawings, *, ncols=4, size=1.25):
    """Each drawing with the model's letter and output above it, ``ncols`` to a row.

    Parameters
    ----------
    model : Module
    drawings : dict of name -> array_like, shape (H, W)

    Returns
    -------
    matplotlib.figure.Figure
    """
    ncols = min(ncols, len(drawings))
    nrows = -(-len(drawings) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.6) * nrows),
                             squeeze=False)
    for ax in axes.flat[len(drawings):]:
        ax.axis("off")
    for ax, (name, image) in zip(axes.flat, drawings.items()):
        score, letter = classify(model, image)
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks(np.arange(-0.5, np.shape(image)[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, np.shape(image)[0]), minor=True)
        ax.grid(which="minor", color="0.85", lw=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(f"{name}\n{letter} ({score:.2f})",
                     color="tab:blue" if letter == "T" else "tab:orange")
    fig.tight_layout()
    return fig


def export_tl_network(model):
    """The weights of a T/L CNN (:func:`cnnlib.models.tl_cnn`) as nested lists, for the page.

    Parameters
    ----------
    model : Sequential
        Conv2d(1, F, 3), ReLU, MaxPool2d(2), Flatten, Linear(9 F, H), ReLU,
        Linear(H, 1), on 8x8 images.

    Returns
    -------
    dict
        ``{"conv": {"weight": (F, 1, 3, 3), "bias": (F,)}, "hidden": {...},
        "out": {...}}``, the layout :func:`~cnnlib.book.viewer.pad_html` takes.
    """
    layers = list(model)
    kinds = tuple(type(layer) for layer in layers)
    if kinds != _TL_LAYERS:
        raise ValueError("export_tl_network: expected the layers of cnnlib.models.tl_cnn "
                         f"({', '.join(k.__name__ for k in _TL_LAYERS)}), got "
                         f"{', '.join(k.__name__ for k in kinds)}")
    conv, pool, out = layers[0], layers[2], layers[6]
    plain = all(_pair(getattr(conv, name, 1)) == (want, want)
                for name, want in (("stride", 1), ("padding", 0), ("dilation", 1)))
    if conv.params["weight"].shape[1:] != (1, 3, 3) or not plain or getattr(conv, "groups", 1) != 1:
        raise ValueError("export_tl_network: the convolution must be 3x3 on one channel, "
                         "with stride 1 and no padding")
    if _pair(pool.kernel_size) != (2, 2) or _pair(pool.stride) != (2, 2) or pool.ceil_mode:
        raise ValueError("export_tl_network: the pool must be a 2x2 max-pool with stride 2")
    if out.params["weight"].shape[0] != 1:
        raise ValueError("export_tl_network: the network must have one output")
    return {name: {"weight": layer.params["weight"].tolist(),
                   "bias": layer.params.get("bias", np.zeros(len(layer.params["weight"]))).tolist()}
            for name, layer in (("conv", conv), ("hidden", layers[4]), ("out", out))}


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def maps_html(maps, vmax):
    """Feature maps as rows of coloured cells, the same picture the web page draws.

    Parameters
    ----------
    maps : ndarray, shape (F, S, S)
    vmax : float
        Value drawn in the last colour of :data:`MAP_COLOURS`.

    Returns
    -------
    str
    """
    top = len(MAP_COLOURS) - 1
    boxes = []
    for k, m in enumerate(maps):
        cells = "".join(
            f'<span title="{v:.2f}" style="width:22px;height:22px;background:'
            f'{MAP_COLOURS[min(top, int(round(max(v, 0) / vmax * top)))]}"></span>'
            for v in m.ravel())
        boxes.append(f'<div><div>kernel {k}</div><div style="display:grid;gap:1px;'
                     f'grid-template-columns:repeat({m.shape[1]},22px)">{cells}</div></div>')
    return '<div style="display:flex;flex-wrap:wrap;gap:10px">' + "".join(boxes) + "</div>"


class LetterPad:
    """An 8x8 grid of toggle buttons; each click re-classifies the drawing and redraws its maps.

    In a notebook it is a live ipywidget; on a web page the same output shows
    a grid drawn by ``viewer.js``, which runs this model's weights (exported
    by :func:`export_tl_network`).

    Parameters
    ----------
    model : Sequential
        A T/L CNN from :func:`cnnlib.models.tl_cnn`; above 0.5 means T.
    size : int
        Grid side in pixels.
    image : array_like, shape (size, size), optional
        The drawing to start from.
    vmax : float, optional
        Feature-map value drawn in the brightest colour; by default the
        largest value in the maps of ``image`` (or 1 for a blank start).
    """

    def __init__(self, model, size=8, image=None, *, vmax=None):
        self.model, self.size = model, size
        self.start = np.zeros((size, size)) if image is None else np.asarray(image, dtype=float)
        if vmax is None:
            vmax = float(self.feature_maps(self.start).max()) or 1.0
        self.vmax = vmax
        self.buttons = [widgets.ToggleButton(value=False, layout=widgets.Layout(
            width="30px", height="30px", padding="0px")) for _ in range(size * size)]
        self.result = widgets.HTML()
        self.maps = widgets.HTML()
        clear = widgets.Button(description="clear", layout=widgets.Layout(width="100px"))
        clear.on_click(lambda _: self.set_image(np.zeros((size, size))))
        reset = widgets.Button(description="start again", layout=widgets.Layout(width="100px"))
        reset.on_click(lambda _: self.set_image(self.start))
        grid = widgets.GridBox(self.buttons, layout=widgets.Layout(
            grid_template_columns=f"repeat({size}, 32px)", grid_gap="2px"))
        self._filling = False
        for button in self.buttons:
            button.observe(self.update, names="value")
        self.box = widgets.VBox([
            widgets.HBox([grid, widgets.VBox([self.result, clear, reset])],
                         layout=widgets.Layout(flex_flow="row wrap", grid_gap="16px")),
            widgets.HTML("<b>feature maps (convolution and ReLU), one per kernel</b>"),
            self.maps])
        self.set_image(self.start)

    @property
    def image(self):
        """The current drawing, shape (size, size), 1.0 where a button is down."""
        return np.array([b.value for b in self.buttons], dtype=np.float64).reshape(
            self.size, self.size)

    def set_image(self, image):
        """Press the buttons of a (size, size) 0/1 image and classify it once."""
        image = np.asarray(image)
        if image.shape != (self.size, self.size):
            raise ValueError(f"LetterPad: image must be {self.size}x{self.size}, "
                             f"got shape {image.shape}")
        self._filling = True
        for button, value in zip(self.buttons, image.ravel()):
            button.value = bool(value)
        self._filling = False
        self.update()

    def update(self, change=None):
        """Colour the pressed buttons, show the model's verdict and its feature maps."""
        if self._filling:
            return
        for button in self.buttons:
            button.style.button_color = "#222222" if button.value else "#f4f4f4"
        if not self.image.any():
            self.result.value = "<span style='font-size:20px'><b>draw a letter</b></span>"
        else:
            score, letter = classify(self.model, self.image)
            self.result.value = (f"<span style='font-size:32px'><b>{html.escape(letter)}</b>"
                                 f"</span><br>model output {score:.2f}<br>(above 0.5 means T)")
        self.maps.value = maps_html(self.feature_maps(self.image), self.vmax)

    def feature_maps(self, image):
        """The convolution's output after ReLU for one drawing, shape (F, size - 2, size - 2)."""
        return self.model[1](self.model[0](np.asarray(image, dtype=np.float64)[None, None]))[0]

    def static_html(self):
        """The web page's form: the same pad, run in the browser with this model's weights."""
        return pad_html(export_tl_network(self.model), self.start.astype(int).tolist(),
                        colours=MAP_COLOURS, vmax=self.vmax)

    def _repr_mimebundle_(self, **kwargs):
        return live_and_static(self.box, self.static_html())
