"""Tests for window starts, coverage, and cnnlib.book.widgets.positions: window starts, coverage, drawings, explorer."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.widgets.positions import draw_positions, draw_receptive_field, positions_explorer
from cnnlib.nn.windows import coverage, window_starts
from cnnlib.tools.shapes import receptive_field_units


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_window_count_matches_output_size(ceil_mode):
    for n, k, s, p in itertools.product(range(1, 12), range(1, 6), range(1, 5), range(3)):
        if k > n + 2 * p or (ceil_mode and (k > n or p > k // 2)):
            continue
        starts = window_starts(n, k, stride=s, padding=p, ceil_mode=ceil_mode)
        assert len(starts) == F.output_size(n, k, stride=s, padding=p, ceil_mode=ceil_mode)
        assert np.all(np.diff(starts) == s)


def test_window_starts_examples():
    assert window_starts(6, 3, stride=2).tolist() == [0, 2]
    assert window_starts(11, 2, stride=2, ceil_mode=True).tolist() == [0, 2, 4, 6, 8, 10]
    assert window_starts(5, 3, padding=1).tolist() == [0, 1, 2, 3, 4]


def test_ceil_mode_matches_max_pool():
    x = np.arange(11 * 11, dtype=float).reshape(1, 1, 11, 11)
    y = F.max_pool2d(x, 2, ceil_mode=True)
    assert y.shape[-1] == len(window_starts(11, 2, stride=2, ceil_mode=True))


def test_bad_arguments():
    with pytest.raises(ValueError, match="larger than the padded"):
        window_starts(3, 5)
    with pytest.raises(ValueError, match="stride"):
        window_starts(5, 3, stride=0)


def test_coverage():
    assert coverage(5, 3).tolist() == [1, 2, 3, 2, 1]
    assert coverage(6, 3, stride=2).tolist() == [1, 1, 2, 1, 1, 0]
    assert coverage(3, 3, padding=1).tolist() == [1, 2, 3, 2, 1]


def test_draw_positions_returns_starts():
    fig, ax = plt.subplots()
    starts = draw_positions(ax, 5, 2, stride=2, ceil_mode=True)
    assert starts.tolist() == [0, 2, 4]
    assert "output 3x3" in ax.get_title()
    plt.close(fig)


def test_receptive_field_units_match_cnnlib():
    rng = np.random.default_rng(0)
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 1, 3, rng=rng), cnnlib.Conv2d(1, 1, 3, rng=rng),
                              cnnlib.Conv2d(1, 1, 3, rng=rng), cnnlib.MaxPool2d(2),
                              cnnlib.Conv2d(1, 1, 3, rng=rng))
    layers = [("conv", 3, 1)] * 3 + [("pool", 2, 2), ("conv", 3, 1)]
    expected = [row[2] for row in cnnlib.receptive_field(model)]
    assert expected == [1, 3, 5, 7, 8, 12]
    windows = [(k, s, 1) for _, k, s in layers]
    for depth in range(1, len(layers) + 1):
        pixels = receptive_field_units(windows[:depth])[0]
        assert pixels.tolist() == list(range(expected[depth]))
    units = receptive_field_units(windows)
    assert [len(u) for u in units] == [12, 10, 8, 6, 3, 1]
    fig, ax = plt.subplots()
    assert draw_receptive_field(layers, ax=ax) == expected
    plt.close(fig)


def test_explorer_builds_and_redraws():
    box = positions_explorer()
    controls, out = box.children
    sliders = controls.children
    sliders[0].value = 3    # n
    sliders[1].value = 6    # kernel larger than the input: a message, not an error
    sliders[3].value = 2    # padding makes it fit again
    sliders[4].value = True
    assert len(out.outputs) <= 1
    plt.close("all")
