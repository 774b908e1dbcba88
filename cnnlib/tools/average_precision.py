"""COCO mean average precision of detected boxes, equal to pycocotools' COCOeval ("bbox").

The rules, as COCOeval applies them:

* Detections and ground truths meet only within one image and one class.
  In each (image, class), detections are taken from the highest score down
  (equal scores in input order) and only the first 100 are kept.
* Matching at an IoU threshold t: each detection in turn takes the
  still-unmatched ground truth with the highest IoU, provided that IoU is at
  least t (the last of equal IoUs wins). Ground truths outside the area
  range being scored are "ignored": a detection takes one only when no
  regular ground truth is left for it, and a detection matched to one, or
  unmatched and itself outside the area range, counts neither as a true nor
  as a false positive.
* Per class, the detections of all images are ranked by score (equal
  scores: image order, then rank in the image); precision is made
  non-increasing from the end and read at the 101 recall points
  0, 0.01, ..., 1 (the first rank reaching each, 0 past the last).
  maxDets 1 and 10 keep the first 1 or 10 detections of each (image, class)
  from the matching done with 100.
* A class with no regular ground truth in an area range is undefined (-1)
  there; a summary averages the defined values, and is -1 when none are.
* Areas are box width times height; the ranges small [0, 32^2], medium
  [32^2, 96^2], large [96^2, 1e10] include both ends.

The IoU here is computed as pycocotools computes it, from (x, y, w, h), so
that IoUs that land exactly on a threshold agree with it.
"""

import numpy as np

from cnnlib.checks import check_boxes, check_finite, check_real

_AREA_RANGES = np.array([[0.0, 1e5 ** 2], [0.0, 32.0 ** 2], [32.0 ** 2, 96.0 ** 2],
                         [96.0 ** 2, 1e5 ** 2]])
_AREA_NAMES = ("all", "small", "medium", "large")
_MAX_DETS = (1, 10, 100)
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
_COCO_IOUS = np.linspace(0.5, 0.95, 10)


def _labels(name, labels, k, what):
    labels = check_real(name, labels, what)
    if labels.shape != (k,):
        raise ValueError(f"{name}: {what} must have shape ({k},), one per box, got shape "
                         f"{labels.shape}")
    if k and labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: {what} must be integer class labels, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def _image(name, item, keys, i, what):
    if not isinstance(item, dict) or not all(key in item for key in keys):
        raise TypeError(f"{name}: {what}[{i}] must be a dict with keys {', '.join(keys)}, got "
                        f"{type(item).__name__}"
                        + (f" with keys {sorted(item)}" if isinstance(item, dict) else ""))
    boxes = check_boxes(name, item["boxes"], f"{what}[{i}]['boxes']").astype(np.float64)
    labels = _labels(name, item["labels"], len(boxes), f"{what}[{i}]['labels']")
    if "scores" not in keys:
        return boxes, labels
    scores = check_real(name, item["scores"], f"{what}[{i}]['scores']")
    if scores.shape != (len(boxes),):
        raise ValueError(f"{name}: {what}[{i}]['scores'] must have shape ({len(boxes)},), one "
                         f"per box, got shape {scores.shape}")
    check_finite(name, scores, f"{what}[{i}]['scores']")
    return boxes, labels, scores.astype(np.float64)


def _check_inputs(detections, targets, iou_thresholds):
    name = "mean_average_precision"
    for what, value in (("detections", detections), ("targets", targets)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name}: {what} must be a list with one dict per image, got "
                            f"{type(value).__name__}")
    if len(detections) != len(targets):
        raise ValueError(f"{name}: detections has {len(detections)} images but targets has "
                         f"{len(targets)}; give one entry per image in both")
    dets = [_image(name, d, ("boxes", "scores", "labels"), i, "detections")
            for i, d in enumerate(detections)]
    gts = [_image(name, g, ("boxes", "labels"), i, "targets") for i, g in enumerate(targets)]
    if iou_thresholds is None:
        return dets, gts, _COCO_IOUS
    thresholds = check_real(name, iou_thresholds, "iou_thresholds").astype(np.float64)
    if thresholds.ndim != 1 or not thresholds.size or not np.all(
            (thresholds >= 0) & (thresholds <= 1)):
        raise ValueError(f"{name}: iou_thresholds must be a non-empty list of numbers in "
                         f"[0, 1], got {iou_thresholds!r}")
    return dets, gts, thresholds


def _xywh(boxes):
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def _coco_iou(d, g):
    """IoU of xywh boxes (..., D, 4) and (..., G, 4) in pycocotools' order of operations."""
    d, g = d[..., :, None, :], g[..., None, :, :]
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0],
                                                                            g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1],
                                                                            g[..., 1])
    inter = w * h
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((w > 0) & (h > 0), inter / union, 0.0)


def _groups(dets, gts, classes):
    """Pad every (image, class) that has a detection or a ground truth into arrays."""
    groups = []
    for i, ((db, dl, ds), (gb, gl)) in enumerate(zip(dets, gts)):
        for c in np.unique(np.concatenate([dl, gl])):
            d = np.flatnonzero(dl == c)
            d = d[np.argsort(-ds[d], kind="stable")][:_MAX_DETS[-1]]
            groups.append((i, np.searchsorted(classes, c), _xywh(db[d]), ds[d],
                           _xywh(gb[gl == c])))
    n_d = max([len(g[3]) for g in groups] + [0])
    n_g = max([len(g[4]) for g in groups] + [0])
    det = np.zeros((len(groups), n_d, 4))
    gt = np.zeros((len(groups), n_g, 4))
    score = np.zeros((len(groups), n_d))
    det_count = np.array([len(g[3]) for g in groups], dtype=np.int64)
    gt_count = np.array([len(g[4]) for g in groups], dtype=np.int64)
    for b, (_, _, db, ds, gb) in enumerate(groups):
        det[b, :len(db)], score[b, :len(ds)], gt[b, :len(gb)] = db, ds, gb
    image = np.array([g[0] for g in groups], dtype=np.int64)
    cls = np.array([g[1] for g in groups], dtype=np.int64)
    return image, cls, det, score, det_count, gt, gt_count


def _outside(area):
    """(..., A): whether each area lies outside each of COCO's area ranges."""
    return (area[..., None] < _AREA_RANGES[:, 0]) | (area[..., None] > _AREA_RANGES[:, 1])


def _match(ious, det_count, gt_ignore, gt_count, thresholds):
    """COCO's greedy matching, every group, area range and threshold at once.

    ious (B, D, G); gt_ignore (B, A, G). Returns the matched ground truth of
    each detection, (B, A, T, D), -1 where unmatched.
    """
    b, n_d, n_g = ious.shape
    n_a, n_t = gt_ignore.shape[1], len(thresholds)
    limit = np.minimum(thresholds, 1 - 1e-10)[None, None, :, None]
    taken = np.broadcast_to((np.arange(n_g) >= gt_count[:, None])[:, None, None, :],
                            (b, n_a, n_t, n_g)).copy()
    match = np.full((b, n_a, n_t, n_d), -1, dtype=np.int64)
    ignore = gt_ignore[:, :, None, :]
    for d in range(n_d):
        rows = np.flatnonzero(det_count > d)
        iou = ious[rows, d][:, None, None, :]
        ok = ~taken[rows] & (iou >= limit)
        regular = ok & ~ignore[rows]
        # a regular ground truth wins over an ignored one, whatever the IoUs
        pool = np.where(regular.any(-1, keepdims=True), regular, ok)
        best = n_g - 1 - np.argmax(np.where(pool, iou, -1.0)[..., ::-1], axis=-1)
        found = pool.any(-1)
        match[rows, :, :, d] = np.where(found, best, -1)
        taken[rows] |= found[..., None] & (np.arange(n_g) == best[..., None])
    return match


def _precision_recall(matched, ignored, n_gt):
    """COCO's 101-point precision (T, R) and final recall (T,) of ranked detections (n, T)."""
    tp = np.cumsum(matched & ~ignored, axis=0, dtype=np.float64)
    fp = np.cumsum(~matched & ~ignored, axis=0, dtype=np.float64)
    n, n_t = tp.shape
    if n == 0:
        return np.zeros((n_t, len(_RECALL_POINTS))), np.zeros(n_t)
    recall = tp / n_gt
    precision = tp / (fp + tp + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
    out = np.zeros((n_t, len(_RECALL_POINTS)))
    for t in range(n_t):
        at = np.searchsorted(recall[:, t], _RECALL_POINTS, side="left")
        inside = at < n
        out[t, inside] = precision[at[inside], t]
    return out, recall[-1]


def _mean_defined(values):
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def mean_average_precision(detections, targets, iou_thresholds=None):
    """COCO mean average precision and recall of boxes, equal to pycocotools' COCOeval.

    Takes the inputs of torchmetrics' ``MeanAveragePrecision`` (box format
    "xyxy") and returns its numbers, which are COCOeval's with iouType
    "bbox", maxDets (1, 10, 100) and areas from box width times height. The
    rules are in this module's docstring. Crowd annotations are not
    supported: every ground truth is a regular one.

    Parameters
    ----------
    detections : list of dict, one per image
        ``"boxes"`` (K, 4) xyxy, ``"scores"`` (K,), ``"labels"`` (K,) ints.
    targets : list of dict, one per image, in the same order
        ``"boxes"`` (G, 4) xyxy, ``"labels"`` (G,) ints.
    iou_thresholds : sequence of float in [0, 1], optional
        Default COCO's 0.50, 0.55, ..., 0.95.

    Returns
    -------
    dict
        ``"map"`` (AP averaged over the thresholds and the classes),
        ``"map_50"``, ``"map_75"`` (-1 when 0.5 or 0.75 is not among the
        thresholds), ``"map_small"``, ``"map_medium"``, ``"map_large"``,
        ``"mar_1"``, ``"mar_10"``, ``"mar_100"``, ``"mar_small"``,
        ``"mar_medium"``, ``"mar_large"`` as floats; ``"classes"`` (the
        labels seen in detections or targets, sorted), ``"map_per_class"``
        and ``"mar_100_per_class"`` as arrays. Classes without a ground
        truth do not count; a value with nothing to average is -1.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.tools.boxes import mean_average_precision
    >>> targets = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]]),
    ...             "labels": np.array([0, 0])}]
    >>> detections = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60]]),
    ...                "scores": np.array([0.9, 0.8]), "labels": np.array([0, 0])}]
    >>> mean_average_precision(detections, targets)["map_50"]
    0.5049504950495048
    """
    dets, gts, thresholds = _check_inputs(detections, targets, iou_thresholds)
    classes = np.unique(np.concatenate([np.zeros(0, np.int64)]
                                       + [d[1] for d in dets] + [g[1] for g in gts]))
    image, cls, det, score, det_count, gt, gt_count = _groups(dets, gts, classes)
    n_k, n_a, n_t, n_r, n_m = (len(classes), len(_AREA_RANGES), len(thresholds),
                               len(_RECALL_POINTS), len(_MAX_DETS))
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))

    gt_real = np.arange(gt.shape[1]) < gt_count[:, None]
    gt_ignore = np.moveaxis(_outside(gt[..., 2] * gt[..., 3]), -1, 1)  # (B, A, G)
    match = _match(_coco_iou(det, gt), det_count, gt_ignore, gt_count, thresholds)
    matched = match >= 0
    best = np.take_along_axis(gt_ignore[:, :, None, :], np.maximum(match, 0), axis=-1)
    det_outside = np.moveaxis(_outside(det[..., 2] * det[..., 3]), -1, 1)[:, :, None, :]
    ignored = np.where(matched, best, det_outside)

    # One row per real detection, ranked per class as COCO concatenates and sorts them.
    b_idx, d_idx = np.nonzero(np.arange(det.shape[1]) < det_count[:, None])
    order = np.lexsort((d_idx, image[b_idx], -score[b_idx, d_idx], cls[b_idx]))
    b_idx, d_idx = b_idx[order], d_idx[order]
    row_cls, row_rank = cls[b_idx], d_idx
    row_matched = np.moveaxis(matched[b_idx, :, :, d_idx], 0, -1)   # (A, T, n)
    row_ignored = np.moveaxis(ignored[b_idx, :, :, d_idx], 0, -1)
    regular = gt_real[:, None, :] & ~gt_ignore                        # (B, A, G)
    n_regular = np.zeros((n_k, n_a), dtype=np.int64)
    np.add.at(n_regular, cls, regular.sum(-1))

    for k in range(n_k):
        for m, max_det in enumerate(_MAX_DETS):
            rows = np.flatnonzero((row_cls == k) & (row_rank < max_det))
            for a in range(n_a):
                if n_regular[k, a] == 0:
                    continue
                p, r = _precision_recall(row_matched[a][:, rows].T, row_ignored[a][:, rows].T,
                                         n_regular[k, a])
                precision[:, :, k, a, m], recall[:, k, a, m] = p, r

    def at(iou):
        return np.flatnonzero(thresholds == iou)

    full = n_m - 1
    result = {"map": _mean_defined(precision[:, :, :, 0, full]),
              "map_50": _mean_defined(precision[at(0.5), :, :, 0, full]),
              "map_75": _mean_defined(precision[at(0.75), :, :, 0, full])}
    for a, area in enumerate(_AREA_NAMES[1:], start=1):
        result[f"map_{area}"] = _mean_defined(precision[:, :, :, a, full])
    for m, max_det in enumerate(_MAX_DETS):
        result[f"mar_{max_det}"] = _mean_defined(recall[:, :, 0, m])
    for a, area in enumerate(_AREA_NAMES[1:], start=1):
        result[f"mar_{area}"] = _mean_defined(recall[:, :, a, full])
    result["classes"] = classes
    result["map_per_class"] = np.array([_mean_defined(precision[:, :, k, 0, full])
                                        for k in range(n_k)])
    result["mar_100_per_class"] = np.array([_mean_defined(recall[:, k, 0, full])
                                            for k in range(n_k)])
    return result


def match_detections(boxes, scores, labels, gt_boxes, gt_labels, iou_threshold=0.5):
    """Which detections of one image are true positives, by COCO's greedy matching.

    Detections are taken from the highest score down (equal scores in input
    order); each takes the still-unmatched ground truth of its class with the
    highest IoU (the last of equal IoUs, as COCOeval), provided that IoU is
    at least ``iou_threshold``. A detection that takes none is a false
    positive. This is the matching :func:`mean_average_precision` does
    within one image and class.

    Parameters
    ----------
    boxes : array_like, shape (K, 4), xyxy
    scores : array_like, shape (K,)
    labels : array_like of ints, shape (K,)
    gt_boxes : array_like, shape (G, 4), xyxy
    gt_labels : array_like of ints, shape (G,)
    iou_threshold : float in [0, 1], default 0.5

    Returns
    -------
    matched : ndarray of int64, shape (K,)
        The index of the ground truth each detection took, -1 for none.

    Examples
    --------
    >>> from cnnlib.tools.average_precision import match_detections
    >>> match_detections([[0, 0, 10, 10], [1, 0, 11, 10]], [0.6, 0.9], [0, 0],
    ...                  [[0, 0, 10, 10]], [0])
    array([-1,  0])
    """
    name = "match_detections"
    boxes = check_boxes(name, boxes).astype(np.float64)
    gt_boxes = check_boxes(name, gt_boxes, "gt_boxes").astype(np.float64)
    scores = check_real(name, scores, "scores").astype(np.float64)
    if scores.shape != (len(boxes),):
        raise ValueError(f"{name}: scores must have shape ({len(boxes)},), got {scores.shape}")
    labels = _labels(name, labels, len(boxes), "labels")
    gt_labels = _labels(name, gt_labels, len(gt_boxes), "gt_labels")
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"{name}: iou_threshold must lie in [0, 1], got {iou_threshold}")
    ious = _coco_iou(_xywh(boxes)[None], _xywh(gt_boxes)[None])[0]
    matched = -np.ones(len(boxes), np.int64)
    taken = np.zeros(len(gt_boxes), bool)
    for d in np.argsort(-scores, kind="stable"):
        ok = (gt_labels == labels[d]) & ~taken & (ious[d] >= iou_threshold)
        if ok.any():
            g = np.flatnonzero(ok & (ious[d] == ious[d, ok].max()))[-1]
            matched[d], taken[g] = g, True
    return matched
