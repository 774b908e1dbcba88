"""Bounding boxes: IoU, non-maximum suppression, formats, regression targets, COCO mAP.

Boxes are rows ``(x1, y1, x2, y2)`` in pixels, with ``x1 <= x2`` and
``y1 <= y2`` ("xyxy"), as in torchvision; a box's width is ``x2 - x1`` (no
``+ 1``). :func:`mean_average_precision` lives in
:mod:`cnnlib.tools.average_precision` and is re-exported here.
"""

import math

import numpy as np

from cnnlib.checks import check_boxes, check_finite, check_number, check_real
from cnnlib.tools.average_precision import mean_average_precision

__all__ = ["batched_nms", "box_area", "box_convert", "box_iou", "clip_boxes_to_image",
           "decode_boxes", "decode_distances", "encode_boxes", "encode_distances",
           "mean_average_precision", "nms"]

_FORMATS = ("xyxy", "xywh", "cxcywh")


def box_area(boxes):
    """Areas ``(x2 - x1) (y2 - y1)`` of (K, 4) xyxy boxes -> (K,), as torchvision's box_area."""
    boxes = check_boxes("box_area", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _iou(a, b):
    """IoU of checked xyxy boxes (N, 4) and (M, 4), torchvision's arithmetic."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a[:, None] + area_b[None, :] - inter)


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair of boxes, as ``torchvision.ops.box_iou``.

    Parameters
    ----------
    boxes1 : array_like, shape (N, 4)
    boxes2 : array_like, shape (M, 4)
        xyxy boxes, finite, with ``x1 <= x2`` and ``y1 <= y2``.

    Returns
    -------
    iou : ndarray, shape (N, M)
        In [0, 1]; float64 for integer boxes, else the boxes' float dtype.
        Two boxes that both have zero area give 0 / 0 = NaN, as in
        torchvision.

    Examples
    --------
    >>> from cnnlib.tools.boxes import box_iou
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    array([[0.33333333, 0.        ]])
    """
    a = check_boxes("box_iou", boxes1, "boxes1")
    b = check_boxes("box_iou", boxes2, "boxes2")
    return _iou(a, b).astype(np.result_type(a, b), copy=False)


def _check_scored(name, boxes, scores, iou_threshold):
    boxes = check_boxes(name, boxes)
    scores = check_real(name, scores, "scores")
    if scores.shape != (len(boxes),):
        raise ValueError(f"{name}: scores must have shape ({len(boxes)},), one per box, got "
                         f"shape {scores.shape}")
    check_finite(name, scores, "scores")
    iou_threshold = check_number(f"{name}: iou_threshold", iou_threshold, low=0, high=1)
    return boxes, scores, iou_threshold


def _greedy_nms(boxes, scores, iou_threshold):
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    iou = _iou(boxes[order], boxes[order])
    removed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if not removed[i]:
            keep.append(i)
            removed |= iou[i] > iou_threshold
    return order[np.array(keep, dtype=np.int64)]


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression, as ``torchvision.ops.nms``.

    Boxes are visited from the highest score down; each box still present is
    kept and removes every remaining box whose IoU with it is greater than
    ``iou_threshold``. Equal scores are visited in index order (a stable
    sort), so of two identical boxes with one score the first is kept.

    Parameters
    ----------
    boxes : array_like, shape (K, 4)
        xyxy boxes.
    scores : array_like, shape (K,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    keep : ndarray of int64, shape (K',)
        Indices of the kept boxes, highest score first.

    Examples
    --------
    >>> from cnnlib.tools.boxes import nms
    >>> nms([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7], 0.5)
    array([0, 2])
    """
    return _greedy_nms(*_check_scored("nms", boxes, scores, iou_threshold))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """:func:`nms` within each category, as ``torchvision.ops.batched_nms``.

    Boxes with different ``idxs`` (class labels, usually) never suppress
    each other.

    Parameters
    ----------
    boxes : array_like, shape (K, 4)
    scores : array_like, shape (K,)
    idxs : array_like of ints, shape (K,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    keep : ndarray of int64, shape (K',)
        Indices of the kept boxes, highest score first (equal scores in
        index order).
    """
    boxes, scores, iou_threshold = _check_scored("batched_nms", boxes, scores, iou_threshold)
    idxs = check_real("batched_nms", idxs, "idxs")
    if idxs.shape != scores.shape or (idxs.size and idxs.dtype.kind not in "iu"):
        raise ValueError(f"batched_nms: idxs must be {len(scores)} integers, one per box, got "
                         f"shape {idxs.shape} and dtype {idxs.dtype}")
    keep = [members[_greedy_nms(boxes[members], scores[members], iou_threshold)]
            for members in (np.flatnonzero(idxs == c) for c in np.unique(idxs))]
    keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    keep.sort()
    return keep[np.argsort(-scores[keep].astype(np.float64), kind="stable")].astype(np.int64)


def _check_format(name, fmt):
    if fmt not in _FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, _FORMATS))}, got {fmt!r}")
    return fmt


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between "xyxy", "xywh" (corner and size) and "cxcywh" (centre and size).

    As ``torchvision.ops.box_convert``. Widths and heights must not be
    negative.

    Parameters
    ----------
    boxes : array_like, shape (K, 4)
    in_fmt, out_fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    boxes : ndarray, shape (K, 4), float

    Examples
    --------
    >>> from cnnlib.tools.boxes import box_convert
    >>> box_convert([[0, 0, 4, 2]], "xyxy", "cxcywh")
    array([[2., 1., 4., 2.]])
    """
    _check_format("box_convert: in_fmt", in_fmt)
    _check_format("box_convert: out_fmt", out_fmt)
    b = check_real("box_convert", boxes, "boxes")
    if b.dtype.kind != "f":
        b = b.astype(np.float64)
    if b.size == 0 and b.ndim <= 2:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"box_convert: boxes must have shape (K, 4), got shape {b.shape}")
    check_finite("box_convert", b, "boxes")
    if in_fmt != "xyxy" and np.any(b[:, 2:] < 0):
        raise ValueError(f"box_convert: {in_fmt} boxes have a negative width or height")
    if in_fmt == "xywh":
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    elif in_fmt == "cxcywh":
        b = np.concatenate([b[:, :2] - 0.5 * b[:, 2:], b[:, :2] + 0.5 * b[:, 2:]], axis=1)
    b = check_boxes("box_convert", b)
    if out_fmt == "xywh":
        return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    if out_fmt == "cxcywh":
        return np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    return b.copy()


def clip_boxes_to_image(boxes, size):
    """Clip xyxy boxes to an image of ``size = (height, width)``, as torchvision does.

    x is clipped to [0, width] and y to [0, height]; a box wholly outside
    becomes a zero-area box on the border.
    """
    boxes = check_boxes("clip_boxes_to_image", boxes)
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"clip_boxes_to_image: size must be (height, width), got "
                         f"{size!r}") from None
    height = check_number("clip_boxes_to_image: height", height, low=0)
    width = check_number("clip_boxes_to_image: width", width, low=0)
    limit = np.array([width, height, width, height], dtype=boxes.dtype)
    return np.clip(boxes, 0, limit)


def _positive_size(name, boxes, what):
    boxes = check_boxes(name, boxes, what)
    if np.any(boxes[:, 2:] <= boxes[:, :2]):
        raise ValueError(f"{name}: {what} need a positive width and height, because the "
                         f"encoding divides by them and takes their logarithm")
    return boxes


def _centres(boxes):
    size = boxes[:, 2:] - boxes[:, :2]
    return boxes[:, :2] + 0.5 * size, size


def _check_weights(name, weights):
    w = check_real(name, weights, "weights").astype(np.float64)
    if w.shape != (4,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"{name}: weights must be 4 positive numbers (wx, wy, ww, wh), got "
                         f"{weights!r}")
    return w


def encode_boxes(boxes, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    """Regression targets of boxes relative to anchors, Faster R-CNN's parameterisation.

    With centres ``(x, y)`` and sizes ``(w, h)`` of a box and ``(xa, ya)``,
    ``(wa, ha)`` of its anchor::

        dx = wx (x - xa) / wa     dy = wy (y - ya) / ha
        dw = ww log(w / wa)       dh = wh log(h / ha)

    as torchvision's ``BoxCoder.encode`` (which Faster R-CNN uses with
    weights (10, 10, 5, 5)). :func:`decode_boxes` inverts it.

    Parameters
    ----------
    boxes, anchors : array_like, shape (K, 4)
        xyxy boxes, paired row by row, with positive widths and heights.
    weights : 4 positive floats (wx, wy, ww, wh)

    Returns
    -------
    deltas : ndarray, shape (K, 4), (dx, dy, dw, dh)
    """
    boxes = _positive_size("encode_boxes", boxes, "boxes")
    anchors = _positive_size("encode_boxes", anchors, "anchors")
    if boxes.shape != anchors.shape:
        raise ValueError(f"encode_boxes: boxes {boxes.shape} and anchors {anchors.shape} must "
                         f"pair up row by row")
    w = _check_weights("encode_boxes", weights)
    (c, s), (ca, sa) = _centres(boxes), _centres(anchors)
    return np.concatenate([w[:2] * (c - ca) / sa, w[2:] * np.log(s / sa)], axis=1)


def decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0), clip=math.log(1000.0 / 16)):
    """xyxy boxes from :func:`encode_boxes`'s deltas, as torchvision's ``BoxCoder.decode``.

    Parameters
    ----------
    deltas : array_like, shape (K, 4)
        (dx, dy, dw, dh), as a network predicts them.
    anchors : array_like, shape (K, 4)
        xyxy, positive widths and heights.
    weights : 4 positive floats, as given to :func:`encode_boxes`
    clip : float
        ``dw / ww`` and ``dh / wh`` are clipped to at most this before the
        exponential, so that a wild prediction cannot overflow;
        torchvision's default ``log(1000 / 16)``.

    Returns
    -------
    boxes : ndarray, shape (K, 4), xyxy
    """
    anchors = _positive_size("decode_boxes", anchors, "anchors")
    deltas = check_real("decode_boxes", deltas, "deltas")
    if deltas.shape != anchors.shape:
        raise ValueError(f"decode_boxes: deltas must have the anchors' shape {anchors.shape}, "
                         f"got {deltas.shape}")
    check_finite("decode_boxes", deltas, "deltas")
    w = _check_weights("decode_boxes", weights)
    clip = check_number("decode_boxes: clip", clip)
    ca, sa = _centres(anchors)
    centre = deltas[:, :2] / w[:2] * sa + ca
    size = np.exp(np.minimum(deltas[:, 2:] / w[2:], clip)) * sa
    return np.concatenate([centre - 0.5 * size, centre + 0.5 * size], axis=1)


def _check_points(name, points, k):
    points = check_real(name, points, "points")
    if points.shape != (k, 2):
        raise ValueError(f"{name}: points must have shape ({k}, 2), one (x, y) per row, got "
                         f"shape {points.shape}")
    check_finite(name, points, "points")
    return points


def encode_distances(boxes, points):
    """FCOS's regression targets: distances (left, top, right, bottom) from points to box sides.

    ``(x - x1, y - y1, x2 - x, y2 - y)``; all four are positive exactly
    when the point lies inside its box. :func:`decode_distances` inverts it.

    Parameters
    ----------
    boxes : array_like, shape (K, 4), xyxy
    points : array_like, shape (K, 2), (x, y), paired with the boxes

    Returns
    -------
    distances : ndarray, shape (K, 4)
    """
    boxes = check_boxes("encode_distances", boxes)
    points = _check_points("encode_distances", points, len(boxes))
    return np.concatenate([points - boxes[:, :2], boxes[:, 2:] - points], axis=1)


def decode_distances(distances, points):
    """xyxy boxes ``(x - l, y - t, x + r, y + b)`` from FCOS distances; (K, 4), (K, 2) -> (K, 4)."""
    distances = check_real("decode_distances", distances, "distances")
    if distances.ndim != 2 or distances.shape[1] != 4:
        raise ValueError(f"decode_distances: distances must have shape (K, 4), got shape "
                         f"{distances.shape}")
    check_finite("decode_distances", distances, "distances")
    points = _check_points("decode_distances", points, len(distances))
    return np.concatenate([points - distances[:, :2], points + distances[:, 2:]], axis=1)
