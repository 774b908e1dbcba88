"""Tests for draw-and-classify: parsing drawings, the live pad, the weights the web page runs."""

import json
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

import cnnlib
from cnnlib.book.widgets.drawing import (MAP_COLOURS, LetterPad, classify, drawings_figure,
                                         export_tl_network, maps_html, parse_drawing)
from cnnlib.data import letter_shape, place
from cnnlib.models import tl_cnn

T_ROWS = ["####", ".#..", ".#..", ".#.."]


@pytest.fixture
def model():
    return tl_cnn(4, rng=np.random.default_rng(3))


class TopRowModel:
    """A stand-in model: says T (output 1) when the top row has ink, else L (output 0)."""

    def forward(self, x):
        return x[:, 0, 0, :].max(axis=1, keepdims=True)


def test_parse_drawing():
    image = parse_drawing(T_ROWS)
    assert image.shape == (4, 4)
    assert image.sum() == 7 and image[0].tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="different lengths"):
        parse_drawing(["##", "#"])


def test_classify_reads_the_score():
    assert classify(TopRowModel(), parse_drawing(T_ROWS)) == (1.0, "T")
    assert classify(TopRowModel(), np.zeros((4, 4))) == (0.0, "L")


def test_drawings_figure_wraps_rows(agg):
    drawings = {str(i): np.zeros((4, 4)) for i in range(5)}
    fig = drawings_figure(TopRowModel(), {"T": parse_drawing(T_ROWS), **drawings}, ncols=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    assert sum(ax.axison for ax in fig.axes) == 6
    assert fig.axes[0].get_title().startswith("T\nT")


def test_pad_classifies_and_redraws_the_maps_on_every_click(model):
    pad = LetterPad(model)
    assert len(pad.buttons) == 64 and pad.image.sum() == 0
    assert "draw a letter" in pad.result.value and "model output" not in pad.result.value
    seen = {pad.result.value}
    maps_seen = {pad.maps.value}
    for index in (3, 10, 27, 36):
        pad.buttons[index].value = True
        score, letter = classify(model, pad.image)
        assert f"<b>{letter}</b>" in pad.result.value and f"{score:.2f}" in pad.result.value
        seen.add(pad.result.value)
        maps_seen.add(pad.maps.value)
    assert len(seen) == 5 and len(maps_seen) == 5
    assert pad.image.sum() == 4 and pad.image[0, 3] == 1


def test_pad_starts_from_an_image_and_resets_to_it(model):
    start = place(letter_shape("T", 4), 2, 2)
    pad = LetterPad(model, image=start)
    np.testing.assert_array_equal(pad.image, start)
    assert pad.vmax == pytest.approx(pad.feature_maps(start).max())
    pad.set_image(np.zeros((8, 8)))
    assert pad.image.sum() == 0 and "draw a letter" in pad.result.value
    with pytest.raises(ValueError, match="8x8"):
        pad.set_image(np.zeros((4, 4)))


def test_maps_html_colours_each_value():
    maps = np.array([[[0.0, 1.0], [2.0, 0.5]]])
    html = maps_html(maps, vmax=1.0)
    assert html.count("<span") == 4
    assert html.count(MAP_COLOURS[0]) == 1 and html.count(MAP_COLOURS[-1]) == 2


def test_export_has_the_model_weights(model):
    network = export_tl_network(model)
    np.testing.assert_array_equal(network["conv"]["weight"], model[0].params["weight"])
    np.testing.assert_array_equal(network["hidden"]["bias"], model[4].params["bias"])
    np.testing.assert_array_equal(network["out"]["weight"], model[6].params["weight"])
    json.dumps(network)


def test_export_refuses_other_networks():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="tl_cnn"):
        export_tl_network(cnnlib.models.tl_dense(4, rng=rng))
    wrong_pool = tl_cnn(2, rng=rng)
    wrong_pool[2].ceil_mode = True
    with pytest.raises(ValueError, match="max-pool"):
        export_tl_network(wrong_pool)


def test_one_output_carries_the_widget_and_the_page_pad(model):
    start = place(letter_shape("L", 3), 1, 1)
    bundle = LetterPad(model, image=start)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    data = json.loads(re.search(r'class="cnnv-data">(.*?)</script>', bundle["text/html"]).group(1))
    assert data["initial"] == start.tolist() and data["network"] == export_tl_network(model)
