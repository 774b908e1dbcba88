"""Tests for window starts, the positions figure and explorer (both forms), receptive fields."""

import itertools

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.widgets.positions import (STATIC_GRID, PositionsExplorer, describe_positions,
                                           draw_positions, draw_receptive_field)
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


def test_bad_arguments():
    with pytest.raises(ValueError, match="larger than the padded"):
        window_starts(3, 5)
    with pytest.raises(ValueError, match="stride"):
        window_starts(5, 3, stride=0)


def test_coverage():
    assert coverage(5, 3).tolist() == [1, 2, 3, 2, 1]
    assert coverage(6, 3, stride=2).tolist() == [1, 1, 2, 1, 1, 0]
    assert coverage(3, 3, padding=1).tolist() == [1, 2, 3, 2, 1]


def test_draw_positions_returns_starts_and_labels_every_input_cell(agg):
    fig, ax = agg.subplots()
    starts = draw_positions(ax, 5, 2, stride=2, ceil_mode=True, fontsize=11)
    assert starts.tolist() == [0, 2, 4]
    assert "output 3×3" in ax.get_title()
    assert len(ax.texts) == 25 and {t.get_fontsize() for t in ax.texts} == {11}


def test_describe_positions_counts_unread_cells():
    text, values = describe_positions(6, 3, 2, 0, False)
    assert values == {"output": 2, "starts": [0, 2], "unread": 36 - 25}
    assert "output 2 × 2" in text and "never read: 11" in text
    assert describe_positions(5, 2, 2, 0, True)[1]["unread"] == 0


def test_receptive_field_units_match_cnnlib(agg):
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
    fig, ax = agg.subplots()
    assert draw_receptive_field(layers, ax=ax) == expected


def test_explorer_redraws_and_explains_impossible_settings(agg):
    ex = PositionsExplorer()
    first = ex.picture.value
    assert "output 3 × 3" in ex.label.value
    ex.sliders["n"].value = 3
    ex.sliders["kernel"].value = 6       # larger than the input: a message, not an error
    assert "larger than the padded input" in ex.label.value
    ex.sliders["padding"].value = 2      # padding makes it fit again
    ex.checkboxes["ceil_mode"].value = True
    assert "output 2 × 2" in ex.label.value and "ceil mode" in ex.label.value
    assert ex.picture.value != first


@pytest.mark.slow
def test_static_form_states_what_cnnlib_computes(agg):
    viewer = PositionsExplorer(n=5, kernel=3, stride=2, padding=1).static()
    assert len(viewer.frames) == np.prod([len(v) for v in STATIC_GRID.values()]) * 2
    names = [c.name for c in viewer.controls]
    assert [c.values[i] for c, i in zip(viewer.controls, viewer.initial)] == [5, 3, 2, 1, False]
    for key, frame in viewer.frames.items():
        s = dict(zip(names, (c.values[i] for c, i in zip(viewer.controls, key))))
        n_out = F.output_size(s["n"], s["kernel"], stride=s["stride"], padding=s["padding"],
                              ceil_mode=s["ceil_mode"])
        assert frame.values["output"] == n_out and f"output {n_out} × {n_out}" in frame.caption
    index = {c.name: c.values.index for c in viewer.controls}

    def frame(n, ceil_mode):                     # kernel 2, stride 2, no padding
        return viewer.frames[(index["n"](n), index["kernel"](2), index["stride"](2),
                              index["padding"](0), int(ceil_mode))]

    assert frame(6, False).image == frame(6, True).image     # ceil mode changes nothing here
    assert frame(5, False).image != frame(5, True).image     # and here it adds a window
