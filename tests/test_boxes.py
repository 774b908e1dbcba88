"""Box IoU, non-maximum suppression, formats and regression targets, against plain loops."""

import math

import numpy as np
import pytest

from cnnlib.tools import boxes as B


def random_boxes(rng, n, integer=False):
    xy = rng.uniform(0, 20, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 10, (n, 2))], axis=1)
    return np.round(boxes) if integer else boxes


def iou_loop(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = w * h / union
    return out


def nms_loop(boxes, scores, threshold):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(iou_loop(boxes[[i]], boxes[[k]])[0, 0] <= threshold for k in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("integer", [False, True])
def test_box_iou_against_loops(integer):
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 7, integer), random_boxes(rng, 5, integer)
    a[3, 2] = a[3, 0]  # a zero-width box
    np.testing.assert_allclose(B.box_iou(a, b), iou_loop(a, b), rtol=1e-14, atol=0)


def test_box_iou_edge_cases():
    assert B.box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert B.box_iou([], []).shape == (0, 0)
    assert B.box_iou([[1, 2, 5, 7]], [[1, 2, 5, 7]])[0, 0] == 1.0
    assert B.box_iou([[0, 0, 1, 1]], [[1, 0, 2, 1]])[0, 0] == 0.0  # touching
    assert B.box_iou([[0, 0, 0, 5]], [[0, 0, 5, 5]])[0, 0] == 0.0  # zero area against a box
    assert np.isnan(B.box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0])  # 0 / 0, as torchvision
    assert B.box_iou(np.ones((1, 4), np.float32), np.ones((1, 4), np.float32)).dtype == np.float32
    assert B.box_iou([[0, 0, 2, 2]], [[0, 0, 2, 1]]).dtype == np.float64


@pytest.mark.parametrize("seed, threshold", [(0, 0.5), (1, 0.3), (2, 0.0), (3, 1.0), (4, 0.7)])
def test_nms_against_loop(seed, threshold):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 40, integer=seed % 2 == 1)
    scores = np.round(rng.random(40), 1)  # ties
    keep = B.nms(boxes, scores, threshold)
    assert keep.dtype == np.int64
    assert keep.tolist() == nms_loop(boxes, scores, threshold)


def test_nms_edge_cases():
    assert B.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    same = np.array([[0, 0, 4, 4]] * 3)
    assert B.nms(same, [0.5, 0.5, 0.5], 0.5).tolist() == [0]  # ties: the first index
    assert B.nms(same, [0.1, 0.5, 0.5], 0.99).tolist() == [1]
    assert B.nms(same, [0.1, 0.2, 0.3], 1.0).tolist() == [2, 1, 0]  # IoU 1 is not > 1
    # IoU exactly at the threshold is not removed
    half = np.array([[0, 0, 10, 10], [0, 0, 10, 5]])
    assert B.nms(half, [2, 1], 0.5).tolist() == [0, 1]
    assert B.nms(half, [2, 1], 0.49).tolist() == [0]
    # zero-area duplicates have IoU NaN, so they never remove each other
    assert B.nms([[1, 1, 1, 1], [1, 1, 1, 1]], [1, 2], 0.5).tolist() == [1, 0]


def test_batched_nms():
    rng = np.random.default_rng(5)
    boxes, scores = random_boxes(rng, 30), rng.random(30)
    idxs = rng.integers(0, 3, 30)
    keep = B.batched_nms(boxes, scores, idxs, 0.4)
    expected = [i for c in range(3) for i in np.flatnonzero(idxs == c)[
        nms_loop(boxes[idxs == c], scores[idxs == c], 0.4)]]
    assert sorted(keep.tolist()) == sorted(expected)
    assert np.all(np.diff(scores[keep]) <= 0)
    assert B.batched_nms(np.zeros((0, 4)), [], np.zeros(0, int), 0.5).tolist() == []


def test_box_convert_round_trips():
    rng = np.random.default_rng(6)
    xyxy = random_boxes(rng, 6)
    for fmt in ("xywh", "cxcywh"):
        other = B.box_convert(xyxy, "xyxy", fmt)
        np.testing.assert_allclose(B.box_convert(other, fmt, "xyxy"), xyxy, atol=1e-12)
    np.testing.assert_array_equal(B.box_convert([[1, 2, 4, 8]], "xyxy", "xywh"), [[1, 2, 3, 6]])
    np.testing.assert_array_equal(B.box_convert([[2, 4, 2, 4]], "cxcywh", "xyxy"),
                                  [[1, 2, 3, 6]])
    np.testing.assert_array_equal(B.box_area([[1, 2, 4, 8], [0, 0, 0, 3]]), [18, 0])


def test_clip():
    clipped = B.clip_boxes_to_image([[-3, -1, 5, 30], [40, 2, 50, 4]], (20, 10))
    np.testing.assert_array_equal(clipped, [[0, 0, 5, 20], [10, 2, 10, 4]])


def test_encode_decode_boxes():
    rng = np.random.default_rng(7)
    boxes, anchors = random_boxes(rng, 9) + [0, 0, 1, 1], random_boxes(rng, 9) + [0, 0, 1, 1]
    for weights in ((1, 1, 1, 1), (10, 10, 5, 5)):
        deltas = B.encode_boxes(boxes, anchors, weights)
        np.testing.assert_allclose(B.decode_boxes(deltas, anchors, weights), boxes, atol=1e-12)
    # by hand: a box twice the anchor's size, shifted by half the anchor's width
    deltas = B.encode_boxes([[1, 0, 5, 4]], [[0, 0, 2, 2]], (10, 10, 5, 5))
    np.testing.assert_allclose(deltas, [[10 * 2 / 2, 10 * 1 / 2, 5 * math.log(2),
                                         5 * math.log(2)]])
    # a wild width is clipped before the exponential
    wide = B.decode_boxes([[0, 0, 100.0, 0]], [[0, 0, 2, 2]])
    np.testing.assert_allclose(wide[0, 2] - wide[0, 0], 2 * 1000 / 16)


def test_encode_decode_distances():
    boxes = np.array([[2.0, 3, 10, 7]])
    points = np.array([[4.0, 5]])
    np.testing.assert_array_equal(B.encode_distances(boxes, points), [[2, 2, 6, 2]])
    np.testing.assert_array_equal(B.decode_distances([[2, 2, 6, 2]], points), boxes)


@pytest.mark.parametrize("call, match", [
    (lambda: B.box_iou([[0, 0, 1]], [[0, 0, 1, 1]]), r"box_iou: boxes1 must have shape \(K, 4\)"),
    (lambda: B.box_iou([[0, 0, 1, 1]], [[2, 0, 1, 1]]), "box_iou: boxes2 must be .* x1 <= x2"),
    (lambda: B.box_iou([[0, 0, np.nan, 1]], []), "box_iou: boxes1 contains 1 NaN"),
    (lambda: B.box_iou([[0, 0, np.inf, 1]], []), "box_iou: boxes1 contains 1 NaN or inf"),
    (lambda: B.box_iou([["a", 0, 1, 1]], []), "box_iou: boxes1 has string dtype"),
    (lambda: B.nms([[0, 0, 1, 1]], [0.5, 0.2], 0.5), r"nms: scores must have shape \(1,\)"),
    (lambda: B.nms([[0, 0, 1, 1]], [0.5], 1.5), r"nms: iou_threshold must be .* in \[0, 1\]"),
    (lambda: B.nms([[0, 0, 1, 1]], [0.5], -0.1), "nms: iou_threshold"),
    (lambda: B.nms([[0, 0, 1, 1]], [np.nan], 0.5), "nms: scores contains 1 NaN"),
    (lambda: B.nms([[0, 1, 1, 0]], [1.0], 0.5), "nms: boxes must be .* y1 <= y2"),
    (lambda: B.batched_nms([[0, 0, 1, 1]], [1.0], [0.5], 0.5), "batched_nms: idxs"),
    (lambda: B.box_convert([[0, 0, 1, 1]], "xyxy", "yxyx"), "box_convert: out_fmt"),
    (lambda: B.box_convert([[0, 0, -1, 1]], "xywh", "xyxy"), "box_convert: xywh .* negative"),
    (lambda: B.encode_boxes([[0, 0, 1, 1]], [[0, 0, 0, 1]]), "encode_boxes: anchors need"),
    (lambda: B.encode_boxes([[0, 0, 1, 1]], np.ones((2, 4)) * [0, 0, 1, 1], ),
     "encode_boxes: boxes .* pair up"),
    (lambda: B.decode_boxes([[0, 0, 1.0]], [[0, 0, 1, 1]]), "decode_boxes: deltas"),
    (lambda: B.encode_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], (1, 1, 0, 1)),
     "encode_boxes: weights"),
    (lambda: B.clip_boxes_to_image([[0, 0, 1, 1]], 5), "clip_boxes_to_image: size"),
    (lambda: B.encode_distances([[0, 0, 1, 1]], [[0, 0], [1, 1]]), "encode_distances: points"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
