"""Tests for the 1-D kernel explorer and its animation."""

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation

from cnnlib.book.widgets.signal import (KERNELS_1D, SignalExplorer, draw_step, signal_animation,
                                        step_text)
from cnnlib.nn.conv import conv1d

matplotlib.use("Agg")


def test_slide_is_a_moving_average_with_equal_weights():
    x = np.arange(2, 16, 2)
    np.testing.assert_allclose(conv1d(x, KERNELS_1D["smoothing"]), [4, 6, 8, 10, 12])


def test_slide_matches_numpy_correlate_and_keeps_integers():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    k = np.array([1, -2, 3])
    y = conv1d(x, k)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, np.correlate(x, k, mode="valid"))


def test_slide_rejects_a_kernel_longer_than_the_signal():
    with pytest.raises(ValueError, match="longer"):
        conv1d([1, 2], [1, 1, 1])


def test_step_text_writes_out_the_sum():
    text = step_text([2, 4, 6, 8], [1, 0, -1], 1)
    assert text == "y[1] = 1 × 4 + 0 × 6 + -1 × 8 = -4"


def test_draw_step_returns_every_output():
    fig, axes = plt.subplots(4, 1)
    x = np.array([0.0, 0, 1, 1, 1, 0])
    outputs = draw_step(axes, x, KERNELS_1D, 2)
    plt.close(fig)
    assert list(outputs) == list(KERNELS_1D)
    np.testing.assert_allclose(outputs["difference"], [1, 1, 0, -1])


def test_explorer_updates_text_when_kernel_changes():
    ex = SignalExplorer([0.0, 0, 1, 1, 1, 0])
    assert isinstance(ex.box, widgets.VBox)
    assert ex.position.max == 3
    ex.choice.value = "difference"
    ex.position.value = 1
    assert ex.label.value.endswith("= 1")
    np.testing.assert_array_equal(ex.kernel, [-1, 0, 1])


def test_animation_has_one_frame_per_position():
    anim = signal_animation(np.array([0.0, 1, 0, 2, 0]), figsize=(3, 3), dpi=30)
    assert isinstance(anim, FuncAnimation)
    html = anim.to_jshtml()
    assert "<img" in html and html.count("frames[") >= 3
