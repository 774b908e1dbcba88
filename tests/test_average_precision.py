"""COCO mean average precision against pycocotools' COCOeval, and by hand."""

import contextlib
import io

import numpy as np
import pytest

from cnnlib.tools.boxes import mean_average_precision

KEYS = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10",
        "mar_100", "mar_small", "mar_medium", "mar_large"]


def coco_stats(detections, targets):
    """COCOeval's 12 summary numbers for the same inputs, built in memory."""
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    labels = np.concatenate([d["labels"] for d in detections] + [t["labels"] for t in targets])
    images, gts, dts = [], [], []
    for i, (d, t) in enumerate(zip(detections, targets)):
        images.append({"id": i + 1, "width": 400, "height": 400})
        for box, label in zip(np.asarray(t["boxes"], float), t["labels"]):
            w, h = box[2] - box[0], box[3] - box[1]
            gts.append({"id": len(gts) + 1, "image_id": i + 1, "category_id": int(label),
                        "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        for box, label, score in zip(np.asarray(d["boxes"], float), d["labels"], d["scores"]):
            dts.append({"image_id": i + 1, "category_id": int(label), "score": float(score),
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": gts,
                        "categories": [{"id": int(c)} for c in np.unique(labels)]}
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(dts), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(KEYS, evaluation.stats))


def random_scene(rng, n_images=8, n_classes=4, integer=False):
    """Ground truths of several sizes, and detections near them, crowded, with score ties."""
    detections, targets = [], []
    for i in range(n_images):
        n_gt = 0 if i == 1 else int(rng.integers(1, 12))
        xy = rng.uniform(0, 250, (n_gt, 2))
        wh = np.exp(rng.uniform(np.log(4), np.log(150), (n_gt, 2)))
        gt = np.concatenate([xy, xy + wh], axis=1)
        gt_labels = rng.integers(0, n_classes, n_gt)
        # near copies of the ground truths (several per object), and clutter
        copies = rng.integers(0, max(n_gt, 1), int(rng.integers(0, 40))) if n_gt else []
        near = gt[copies] + rng.normal(0, 1, (len(copies), 4)) * np.tile(wh[copies], 2) * 0.15
        clutter = rng.uniform(0, 250, (int(rng.integers(0, 8)), 2))
        clutter = np.concatenate([clutter, clutter + rng.uniform(2, 120, clutter.shape)], 1)
        boxes = np.concatenate([near, clutter])
        boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]),
                                np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
        labels = np.concatenate([np.where(rng.random(len(copies)) < 0.85, gt_labels[copies],
                                          rng.integers(0, n_classes, len(copies))),
                                 rng.integers(0, n_classes, len(clutter))]).astype(np.int64)
        scores = np.round(rng.random(len(boxes)), 1)  # many equal scores
        if i == 2:
            boxes, labels, scores = np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0)
        if integer:
            gt, boxes = np.round(gt), np.round(boxes)  # IoUs that land exactly on thresholds
        targets.append({"boxes": gt, "labels": gt_labels})
        detections.append({"boxes": boxes, "scores": scores, "labels": labels})
    return detections, targets


@pytest.mark.parametrize("seed", range(6))
def test_equals_pycocotools_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    detections, targets = random_scene(rng, integer=seed % 2 == 1)
    ours = mean_average_precision(detections, targets)
    theirs = coco_stats(detections, targets)
    for key in KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key


def test_more_than_100_detections_in_an_image():
    rng = np.random.default_rng(10)
    gt = np.array([[10.0, 10, 60, 60], [100, 100, 140, 150]])
    boxes = np.tile(gt, (70, 1)) + rng.normal(0, 4, (140, 4))
    detections = [{"boxes": boxes, "scores": rng.random(140), "labels": np.zeros(140, int)}]
    targets = [{"boxes": gt, "labels": np.zeros(2, int)}]
    ours = mean_average_precision(detections, targets)
    theirs = coco_stats(detections, targets)
    for key in KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key


def test_crafted_ties_and_area_ranges_equal_pycocotools():
    # Image 1: a medium detection with IoU exactly 0.5 to a medium and to a small ground
    # truth; which one it takes depends on the area range (regular beats ignored) and,
    # when both count, on COCO's rule that the last of equal IoUs wins. Image 2: two
    # identical ground truths and three identical detections with equal scores.
    # Image 3: a ground truth on the small/medium border (area exactly 32^2).
    targets = [{"boxes": np.array([[0.0, 0, 40, 80], [0, 0, 40, 20]]), "labels": np.array([0, 0])},
               {"boxes": np.array([[5.0, 5, 50, 50]] * 2), "labels": np.array([1, 1])},
               {"boxes": np.array([[0.0, 0, 32, 32]]), "labels": np.array([0])}]
    detections = [{"boxes": np.array([[0.0, 0, 40, 40], [0, 0, 40, 70]]),
                   "scores": np.array([0.9, 0.9]), "labels": np.array([0, 0])},
                  {"boxes": np.array([[5.0, 5, 50, 50]] * 3), "scores": np.full(3, 0.5),
                   "labels": np.array([1, 1, 1])},
                  {"boxes": np.array([[0.0, 0, 32, 16], [0, 0, 33, 33]]),
                   "scores": np.array([0.8, 0.7]), "labels": np.array([0, 0])}]
    ours = mean_average_precision(detections, targets)
    theirs = coco_stats(detections, targets)
    for key in KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key


def test_hand_example():
    # Two objects; detections ranked: hit, miss, hit. Precision at the ranks:
    # 1, 1/2, 2/3, made non-increasing: 1, 2/3, 2/3. Recall reaches 0.5 at
    # rank 1 and 1 at rank 3, so 51 recall points read 1 and 50 read 2/3.
    targets = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), "labels": np.array([3, 3])}]
    detections = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]]),
                   "scores": np.array([0.9, 0.8, 0.7]), "labels": np.array([3, 3, 3])}]
    result = mean_average_precision(detections, targets)
    assert result["map"] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)
    assert result["mar_1"] == 0.5 and result["mar_100"] == 1.0
    assert result["map_medium"] == -1 and result["map_large"] == -1
    np.testing.assert_array_equal(result["classes"], [3])


def test_half_overlap_counts_at_050_only():
    targets = [{"boxes": np.array([[0, 0, 10, 10]]), "labels": np.array([0])}]
    detections = [{"boxes": np.array([[0, 0, 10, 5]]), "scores": np.array([1.0]),
                   "labels": np.array([0])}]
    result = mean_average_precision(detections, targets)
    assert result["map_50"] == pytest.approx(1.0, abs=1e-12) and result["map_75"] == 0
    assert result["map"] == pytest.approx(0.1, abs=1e-12)


def test_classes_only_in_detections_do_not_count_and_no_targets_give_minus_one():
    targets = [{"boxes": np.array([[0, 0, 10, 10]]), "labels": np.array([0])}]
    detections = [{"boxes": np.array([[0, 0, 10, 10], [0, 0, 10, 10]]),
                   "scores": np.array([0.5, 0.9]), "labels": np.array([0, 1])}]
    result = mean_average_precision(detections, targets)
    assert result["map"] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(result["map_per_class"], [1.0, -1.0], atol=1e-12)
    empty = mean_average_precision([{"boxes": [], "scores": [], "labels": []}],
                                   [{"boxes": [], "labels": []}])
    assert all(empty[key] == -1 for key in KEYS)
    missed = mean_average_precision([{"boxes": [], "scores": [], "labels": []}], targets)
    assert missed["map"] == 0 and missed["mar_100"] == 0


def test_custom_thresholds():
    detections, targets = random_scene(np.random.default_rng(3))
    only = mean_average_precision(detections, targets, iou_thresholds=[0.5])
    full = mean_average_precision(detections, targets)
    assert only["map"] == pytest.approx(full["map_50"], abs=1e-12)
    assert only["map_75"] == -1


@pytest.mark.parametrize("detections, targets, match", [
    ([{"boxes": [[0, 0, 1, 1]], "scores": [1.0]}], [{"boxes": [], "labels": []}], "keys"),
    ([], [{"boxes": [], "labels": []}], "0 images"),
    ([{"boxes": [[0, 0, 1, 1]], "scores": [1.0, 2.0], "labels": [0]}],
     [{"boxes": [], "labels": []}], "scores"),
    ([{"boxes": [[2, 0, 1, 1]], "scores": [1.0], "labels": [0]}],
     [{"boxes": [], "labels": []}], "x1 <= x2"),
    ([{"boxes": [[0, 0, 1, 1]], "scores": [np.nan], "labels": [0]}],
     [{"boxes": [], "labels": []}], "NaN"),
    ([{"boxes": [[0, 0, 1, 1]], "scores": [1.0], "labels": [0.5]}],
     [{"boxes": [], "labels": []}], "integer"),
    ({"boxes": [[0, 0, 1, 1]]}, [], "list"),
])
def test_bad_input(detections, targets, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        mean_average_precision(detections, targets)
    assert "mean_average_precision" in str(info.value)


def test_bad_thresholds():
    with pytest.raises(ValueError, match="mean_average_precision: iou_thresholds"):
        mean_average_precision([], [], iou_thresholds=[0.5, 1.5])
