"""Tests for cnnlib.book.viewer: controls, frames, the HTML a page gets, and the mime bundle."""

import base64
import io
import json
import re

import ipywidgets as widgets
import pytest
from PIL import Image

from cnnlib.book.viewer import (Control, Frame, StaticViewer, figure_data_uri, figure_png,
                                live_and_static, pad_html)


def _data(html):
    """The JSON a viewer's script reads."""
    match = re.search(r'<script type="application/json" class="cnnv-data">(.*?)</script>', html,
                      re.S)
    return json.loads(match.group(1))


def _viewer(**kwargs):
    controls = [Control("k", (1, 3, 5), kind="buttons", initial=3),
                Control("s", (1, 2), play=True), Control("ceil", (False, True), kind="checkbox")]
    return StaticViewer(controls, lambda s: Frame(f"data:,{s['k'] * 10 + s['s']}",
                                                  caption=f"k={s['k']} s={s['s']} {s['ceil']}",
                                                  values={"k": s["k"]}), **kwargs)


def test_control_defaults_and_start():
    c = Control("n", (4, 5, 6), initial=5)
    assert c.label == "n" and c.labels == ("4", "5", "6") and c.start == 1
    assert Control("n", (4, 5)).start == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "dial"}, "kind"),
    ({"labels": ("a",)}, "labels"),
    ({"initial": 9}, "initial"),
    ({"kind": "buttons", "play": True}, "play"),
])
def test_control_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Control("n", (4, 5), **kwargs)


def test_checkbox_needs_false_true():
    with pytest.raises(ValueError, match="checkbox"):
        Control("c", (0, 1), kind="checkbox")
    with pytest.raises(ValueError, match="empty"):
        Control("c", ())


def test_one_frame_per_combination_in_control_order():
    viewer = _viewer()
    assert len(viewer.frames) == 3 * 2 * 2
    assert viewer.initial == (1, 0, 0)
    assert viewer.frames[(2, 1, 1)].caption == "k=5 s=2 True"


def test_names_must_differ():
    with pytest.raises(ValueError, match="repeat"):
        StaticViewer([Control("a", (1,)), Control("a", (2,))], lambda s: Frame("data:,"))


def test_html_holds_every_frame_once_and_shows_the_initial_one():
    viewer = _viewer(inputs={"x": [1, 2]}, interval=250)
    html = viewer.html()
    data = _data(html)
    assert set(data["frames"]) == {f"{i},{j},{c}" for i in range(3) for j in range(2)
                                   for c in range(2)}
    assert len(data["images"]) == 6                 # ceil on/off share their picture
    frame = data["frames"]["1,0,0"]
    assert data["images"][frame["image"]] == "data:,31" and frame["values"] == {"k": 3}
    assert data["inputs"] == {"x": [1, 2]} and data["interval"] == 250
    assert 'src="data:,31"' in html and "k=3 s=1 False" in html
    assert html.count('aria-pressed="true">') == 1          # the button of k=3
    assert 'type="range"' in html and 'max="1"' in html and "cnnv-play" in html
    assert 'type="checkbox"' in html and "<script>" in html and "<style>" in html
    assert " id=" not in html                                 # no ids to collide on a page


def test_captions_cannot_end_the_data_script():
    viewer = StaticViewer([Control("a", (1,))], lambda s: Frame("data:,", caption="</script>x"))
    assert _data(viewer.html())["frames"]["0"]["caption"] == "</script>x"


def test_figure_png_is_a_small_palette_png(agg):
    fig, ax = agg.subplots(figsize=(3, 2), dpi=50)
    ax.plot([0, 1], [0, 1])
    image = Image.open(io.BytesIO(figure_png(fig, colors=16)))
    assert image.mode == "P" and image.size == (150, 100)
    assert len(image.getcolors()) <= 16
    fig, _ = agg.subplots(figsize=(1, 1), dpi=40)
    uri = figure_data_uri(fig)
    assert uri.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))).size == (40, 40)


def test_initial_image_carries_its_size(agg):
    fig, _ = agg.subplots(figsize=(2, 1), dpi=50)
    uri = figure_data_uri(fig)
    html = StaticViewer([Control("a", (1,))], lambda s: Frame(uri)).html()
    assert 'width="100" height="50"' in html


def test_live_and_static_bundle_has_both_forms():
    bundle = live_and_static(widgets.Button(description="go"), "<p>static</p>")
    assert bundle["text/html"] == "<p>static</p>"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert "text/plain" in bundle


def test_pad_html_embeds_network_and_colours():
    network = {"conv": {"weight": [[[[1.0] * 3] * 3]], "bias": [0.0]},
               "hidden": {"weight": [[1.0] * 9], "bias": [0.0]},
               "out": {"weight": [[1.0]], "bias": [0.5]}}
    html = pad_html(network, [[0] * 8] * 8, colours=["#000", "#fff"], vmax=2)
    data = _data(html)
    assert data["network"] == network and data["vmax"] == 2.0
    assert data["letters"] == ["L", "T"] and data["threshold"] == 0.5
    assert "cnnv-pad" in html and "cnnv-clear" in html and "cnnv-reset" in html
    assert 'class="cnnv-eraser" aria-pressed="false"' in html
    assert "touch-action: none" in html and "pointerdown" in html
