"""Draw a letter on an 8x8 grid of toggle buttons and watch a T-versus-L model classify it."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np


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


def drawings_figure(model, drawings, *, ncols=4, size=1.6):
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
        ax.set_title(f"{name}\n{letter} ({score:.2f})", fontsize=9,
                     color="tab:blue" if letter == "T" else "tab:orange")
    fig.tight_layout()
    return fig


class LetterPad:
    """An 8x8 grid of toggle buttons; every click re-classifies the drawing.

    Parameters
    ----------
    model : Module
        Maps (N, 1, size, size) to (N, 1); above 0.5 means T.
    size : int
        Grid side in pixels.
    image : array_like, shape (size, size), optional
        The drawing to start from.
    """

    def __init__(self, model, size=8, image=None):
        self.model, self.size = model, size
        self.buttons = [widgets.ToggleButton(value=False, layout=widgets.Layout(
            width="30px", height="30px", padding="0px")) for _ in range(size * size)]
        self.result = widgets.HTML()
        clear = widgets.Button(description="clear", layout=widgets.Layout(width="80px"))
        clear.on_click(lambda _: self.set_image(np.zeros((size, size))))
        grid = widgets.GridBox(self.buttons, layout=widgets.Layout(
            grid_template_columns=f"repeat({size}, 32px)", grid_gap="2px"))
        self._filling = False
        for button in self.buttons:
            button.observe(self.update, names="value")
        self.box = widgets.HBox([grid, widgets.VBox([self.result, clear])])
        self.set_image(np.zeros((size, size)) if image is None else image)

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
        """Colour the pressed buttons and show the model's verdict."""
        if self._filling:
            return
        for button in self.buttons:
            button.style.button_color = "#333333" if button.value else "#eeeeee"
        if not self.image.any():
            self.result.value = "<b>draw a T or an L</b>"
            return
        score, letter = classify(self.model, self.image)
        self.result.value = (f"<span style='font-size:28px'><b>{letter}</b></span><br>"
                             f"model output {score:.2f}<br>(above 0.5 means T)")

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)
