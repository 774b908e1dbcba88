"""Static explorers for pages with no kernel: controls that switch between frames made in Python."""

import base64
import html
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

_HERE = Path(__file__).parent
_KINDS = ("slider", "buttons", "checkbox")


def _asset(name):
    return (_HERE / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Control:
    """One control of a static viewer.

    Parameters
    ----------
    name : str
        Key of the setting passed to the frame function.
    values : sequence
        The choices, in order. A checkbox has exactly ``(False, True)``.
    kind : {"slider", "buttons", "checkbox"}
    label : str, optional
        Shown next to the control; defaults to ``name``.
    labels : sequence of str, optional
        Shown for each value; defaults to ``str(value)``.
    initial : optional
        The value shown first; defaults to the first one.
    play : bool
        Give a slider a play button that steps through its values.
    """

    name: str
    values: tuple
    kind: str = "slider"
    label: str = ""
    labels: tuple = ()
    initial: object = None
    play: bool = False

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "labels", tuple(self.labels) or tuple(map(str, self.values)))
        if self.kind not in _KINDS:
            raise ValueError(f"Control: kind must be one of {_KINDS}, got {self.kind!r}")
        if not self.values:
            raise ValueError(f"Control {self.name!r}: values must not be empty")
        if len(self.labels) != len(self.values):
            raise ValueError(f"Control {self.name!r}: {len(self.labels)} labels for "
                             f"{len(self.values)} values")
        if self.kind == "checkbox" and (self.values != (False, True)
                                        or not all(isinstance(v, bool) for v in self.values)):
            raise ValueError(f"Control {self.name!r}: a checkbox has values (False, True), "
                             f"got {self.values}")
        if self.play and self.kind != "slider":
            raise ValueError(f"Control {self.name!r}: only a slider can have a play button")
        if self.initial is not None and self.initial not in self.values:
            raise ValueError(f"Control {self.name!r}: initial value {self.initial!r} is not "
                             f"one of {self.values}")

    @property
    def start(self):
        """Index of the value shown first."""
        return 0 if self.initial is None else self.values.index(self.initial)


@dataclass(frozen=True)
class Frame:
    """What a viewer shows for one setting.

    Parameters
    ----------
    image : str
        A data URI, e.g. from :func:`figure_data_uri`.
    caption : str
        Plain text under the picture (numbers the reader reads off).
    alt : str
        Text alternative of the picture.
    values : dict
        The numbers the frame shows, JSON-serialisable; the page exposes
        them as ``data-values`` so that tests can compare them with cnnlib.
    """

    image: str
    caption: str = ""
    alt: str = ""
    values: dict = field(default_factory=dict)


def figure_png(fig, *, colors=48, close=True):
    """A matplotlib figure as a small PNG, with a palette of ``colors`` colours.

    Figures made of flat colours and text lose nothing visible to the
    palette and come out several times smaller than matplotlib's RGBA PNG.
    The figure is rendered at its own size and dpi, on white.

    Returns
    -------
    bytes
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = Image.fromarray(np.asarray(canvas.buffer_rgba()))
    if close:
        plt.close(fig)
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    small = io.BytesIO()
    flat.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="png", optimize=True)
    return small.getvalue()


def figure_data_uri(fig, *, colors=48, close=True):
    """:func:`figure_png` as a ``data:image/png;base64,...`` URI, for an ``<img>``."""
    png = figure_png(fig, colors=colors, close=close)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _json_for_script(data):
    """JSON that can sit inside <script type="application/json"> without ending it."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _page(kind, body, data):
    """A viewer's HTML: its style, its content, its data and the (shared) script."""
    return (f'<div class="cnnv {kind}">\n<style>{_asset("viewer.css")}</style>\n{body}\n'
            f'<script type="application/json" class="cnnv-data">{_json_for_script(data)}'
            f'</script>\n<script>{_asset("viewer.js")}</script>\n</div>')


class StaticViewer:
    """Every frame of a small grid of settings, and the HTML page part that switches between them.

    A chapter's explorer is an ipywidget under a running kernel. A web page
    has no kernel, so the explorer also builds one of these: Python computes
    a :class:`Frame` (a picture and a caption) for every combination of the
    controls' values, and ``viewer.js`` shows the frame that the reader's
    controls select. The script computes nothing.

    Parameters
    ----------
    controls : sequence of Control
    frame : callable
        ``frame(setting) -> Frame``, where ``setting`` maps each control's
        name to one of its values. Called once per combination of values.
    inputs : dict, optional
        JSON-serialisable inputs of the computation (a signal, a kernel),
        embedded so that a test can recompute what the frames show.
    interval : int
        Milliseconds between frames when a play button runs.

    Examples
    --------
    >>> viewer = StaticViewer([Control("k", (1, 3))],
    ...                       lambda s: Frame("data:,", caption=f"k = {s['k']}"))
    >>> viewer.frames[(1,)].caption
    'k = 3'
    """

    def __init__(self, controls, frame, *, inputs=None, interval=500):
        self.controls = list(controls)
        names = [c.name for c in self.controls]
        if len(set(names)) != len(names):
            raise ValueError(f"StaticViewer: control names repeat: {names}")
        self.inputs = dict(inputs or {})
        self.interval = int(interval)
        self.frames = {}
        for key in itertools.product(*(range(len(c.values)) for c in self.controls)):
            setting = {c.name: c.values[i] for c, i in zip(self.controls, key)}
            self.frames[key] = frame(setting)

    @property
    def initial(self):
        """Index of each control's first value, in control order."""
        return tuple(c.start for c in self.controls)

    def _controls_html(self):
        parts = []
        for i, c in enumerate(self.controls):
            label = html.escape(c.label)
            if c.kind == "buttons":
                buttons = "".join(
                    f'<button type="button" data-control="{i}" data-index="{j}" '
                    f'aria-pressed="{str(j == c.start).lower()}">{html.escape(text)}</button>'
                    for j, text in enumerate(c.labels))
                parts.append(f'<div class="cnnv-control" role="group" aria-label="{label}">'
                             f'<span class="cnnv-label">{label}</span>{buttons}</div>')
            elif c.kind == "slider":
                play = (f'<button type="button" class="cnnv-play" data-control="{i}" '
                        f'aria-pressed="false">play</button>' if c.play else "")
                parts.append(
                    f'<div class="cnnv-control"><label><span class="cnnv-label">{label}</span>'
                    f'<input type="range" data-control="{i}" min="0" max="{len(c.values) - 1}" '
                    f'step="1" value="{c.start}"></label>'
                    f'<output class="cnnv-value">{html.escape(c.labels[c.start])}</output>'
                    f'{play}</div>')
            else:
                checked = " checked" if c.start else ""
                parts.append(f'<div class="cnnv-control"><label><input type="checkbox" '
                             f'data-control="{i}"{checked}> {label}</label></div>')
        return '<div class="cnnv-controls">' + "".join(parts) + "</div>"

    def html(self):
        """The viewer as one self-contained HTML fragment (style, frames and script inline)."""
        images, frames = {}, {}                    # each distinct picture is stored once
        for key, frame in self.frames.items():
            frames[",".join(map(str, key))] = {
                "image": images.setdefault(frame.image, len(images)), "caption": frame.caption,
                "alt": frame.alt, "values": frame.values}
        first = self.frames[self.initial]
        size = _png_size(first.image)
        body = (f'{self._controls_html()}\n'
                f'<img class="cnnv-frame" src="{first.image}" alt="{html.escape(first.alt)}"'
                f'{size}>\n<p class="cnnv-caption" aria-live="polite">'
                f'{html.escape(first.caption)}</p>')
        data = {"controls": [{"name": c.name, "values": c.values, "labels": c.labels}
                             for c in self.controls],
                "initial": self.initial, "images": list(images), "frames": frames,
                "inputs": self.inputs, "interval": self.interval}
        return _page("cnnv-viewer", body, data)


def _png_size(uri):
    """' width=".." height=".."' for a PNG data URI, so the page does not jump while loading."""
    if not uri.startswith("data:image/png;base64,"):
        return ""
    width, height = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size
    return f' width="{width}" height="{height}"'


def pad_html(network, initial, *, colours, vmax, threshold=0.5, letters=("L", "T")):
    """Draw-and-classify for the web page: a grid to draw on, the verdict and the feature maps.

    The page runs the network in JavaScript (``viewer.js``): a 3x3
    convolution with bias, ReLU, 2x2 max-pool, flatten, dense, ReLU, dense.
    The reader draws with pointer events (mouse, pen or touch: press and
    drag), has an eraser toggle, and sees "draw a letter" instead of a
    verdict while the grid is empty.

    Parameters
    ----------
    network : dict
        ``{"conv": {"weight": (F, 1, 3, 3), "bias": (F,)}, "hidden": {"weight":
        (H, 9 F), "bias": (H,)}, "out": {"weight": (1, H), "bias": (1,)}}`` as
        nested lists.
    initial : list of list of int, shape (S, S)
        The drawing shown first, 0 or 1 per cell.
    colours : list of str
        Colour map for the feature maps, from 0 up to ``vmax``, as CSS colours.
    vmax : float
        Feature-map value drawn in the last colour.
    threshold : float
        Output above which the verdict is ``letters[1]``.
    letters : (str, str)

    Returns
    -------
    str
        An HTML fragment; the page writes its output to the root's
        ``data-score`` (full precision) and ``data-maps`` (JSON) attributes.
    """
    body = ('<div class="cnnv-pad-row"><div class="cnnv-grid" role="group" '
            'aria-label="drawing grid: drag to draw, click a cell to ink it or clear it">'
            '</div><div class="cnnv-result"><p class="cnnv-letter" aria-live="polite"></p>'
            '<p class="cnnv-score"></p><div class="cnnv-control">'
            '<button type="button" class="cnnv-eraser" aria-pressed="false">eraser</button>'
            '<button type="button" class="cnnv-clear">clear</button>'
            '<button type="button" class="cnnv-reset">start again</button></div></div></div>\n'
            '<p class="cnnv-label">feature maps (convolution and ReLU), one per kernel</p>\n'
            '<div class="cnnv-maps"></div>')
    data = {"network": network, "initial": initial, "colours": list(colours),
            "vmax": float(vmax), "threshold": float(threshold), "letters": list(letters)}
    return _page("cnnv-pad", body, data)


def live_and_static(widget, static_html):
    """One output with both forms: the live widget for Jupyter, the viewer for the web page.

    Parameters
    ----------
    widget : ipywidgets.Widget
    static_html : str
        From :meth:`StaticViewer.html` or :func:`pad_html`.

    Returns
    -------
    dict
        A mime bundle with ``application/vnd.jupyter.widget-view+json`` (what
        JupyterLab shows), ``text/html`` (what the book's HTML build shows)
        and ``text/plain``.
    """
    bundle = dict(widget._repr_mimebundle_())
    bundle["text/html"] = static_html
    return bundle
