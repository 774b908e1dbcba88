"""The small anchor-free detector: targets, loss gradient, decoding and a few training steps."""

import numpy as np
import pytest

import cnnlib
from cnnlib.data import make_scenes
from cnnlib.detection import (DetectionLoss, assign_targets, decode_detections, detect,
                              feature_points, fit_detector, small_detector)
from cnnlib.tools.boxes import mean_average_precision
from cnnlib.tools.gradcheck import numerical_gradient, rel_error


def synthetic_scenes(count, seed, **kwargs):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:28, :28]
    items = np.zeros((12, 28, 28), np.uint8)
    for i in range(12):
        half = 4 + i % 4 * 2
        items[i][(np.abs(rows - 14) < half) & (np.abs(cols - 14) < half + i % 3)] = 200
    return make_scenes(items, np.arange(12) % 3, count, rng=rng, **kwargs)


def test_feature_points():
    np.testing.assert_array_equal(feature_points(2, 3, 4),
                                  [[2, 2], [6, 2], [10, 2], [2, 6], [6, 6], [10, 6]])


def test_assign_targets_by_hand():
    # box centre (16, 16); points 10, 14, 18, 22 lie within 1.5 strides = 6 of it
    classes, dist, positive = assign_targets([np.array([[8.0, 8, 24, 24]])], [np.array([2])],
                                             3, (16, 16))
    assert classes.shape == (1, 3, 16, 16) and dist.shape == (1, 4, 16, 16)
    expected = np.zeros((16, 16), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(positive[0], expected)
    np.testing.assert_array_equal(classes[0, 2], expected)
    assert classes[0, :2].sum() == 0
    # the cell at point (14, 14): distances 6, 6, 10, 10 to the sides, in strides of 4
    np.testing.assert_allclose(dist[0, :, 3, 3], np.log([1.5, 1.5, 2.5, 2.5]), rtol=1e-6)
    assert np.all(dist[0][:, ~expected] == 0)


def test_assign_targets_smaller_box_wins_and_empty_images():
    big, small = [0.0, 0, 40, 40], [12.0, 12, 26, 26]
    classes, _, positive = assign_targets([np.array([big, small]), np.zeros((0, 4))],
                                          [np.array([0, 1]), np.zeros(0, int)], 2, (10, 10))
    # points 14, 18 fall in both centre regions (centres 20 and 19); the small box takes them
    assert classes[0, 1, 3, 3] == 1 and classes[0, 0, 3, 3] == 0
    assert classes[0, 0].sum() > 0 and not positive[1].any()


def test_loss_gradient_and_parts():
    rng = np.random.default_rng(0)
    boxes = [np.array([[2.0, 3, 13, 12], [8, 1, 16, 9]])]
    targets = assign_targets(boxes, [np.array([0, 1])], 2, (4, 4), dtype=np.float64)
    assert targets[2].sum() >= 2
    pred = rng.standard_normal((1, 6, 4, 4))
    loss = DetectionLoss(beta=0.3, box_weight=2.0)
    value = loss.forward(pred, targets)
    assert value == pytest.approx(loss.parts["classes"] + 2 * loss.parts["boxes"], rel=1e-12)
    grad = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, targets), pred)
    assert rel_error(grad, numeric) < 1e-8


def test_perfect_predictions_decode_to_the_boxes():
    scenes = synthetic_scenes(6, 1, max_cover=0, clutter=0)
    classes, dist, positive = assign_targets(scenes.boxes, scenes.labels, 3, (16, 16),
                                             dtype=np.float64)
    pred = np.concatenate([np.where(classes > 0, 12.0, -12.0), dist], axis=1)
    detections = decode_detections(pred)
    result = mean_average_precision(detections, scenes.targets())
    assert result["map"] == pytest.approx(1.0, abs=1e-9)
    for found, boxes in zip(detections, scenes.boxes):
        assert len(found["boxes"]) == len(boxes)  # the duplicates of each object are removed
        assert np.all(np.diff(found["scores"]) <= 0)


def test_builder_and_a_few_training_steps():
    rng = np.random.default_rng(2)
    model = small_detector(3, rng=rng, width=4)
    head = model[len(model) - 1]
    np.testing.assert_allclose(head.params["bias"][:3], -np.log(99), rtol=1e-6)
    scenes = synthetic_scenes(16, 3, size=32)
    optimizer = cnnlib.Adam(model, 3e-3)
    history = fit_detector(model, scenes, optimizer, rng=rng, batch_size=8, steps=12)
    assert len(history["loss"]) == 12 and history["loss"][-1] < history["loss"][0]
    found = detect(model, scenes.images[:4], score_threshold=0.0, max_detections=5)
    assert len(found) == 4 and all(len(f["boxes"]) <= 5 for f in found)
    assert model.training


@pytest.mark.parametrize("call, match", [
    (lambda: assign_targets([np.zeros((1, 4))], [], 2, (4, 4)), "assign_targets: 1 box arrays"),
    (lambda: assign_targets([np.array([[0, 0, 4, 4]])], [np.array([5])], 2, (4, 4)),
     r"assign_targets: image 0 .* label in \[0, 1\]"),
    (lambda: DetectionLoss().forward(np.zeros((1, 6, 4, 4)), None), "DetectionLoss: targets"),
    (lambda: DetectionLoss().forward(np.zeros((1, 6, 4, 4)),
                                     assign_targets([], [], 2, (4, 4))), "does not fit"),
    (lambda: decode_detections(np.zeros((1, 4, 4, 4))), "at least one class"),
    (lambda: fit_detector(None, None, None, rng=None), "give steps or seconds"),
    (lambda: small_detector(3, rng=np.random.default_rng(0), prior=1.0), "prior"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
