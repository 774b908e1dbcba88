"""Tests for the modern-blocks chapter's segmentation helpers: thin lines, stroke IoU, the tiny
U-Net and its skip experiment's command (the loss and mean IoU are tested in test_segmentation)."""

import json

import numpy as np
import pytest

from cnnlib.book import segmentation
from cnnlib.book.segmentation import iou, thin_lines, tiny_unet


def test_thin_lines_are_one_pixel_marks_on_a_blank_image():
    x = thin_lines(5, rng=np.random.default_rng(0))
    assert x.shape == (5, 1, 16, 16) and set(np.unique(x)) == {0.0, 1.0}
    assert np.all(x.sum(axis=(1, 2, 3)) >= 16)       # three lines, none shorter than a point


def test_iou_counts_pixels_over_all_images():
    pred = np.array([[[1, 1], [0, 0]]])
    mask = np.array([[[1, 0], [1, 0]]])
    assert iou(pred, mask) == 1 / 3
    assert iou(pred.astype(bool), mask.astype(bool)) == 1 / 3


@pytest.mark.parametrize("skip", [True, False])
def test_tiny_unet_scores_every_pixel(skip):
    net = tiny_unet(np.random.default_rng(0), skip=skip)
    assert net.forward(np.zeros((2, 1, 16, 16))).shape == (2, 2, 16, 16)
    assert net.num_params() == (2058 if skip else 1914)


def test_task_data_names_the_bad_task():
    with pytest.raises(ValueError, match="task_data: task must be one of"):
        segmentation.task_data("cats")


def test_command_writes_its_record(tmp_path, monkeypatch):
    calls = []

    def fake_run(task, seed, data=None):
        calls.append((task, seed))
        return {"skip": 0.5, "no_skip": 0.4}

    monkeypatch.setattr(segmentation, "skip_run", fake_run)
    monkeypatch.setattr(segmentation, "task_data", lambda task: None)
    out = tmp_path / "unet.json"
    segmentation.main(["--seeds", "2", "--out", str(out)])
    record = json.loads(out.read_text())
    assert calls == [("digits", 0), ("digits", 1), ("lines", 0), ("lines", 1)]
    assert record["settings"]["seeds"] == 2
    assert [run["seed"] for run in record["tasks"]["lines"]] == [0, 1]
