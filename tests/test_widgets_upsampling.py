"""Tests for the transposed-convolution stamp explorer (both forms)."""

import itertools

import numpy as np
import pytest

from cnnlib import functional as F
from cnnlib.book.widgets.upsampling import (STATIC_GRID, StampExplorer, describe_stamps,
                                            stamp_counts, steady_counts)


@pytest.mark.parametrize("kernel, stride", list(itertools.product(range(1, 7), range(1, 5))))
def test_steady_counts_are_what_a_large_input_gets_inside(kernel, stride):
    counts = stamp_counts(kernel, stride, 0, n=12)[:, 0]
    inside = counts[kernel - 1: 11 * stride + 1]  # rows every stamp could reach
    low, high = steady_counts(kernel, stride)
    assert set(inside.tolist()) == {low, high} or set(inside.tolist()) == {low}
    assert low == kernel // stride and high == -(-kernel // stride)


def test_stamp_counts_sum_to_every_stamped_weight():
    for kernel, stride in itertools.product((2, 3, 4), (1, 2, 3)):
        assert stamp_counts(kernel, stride, 0).sum() == 16 * kernel * kernel


def test_description_matches_the_output_size():
    for kernel, stride, padding in itertools.product(*STATIC_GRID.values()):
        text, values = describe_stamps(kernel, stride, padding)
        size = F.conv_transpose_output_size(4, kernel, stride=stride, padding=padding)
        assert values["output"] == size and f"output {size}×{size}" in text
    assert "checkerboard" in describe_stamps(3, 2, 0)[0]
    assert "even" in describe_stamps(4, 2, 1)[0] and "checkerboard" not in describe_stamps(
        4, 2, 1)[0]
    assert "no stamp" in describe_stamps(2, 3, 0)[0]


@pytest.mark.slow
def test_static_form_has_a_frame_per_setting_and_a_live_form(agg):
    explorer = StampExplorer(kernel=3, stride=2, padding=0)
    viewer = explorer.static()
    assert len(viewer.frames) == np.prod([len(v) for v in STATIC_GRID.values()])
    first = viewer.frames[viewer.initial]
    assert first.values == describe_stamps(3, 2, 0)[1]
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "cnnv-viewer" in bundle[
        "text/html"]
    explorer.sliders["kernel"].value = 4
    assert "kernel 4" in explorer.label.value
    explorer.sliders["padding"].value = 2
    explorer.sliders["kernel"].value = 1
    explorer.sliders["stride"].value = 1
    assert "padding 2 removes the whole output" in explorer.label.value
