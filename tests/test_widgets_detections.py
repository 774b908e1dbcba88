"""Tests for the detection explorer: survivors of NMS, the precision-recall point, both forms."""

import itertools

import numpy as np
import pytest

from cnnlib.book.widgets.detections import (STATIC_GRID, DetectionExplorer, candidates_of,
                                            operating_point, survivors)
from cnnlib.tools.boxes import batched_nms

# Image 0: one object of class 1 and three boxes on it (two overlap strongly), one false alarm.
CANDIDATES = [
    {"boxes": [[10, 10, 30, 30], [11, 10, 31, 30], [40, 40, 50, 50], [12, 12, 30, 30]],
     "scores": [0.9, 0.6, 0.4, 0.25], "labels": [1, 1, 2, 3]},
    {"boxes": [[0, 0, 20, 20], [30, 30, 60, 60]], "scores": [0.8, 0.15], "labels": [0, 4]},
    {"boxes": [], "scores": [], "labels": []},
]
TARGETS = [{"boxes": [[10, 10, 30, 30]], "labels": [1]},
           {"boxes": [[0, 0, 20, 20], [30, 30, 60, 60]], "labels": [0, 5]},
           {"boxes": [[5, 5, 15, 15]], "labels": [2]}]


def test_survivors_are_batched_nms_of_the_boxes_above_the_threshold():
    c = CANDIDATES[0]
    assert survivors(c, 0.3, 0.5).tolist() == [0, 2]
    assert survivors(c, 0.3, 1.0).tolist() == [0, 1, 2]          # IoU 1 suppresses nothing
    assert survivors(c, 0.95, 0.5).tolist() == []
    assert survivors(CANDIDATES[2], 0.1, 0.5).tolist() == []
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 40, (30, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 20, (30, 2))], axis=1)
    scores, labels = rng.uniform(size=30), rng.integers(0, 3, 30)
    c = {"boxes": boxes.tolist(), "scores": scores.tolist(), "labels": labels.tolist()}
    for s, t in itertools.product((0.2, 0.5), (0.3, 0.6)):
        above = np.flatnonzero(scores >= s)
        want = above[batched_nms(boxes[above], scores[above], labels[above], t)]
        assert survivors(c, s, t).tolist() == want.tolist()


def test_operating_point_counts_by_hand():
    p = operating_point(CANDIDATES, TARGETS, 0.3, 0.5)
    # kept: image 0 boxes 0 (hit) and 2 (false alarm); image 1 box 0 (hit); 4 objects
    assert p["kept"] == [[0, 2], [0], []]
    assert p["matched"] == [[0, -1], [0], []]
    assert (p["tp"], p["fp"], p["objects"]) == (2, 1, 4)
    assert p["precision"] == 2 / 3 and p["recall"] == 0.5
    off = operating_point(CANDIDATES, TARGETS, 0.1, 1.0)
    # without NMS the duplicate on the object is a false alarm; the class-4 box finds nothing
    assert (off["tp"], off["fp"]) == (2, 4)
    assert operating_point(CANDIDATES, TARGETS, 0.95, 0.5)["precision"] == 1.0


def test_candidates_keep_the_most_confident_as_lists():
    d = [{"boxes": np.array([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3.333]]),
          "scores": np.array([0.2, 0.9, 0.5]), "labels": np.array([1, 2, 3])}]
    c = candidates_of(d, keep=2)
    assert c == [{"boxes": [[0, 0, 2, 2], [0, 0, 3, 3.33]], "scores": [0.9, 0.5],
                  "labels": [2, 3]}]


class SmallExplorer(DetectionExplorer):
    STATIC_GRID = {"score": (30, 95), "iou": (50, 100)}   # the book's grid costs seconds


def test_the_books_grid_gives_every_slider_step_a_new_caption():
    assert all(len(set(v)) == len(v) >= 2 for v in STATIC_GRID.values())
    assert 100 in STATIC_GRID["iou"]          # NMS off is one of the settings


@pytest.mark.slow
def test_static_form_has_a_distinct_frame_per_setting_and_a_live_form(agg):
    images = np.zeros((3, 1, 64, 64), np.float32)
    explorer = SmallExplorer(images, CANDIDATES, TARGETS, [str(k) for k in range(10)],
                             score=30, iou=50)
    viewer = explorer.static()
    grid = SmallExplorer.STATIC_GRID
    assert len(viewer.frames) == 4
    captions = {f.caption for f in viewer.frames.values()}
    assert len(captions) == len(viewer.frames)
    for key, frame in viewer.frames.items():
        score, iou = (grid[n][i] for n, i in zip(("score", "iou"), key))
        assert frame.values == operating_point(CANDIDATES, TARGETS, score / 100, iou / 100)
    first = viewer.frames[viewer.initial].caption
    assert first.startswith("Score ≥ 0.30, NMS IoU 0.50: 3 boxes kept") and "recall 0.50" in first
    assert "NMS off" in viewer.frames[(0, 1)].caption
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "cnnv-viewer" in bundle["text/html"] and '"candidates"' in bundle["text/html"]
    explorer.sliders["score"].value = 95
    assert "0 boxes kept" in explorer.label.value


def test_explorer_refuses_too_few_scenes():
    with pytest.raises(ValueError, match="DetectionExplorer: give at least 3 images"):
        DetectionExplorer(np.zeros((2, 1, 8, 8)), CANDIDATES[:2], TARGETS[:2], [])
