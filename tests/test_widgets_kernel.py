"""Tests for the 2-D kernel explorer (live and static), the step-by-step figure and heatmap text."""

import ipywidgets as widgets
import numpy as np
import pytest

from cnnlib import functional as F
from cnnlib.book.viz import heatmap, relative_luminance, text_colour
from cnnlib.book.widgets.kernel import (CENTRE_STEPS, KERNELS_2D, KernelExplorer, apply_kernel,
                                        conv_steps_figure, display_limits)


def test_apply_kernel_on_the_worked_example(worked_conv):
    x, k, expected = worked_conv
    np.testing.assert_array_equal(apply_kernel(x, k), expected)


def test_apply_kernel_does_not_flip():
    x = np.arange(9.0).reshape(3, 3)
    k = np.zeros((3, 3))
    k[0, 0] = 1
    assert apply_kernel(x, k)[0, 0] == x[0, 0]


def test_apply_kernel_rejects_channels(worked_conv):
    with pytest.raises(ValueError, match="2-D"):
        apply_kernel(np.zeros((1, 5, 5)), worked_conv[1])


def test_identity_kernel_crops_the_border():
    x = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(apply_kernel(x, KERNELS_2D["identity"]), x[1:-1, 1:-1])


def test_steps_figure_has_one_panel_per_output_value(agg, worked_conv):
    x, k, _ = worked_conv
    titles = [ax.get_title() for ax in conv_steps_figure(x, k).axes]
    assert len(titles) == 9
    assert titles[0] == "(0, 0) → 6" and titles[-1] == "(2, 2) → 3"


def test_display_limits_keep_brightness_for_kernels_that_sum_to_one():
    image = np.linspace(0, 1, 25).reshape(5, 5)
    blurred = apply_kernel(image, KERNELS_2D["blur"])
    assert display_limits(blurred, KERNELS_2D["blur"], image) == (0.0, 1.0)
    edges = apply_kernel(image, KERNELS_2D["vertical edge"])
    lo, hi = display_limits(edges, KERNELS_2D["vertical edge"], image)
    assert lo == -hi and hi > 0


def test_explorer_follows_presets_and_typed_weights(agg, worked_conv):
    x = worked_conv[0]
    ex = KernelExplorer(x)
    assert isinstance(ex.box, widgets.HBox)
    first = ex.picture.value
    ex.preset.value = "sharpen"
    np.testing.assert_array_equal(ex.kernel, KERNELS_2D["sharpen"])
    assert ex.result[0, 0] == 5 * 1 - (0 + 0 + 0 + 0)
    assert ex.picture.value != first
    ex.cells[4].value = 1.0
    np.testing.assert_array_equal(ex.result, apply_kernel(x, ex.kernel))
    assert ex.result[0, 0] == 1


def test_explorer_rejects_presets_that_are_not_3x3(worked_conv):
    with pytest.raises(ValueError, match="expected"):
        KernelExplorer(worked_conv[0], {"wide": np.ones((1, 5))})


def test_static_form_covers_presets_and_centre_steps(agg):
    image = np.random.default_rng(0).random((12, 10))
    viewer = KernelExplorer(image).static()
    assert len(viewer.frames) == len(KERNELS_2D) * len(CENTRE_STEPS)
    assert viewer.initial == (0, CENTRE_STEPS.index(0.0))
    for (i, j), frame in viewer.frames.items():
        kernel = KERNELS_2D[list(KERNELS_2D)[i]].copy()
        kernel[1, 1] += CENTRE_STEPS[j]
        out = apply_kernel(image, kernel)
        np.testing.assert_allclose(frame.values["kernel"], kernel)
        assert frame.values["shape"] == [F.output_size(12, 3), F.output_size(10, 3)]
        assert frame.values["min"] == pytest.approx(out.min())
        assert f"{kernel.sum():.3g}" in frame.caption


@pytest.mark.parametrize("cmap", ["RdBu", "RdBu_r", "Blues", "viridis", "magma", "gray"])
def test_heatmap_text_reads_on_every_cell(agg, cmap):
    a = np.linspace(-1, 1, 9).reshape(3, 3)
    fig, ax = agg.subplots()
    heatmap(ax, a, cmap=cmap)
    image = ax.images[0]
    assert len(ax.texts) == a.size
    for text, value in zip(ax.texts, a.ravel()):
        background = image.cmap(image.norm(value))
        ink = 0.0 if text.get_color() == "black" else 1.0
        contrast = ((max(relative_luminance(background), ink) + 0.05)
                    / (min(relative_luminance(background), ink) + 0.05))
        assert contrast >= 4.5, (cmap, value, text.get_color())


def test_text_colour_on_the_extremes_of_a_diverging_map():
    assert text_colour((0.4, 0.0, 0.12)) == "white"       # RdBu's dark red
    assert text_colour((0.02, 0.19, 0.38)) == "white"     # and its dark blue
    assert text_colour((0.97, 0.97, 0.97)) == "black"
