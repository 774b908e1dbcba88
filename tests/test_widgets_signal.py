"""Tests for the 1-D kernel explorer: the sum written out, the step figure, both forms."""

import json
import re

import ipywidgets as widgets
import numpy as np
import pytest

from cnnlib.book.widgets.signal import KERNELS_1D, SignalExplorer, draw_step, step_text
from cnnlib.nn.conv import conv1d

X = np.array([0.0, 0, 1, 1, 1, 0])


def test_conv1d_is_a_moving_average_with_equal_weights():
    x = np.arange(2, 16, 2)
    np.testing.assert_allclose(conv1d(x, KERNELS_1D["smoothing"]), [4, 6, 8, 10, 12])


def test_conv1d_matches_numpy_correlate_and_keeps_integers():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    k = np.array([1, -2, 3])
    y = conv1d(x, k)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, np.correlate(x, k, mode="valid"))


def test_step_text_writes_out_the_sum():
    assert step_text([2, 4, 6, 8], [1, 0, -1], 1) == "y[1] = 1 × 4 + 0 × 6 + -1 × 8 = -4"
    with pytest.raises(ValueError, match="outside"):
        step_text([2, 4, 6, 8], [1, 0, -1], 2)


def test_draw_step_returns_every_output_and_counts_positions_in_integers(agg):
    fig, axes = agg.subplots(4, 1)
    outputs = draw_step(axes, X, KERNELS_1D, 2)
    assert list(outputs) == list(KERNELS_1D)
    np.testing.assert_allclose(outputs["difference"], [1, 1, 0, -1])
    fig.canvas.draw()
    ticks = axes[-1].get_xticks()
    assert np.all(ticks == np.round(ticks))
    with pytest.raises(ValueError, match="share one width"):
        draw_step(axes[:3], X, {"a": [1, 1], "b": [1, 1, 1]}, 0)
    with pytest.raises(ValueError, match="outside"):
        draw_step(axes, X, KERNELS_1D, 4)


def test_explorer_redraws_when_kernel_or_position_changes(agg):
    ex = SignalExplorer(X)
    assert isinstance(ex.box, widgets.VBox) and ex.position.max == 3
    before = ex.picture.value
    ex.choice.value = "difference"
    ex.position.value = 1
    assert ex.label.value.endswith("= 1") and ex.picture.value != before
    np.testing.assert_array_equal(ex.kernel, [-1, 0, 1])


def test_explorer_refuses_kernels_longer_than_the_signal(agg):
    with pytest.raises(ValueError, match="longer"):
        SignalExplorer([1.0, 2.0], {"k": [1, 1, 1]})


@pytest.mark.slow
def test_static_form_has_every_kernel_and_position(agg):
    ex = SignalExplorer(X)
    viewer = ex.static()
    assert len(viewer.frames) == 3 * 4
    for (i, position), frame in viewer.frames.items():
        name = list(KERNELS_1D)[i]
        y = conv1d(X, KERNELS_1D[name])[position]
        assert frame.caption == step_text(X, KERNELS_1D[name], position)
        assert frame.values["y"] == pytest.approx(y)
    assert len({frame.image for frame in viewer.frames.values()}) == 12


@pytest.mark.slow
def test_one_output_carries_the_widget_and_the_viewer(agg):
    bundle = SignalExplorer(X)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    data = json.loads(re.search(r'class="cnnv-data">(.*?)</script>', bundle["text/html"]).group(1))
    assert data["inputs"]["x"] == X.tolist() and set(data["inputs"]["kernels"]) == set(KERNELS_1D)
    assert "cnnv-play" in bundle["text/html"]
