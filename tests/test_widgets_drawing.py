"""Tests for the draw-a-letter widget and its static figure."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib.book.widgets.drawing import LetterPad, classify, drawings_figure, parse_drawing

matplotlib.use("Agg")


class TopRowModel:
    """A stand-in model: says T (output 1) when the top row has ink, else L (output 0)."""

    def forward(self, x):
        return x[:, 0, 0, :].max(axis=1, keepdims=True)


T_ROWS = ["####", ".#..", ".#..", ".#.."]


def test_parse_drawing():
    image = parse_drawing(T_ROWS)
    assert image.shape == (4, 4)
    assert image.sum() == 7 and image[0].tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="different lengths"):
        parse_drawing(["##", "#"])


def test_classify_reads_the_score():
    assert classify(TopRowModel(), parse_drawing(T_ROWS)) == (1.0, "T")
    assert classify(TopRowModel(), np.zeros((4, 4))) == (0.0, "L")


def test_letter_pad_builds_and_reacts_to_clicks():
    pad = LetterPad(TopRowModel())
    assert len(pad.buttons) == 64
    assert "draw" in pad.result.value
    pad.buttons[10].value = True                  # row 1: not the top row
    assert "<b>L</b>" in pad.result.value
    pad.buttons[3].value = True                   # top row
    assert "<b>T</b>" in pad.result.value
    assert pad.image.sum() == 2 and pad.image[0, 3] == 1
    assert "application/vnd.jupyter.widget-view+json" in pad._repr_mimebundle_()


def test_letter_pad_set_image():
    image = np.zeros((8, 8))
    image[0, :5] = 1
    pad = LetterPad(TopRowModel(), image=image)
    np.testing.assert_array_equal(pad.image, image)
    assert "<b>T</b>" in pad.result.value
    with pytest.raises(ValueError, match="8x8"):
        pad.set_image(np.zeros((4, 4)))


def test_drawings_figure():
    fig = drawings_figure(TopRowModel(), {"T": parse_drawing(T_ROWS), "blank": np.zeros((4, 4))})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("T\nT")
    plt.close(fig)


def test_drawings_figure_wraps_rows():
    drawings = {str(i): np.zeros((4, 4)) for i in range(5)}
    fig = drawings_figure(TopRowModel(), drawings, ncols=4)
    assert len(fig.axes) == 8
    assert sum(ax.axison for ax in fig.axes) == 5
    plt.close(fig)
