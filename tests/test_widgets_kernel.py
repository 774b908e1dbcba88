"""Tests for the 2-D kernel explorer, its static grid and the step-by-step figure."""

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlib.book.widgets.kernel import (KERNELS_2D, KernelExplorer, apply_kernel, conv_steps_figure,
                                   display_limits, kernel_grid)

matplotlib.use("Agg")

X = np.array([[1, 0, 2, 1, 0],
              [0, 1, 0, 1, 1],
              [1, 0, 1, 0, 0],
              [0, 0, 1, 1, 0],
              [1, 1, 0, 0, 1]])
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def test_apply_kernel_on_the_worked_example():
    np.testing.assert_array_equal(apply_kernel(X, CROSS), [[6, 1, 4], [1, 4, 2], [3, 2, 3]])


def test_apply_kernel_does_not_flip():
    x = np.arange(9.0).reshape(3, 3)
    k = np.zeros((3, 3))
    k[0, 0] = 1
    assert apply_kernel(x, k)[0, 0] == x[0, 0]


def test_apply_kernel_rejects_channels():
    with pytest.raises(ValueError, match="2-D"):
        apply_kernel(np.zeros((1, 5, 5)), CROSS)


def test_identity_kernel_crops_the_border():
    x = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(apply_kernel(x, KERNELS_2D["identity"]), x[1:-1, 1:-1])


def test_steps_figure_has_one_panel_per_output_value():
    fig = conv_steps_figure(X, CROSS)
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert len(titles) == 9
    assert titles[0] == "(0, 0) → 6" and titles[-1] == "(2, 2) → 3"


def test_kernel_grid_has_two_rows():
    fig = kernel_grid(np.eye(6), {"blur": KERNELS_2D["blur"], "edge": KERNELS_2D["edge"]})
    plt.close(fig)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4


def test_explorer_follows_presets_and_typed_weights():
    ex = KernelExplorer(X)
    assert isinstance(ex.box, widgets.HBox)
    ex.preset.value = "sharpen"
    np.testing.assert_array_equal(ex.kernel, KERNELS_2D["sharpen"])
    assert ex.result[0, 0] == 5 * 1 - (0 + 0 + 0 + 0)
    ex.cells[4].value = 1.0
    np.testing.assert_array_equal(ex.result, apply_kernel(X, ex.kernel))
    assert ex.result[0, 0] == 1


def test_explorer_rejects_presets_that_are_not_3x3():
    with pytest.raises(ValueError, match="expected"):
        KernelExplorer(X, {"wide": np.ones((1, 5))})


def test_display_limits_keep_brightness_for_kernels_that_sum_to_one():
    image = np.linspace(0, 1, 25).reshape(5, 5)
    blurred = apply_kernel(image, KERNELS_2D["blur"])
    assert display_limits(blurred, KERNELS_2D["blur"], image) == (0.0, 1.0)
    edges = apply_kernel(image, KERNELS_2D["vertical edge"])
    lo, hi = display_limits(edges, KERNELS_2D["vertical edge"], image)
    assert lo == -hi and hi > 0


def test_kernel_grid_wraps_into_rows():
    fig = kernel_grid(np.eye(6), KERNELS_2D, ncols=3)
    visible = [ax for ax in fig.axes if ax.axison or ax.images]
    plt.close(fig)
    assert len(fig.axes) == 12 and len(visible) == 12
