"""The frame shared by the slider explorers: integer sliders over one picture and its caption."""

import ipywidgets as widgets
import matplotlib.pyplot as plt

from cnnlib.book.viewer import (Control, Frame, StaticViewer, figure_data_uri, figure_png,
                                 live_and_static)


def _reason(err):
    """The part of a cnnlib error message after the function's name."""
    return str(err).split(": ", 1)[-1]


class SliderExplorer:
    """Sliders and check boxes over a picture and a caption: live in Jupyter, precomputed on the web.

    A subclass sets the class attributes and implements :meth:`describe` and
    :meth:`draw`; both raise ValueError for a setting that cannot be drawn,
    and the explorer then shows the reason instead.

    Attributes
    ----------
    SLIDERS : dict
        name -> (label, minimum, maximum) of each integer slider.
    CHECKBOXES : dict
        name -> label of each check box (off at the start).
    STATIC_GRID : dict
        name -> values of each slider on the web page, where every check box
        is precomputed off and on.
    FIGSIZE : float
        Width and height of the picture, in inches.
    ALT : str
        Start of every frame's text alternative; the caption follows.

    Parameters
    ----------
    **initial : int
        The first value of each slider.
    """

    SLIDERS, CHECKBOXES, STATIC_GRID, FIGSIZE, ALT = {}, {}, {}, 3.4, ""

    def __init__(self, **initial):
        style = {"description_width": "initial"}
        self.initial = initial
        self.sliders = {name: widgets.IntSlider(initial[name], min=low, max=high,
                                                description=label, style=style)
                        for name, (label, low, high) in self.SLIDERS.items()}
        self.checkboxes = {name: widgets.Checkbox(False, description=label)
                           for name, label in self.CHECKBOXES.items()}
        self.label = widgets.HTML()
        self.picture = widgets.Image(format="png")
        controls = [*self.sliders.values(), *self.checkboxes.values()]
        for control in controls:
            control.observe(self.redraw, names="value")
        self.box = widgets.VBox([widgets.HBox([widgets.VBox(controls), self.picture],
                                              layout=widgets.Layout(flex_flow="row wrap")),
                                 self.label])
        self.redraw()

    @staticmethod
    def describe(**setting):
        """(caption, values) for one setting; values are the numbers the caption states."""
        raise NotImplementedError

    @staticmethod
    def draw(ax, **setting):
        """Draw one setting on ``ax``."""
        raise NotImplementedError

    @classmethod
    def figure(cls, **setting):
        """The picture for one setting, or the reason it is impossible."""
        fig = plt.figure(figsize=(cls.FIGSIZE, cls.FIGSIZE), dpi=100)
        ax = fig.add_axes([0.01, 0.01, 0.98, 0.98])
        try:
            cls.draw(ax, **setting)
        except ValueError as err:
            ax.axis("off")
            ax.text(0.5, 0.5, _reason(err), ha="center", va="center", wrap=True, fontsize=11)
        return fig

    def setting(self):
        """The controls' current values by name."""
        return {name: c.value for name, c in {**self.sliders, **self.checkboxes}.items()}

    def redraw(self, change=None):
        """Redraw the picture and the caption for the controls' setting."""
        setting = self.setting()
        try:
            self.label.value = self.describe(**setting)[0]
        except ValueError as err:
            self.label.value = _reason(err)
        self.picture.value = figure_png(self.figure(**setting), colors=32)

    def _frame(self, setting):
        text, values = self.describe(**setting)
        return Frame(figure_data_uri(self.figure(**setting), colors=32), caption=text,
                     values=values, alt=self.ALT + text)

    def static(self):
        """The web page's form: a viewer over every setting of ``STATIC_GRID``."""
        controls = [Control(name, values, label=self.SLIDERS[name][0],
                            initial=self.initial[name] if self.initial[name] in values else None)
                    for name, values in self.STATIC_GRID.items()]
        controls += [Control(name, (False, True), kind="checkbox", label=label)
                     for name, label in self.CHECKBOXES.items()]
        return StaticViewer(controls, self._frame)

    def _repr_mimebundle_(self, **kwargs):
        return live_and_static(self.box, self.static().html())
