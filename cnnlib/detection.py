"""One-stage anchor-free detection, FCOS-style: the network, its targets, loss and decoding.

The network maps an image (N, 1, H, W) to a map (N, C + 4, H / 4, W / 4).
Each cell of the map stands for the point at its centre, ``((j + 0.5) s,
(i + 0.5) s)`` with stride ``s = 4``. Its first C channels are class
logits, one sigmoid per class (focal loss), and its last 4 are the log
distances from the point to the box's left, top, right and bottom sides, in
units of the stride (smooth L1 loss). A cell is a positive for an object
when its point lies inside the box and within ``radius`` strides of the
box's centre along both axes (FCOS's centre sampling); a cell claimed by
two objects goes to the smaller box. Decoding keeps the confident cells,
turns their distances back into boxes and removes duplicates with
class-wise non-maximum suppression.
"""

import time

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number, check_real
from cnnlib.losses import (_Loss, sigmoid_focal_loss, sigmoid_focal_loss_backward,
                           smooth_l1_loss, smooth_l1_loss_backward)
from cnnlib.nn import (BatchNorm2d, Branches, Conv2d, Identity, ReLU, Sequential, Upsample)
from cnnlib.tools.boxes import batched_nms, clip_boxes_to_image, decode_distances

STRIDE = 4
_MAX_LOG_DISTANCE = 8.0  # exp(8) strides: far beyond any image, so exp cannot overflow


def _conv_bn_relu(c_in, c_out, stride, rng, dtype):
    return [Conv2d(c_in, c_out, 3, stride, 1, bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(c_out, dtype=dtype), ReLU()]


def small_detector(num_classes=10, *, rng, width=16, prior=0.01, dtype=np.float32):
    """A small stride-4 detector for the scenes of :func:`cnnlib.data.make_scenes`.

    Two stride-2 conv-BN-ReLU stages bring the image to a quarter of its
    size; a context branch goes down once more (stride 8) and comes back up
    with :class:`~cnnlib.Upsample`, and its maps are stacked beside the
    stride-4 ones (:class:`~cnnlib.Branches`, as in U-Net) before a last
    conv and a 1x1 head with ``num_classes + 4`` outputs per cell.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    width : int, default 16
        Channels of the first stage; later stages have 2 and 4 times as many.
    prior : float in (0, 1), default 0.01
        Initial probability of every class at every cell: the class biases
        start at ``-log((1 - prior) / prior)``, as in RetinaNet, so that the
        many background cells do not swamp the first steps.
    dtype : numpy float dtype, default float32

    Returns
    -------
    Sequential
        (N, 1, H, W) -> (N, num_classes + 4, H / 4, W / 4); H and W must be
        multiples of 8.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.detection import small_detector
    >>> net = small_detector(3, rng=np.random.default_rng(0), width=4)
    >>> net.forward(np.zeros((2, 1, 64, 64), np.float32)).shape
    (2, 7, 16, 16)
    """
    num_classes = check_int("small_detector: num_classes", num_classes)
    w = check_int("small_detector: width", width)
    prior = check_number("small_detector: prior", prior, low=0, high=1, low_open=True,
                         high_open=True)
    context = Sequential(*_conv_bn_relu(2 * w, 4 * w, 2, rng, dtype),
                         *_conv_bn_relu(4 * w, 4 * w, 1, rng, dtype), Upsample(2))
    head = Conv2d(2 * w, num_classes + 4, 1, rng=rng, dtype=dtype)
    head.params["bias"][:num_classes] = -np.log((1 - prior) / prior)
    return Sequential(*_conv_bn_relu(1, w, 2, rng, dtype), *_conv_bn_relu(w, 2 * w, 2, rng, dtype),
                      *_conv_bn_relu(2 * w, 2 * w, 1, rng, dtype), Branches(Identity(), context),
                      *_conv_bn_relu(6 * w, 2 * w, 1, rng, dtype), head)


def feature_points(height, width, stride=STRIDE):
    """Centres (x, y) of the cells of a ``height`` x ``width`` map, row by row: (h * w, 2)."""
    height = check_int("feature_points: height", height)
    width = check_int("feature_points: width", width)
    rows, cols = np.mgrid[:height, :width]
    return np.stack([(cols.ravel() + 0.5) * stride, (rows.ravel() + 0.5) * stride], axis=1)


def assign_targets(boxes, labels, num_classes, feature_size, *, stride=STRIDE, radius=1.5,
                   dtype=np.float32):
    """The training targets of every cell, by FCOS's centre sampling.

    Parameters
    ----------
    boxes : list of N arrays (K_i, 4)
        xyxy boxes in pixels of the input image.
    labels : list of N int arrays (K_i,)
        Classes in [0, num_classes).
    num_classes : int
    feature_size : (int, int)
        (h, w) of the network's output map.
    stride : int, default 4
    radius : float > 0, default 1.5
        A cell is a positive when its point lies inside the box and within
        ``radius * stride`` of the box's centre along each axis (1.5 gives
        up to 3 x 3 cells per object).
    dtype : numpy float dtype of the targets, default float32

    Returns
    -------
    classes : ndarray, shape (N, num_classes, h, w)
        1 at the positive cells of an object's class, else 0.
    distances : ndarray, shape (N, 4, h, w)
        ``log(d / stride)`` of the distances d to the left, top, right and
        bottom sides at positive cells; 0 elsewhere.
    positive : ndarray of bool, shape (N, h, w)
    """
    if len(boxes) != len(labels):
        raise ValueError(f"assign_targets: {len(boxes)} box arrays but {len(labels)} label "
                         f"arrays; give one of each per image")
    num_classes = check_int("assign_targets: num_classes", num_classes)
    h, w = (check_int("assign_targets: feature_size", n) for n in feature_size)
    radius = check_number("assign_targets: radius", radius, low=0, low_open=True)
    points = feature_points(h, w, stride)
    n = len(boxes)
    classes = np.zeros((n, num_classes, h * w), dtype)
    distances = np.zeros((n, 4, h * w), dtype)
    positive = np.zeros((n, h * w), bool)
    for i, (b, c) in enumerate(zip(boxes, labels)):
        b = check_real("assign_targets", b, "boxes").astype(np.float64).reshape(-1, 4)
        c = check_real("assign_targets", c, "labels").astype(np.int64).reshape(-1)
        if len(b) != len(c) or (c.size and (c.min() < 0 or c.max() >= num_classes)):
            raise ValueError(f"assign_targets: image {i} has {len(b)} boxes and labels "
                             f"{c.tolist()}; give one label in [0, {num_classes - 1}] per box")
        if not len(b):
            continue
        px, py = points[:, 0, None], points[:, 1, None]                     # (P, 1)
        ltrb = np.stack([px - b[:, 0], py - b[:, 1], b[:, 2] - px, b[:, 3] - py], axis=-1)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        near = (np.abs(px - cx) <= radius * stride) & (np.abs(py - cy) <= radius * stride)
        ok = near & np.all(ltrb > 0, axis=-1)                               # (P, K)
        area = np.where(ok, (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), np.inf)
        owner = np.argmin(area, axis=1)
        cells = np.flatnonzero(ok.any(axis=1))
        owner = owner[cells]
        positive[i, cells] = True
        classes[i, c[owner], cells] = 1
        distances[i, :, cells] = np.log(ltrb[cells, owner] / stride)
    shape = (n, h, w)
    return (classes.reshape(n, num_classes, h, w), distances.reshape(n, 4, h, w),
            positive.reshape(shape))


class DetectionLoss(_Loss):
    """Focal loss on the class logits plus smooth L1 on the positives' log distances.

    ``forward(pred, targets) -> float`` with ``pred`` (N, C + 4, h, w) and
    ``targets`` the triple of :func:`assign_targets`; both terms are sums
    divided by the number of positive cells (at least 1), as in FCOS and
    RetinaNet. ``backward() -> dpred``. After ``forward``, ``parts`` holds
    the two terms.

    Parameters
    ----------
    alpha, gamma : float, defaults 0.25 and 2 (see :func:`cnnlib.losses.sigmoid_focal_loss`)
    beta : float, default 0.1
        Smooth L1's quadratic zone, in log-distance units.
    box_weight : float, default 1
    """

    name = "DetectionLoss"

    def __init__(self, alpha=0.25, gamma=2.0, beta=0.1, box_weight=1.0):
        self.alpha = check_number(f"{self.name}: alpha", alpha, high=1)
        self.gamma = check_number(f"{self.name}: gamma", gamma, low=0)
        self.beta = check_number(f"{self.name}: beta", beta, low=0)
        self.box_weight = check_number(f"{self.name}: box_weight", box_weight, low=0)
        self.parts = {}

    def forward(self, pred, targets):
        pred = check_real(self.name, pred, "prediction")
        check_ndim(self.name, pred, 4, "(N, C + 4, h, w)", "prediction")
        try:
            classes, distances, positive = targets
        except (TypeError, ValueError):
            raise TypeError(f"{self.name}: targets must be the (classes, distances, positive) "
                            f"triple of assign_targets") from None
        n, k = pred.shape[0], pred.shape[1] - 4
        if (np.shape(classes) != (n, k, *pred.shape[2:])
                or np.shape(distances) != (n, 4, *pred.shape[2:])
                or np.shape(positive) != (n, *pred.shape[2:])):
            raise ValueError(f"{self.name}: prediction {pred.shape} does not fit targets of "
                             f"shapes {np.shape(classes)}, {np.shape(distances)} and "
                             f"{np.shape(positive)}")
        mask = np.asarray(positive, bool)[:, None]
        count = max(int(mask.sum()), 1)
        cls = sigmoid_focal_loss(pred[:, :k], classes, self.alpha, self.gamma, "sum") / count
        box = smooth_l1_loss(pred[:, k:] * mask, np.where(mask, distances, 0), "sum",
                             self.beta) / count
        self.parts = {"classes": float(cls), "boxes": float(box)}
        self._grad_parts = (pred.copy(), np.array(classes), np.array(distances), mask, count)
        return float(cls + self.box_weight * box)

    def _gradient(self):
        pred, classes, distances, mask, count = self._grad_parts
        k = pred.shape[1] - 4
        grad = np.empty_like(pred)
        grad[:, :k] = sigmoid_focal_loss_backward(1.0 / count, pred[:, :k], classes, self.alpha,
                                                  self.gamma, "sum")
        dy = np.broadcast_to(mask * (self.box_weight / count), distances.shape)
        grad[:, k:] = smooth_l1_loss_backward(dy, pred[:, k:] * mask,
                                              np.where(mask, distances, 0), "none", self.beta)
        return grad


def decode_detections(pred, *, stride=STRIDE, score_threshold=0.05, iou_threshold=0.5,
                      max_detections=100, candidates=1000):
    """Boxes, scores and labels from the network's output, one dict per image.

    Parameters
    ----------
    pred : ndarray, shape (N, C + 4, h, w)
    stride : int, default 4
    score_threshold : float in [0, 1], default 0.05
        Cells whose class probability (sigmoid) is at most this are dropped.
    iou_threshold : float in [0, 1], default 0.5
        Class-wise non-maximum suppression.
    max_detections : int, default 100
    candidates : int, default 1000
        At most this many (cell, class) pairs per image, the most confident,
        go into the suppression.

    Returns
    -------
    list of N dicts
        ``"boxes"`` (K, 4) xyxy clipped to the image (h * stride, w * stride),
        ``"scores"`` (K,) and ``"labels"`` (K,), highest score first: the
        inputs of :func:`~cnnlib.tools.boxes.mean_average_precision`.
    """
    pred = check_real("decode_detections", pred, "prediction").astype(np.float64)
    check_ndim("decode_detections", pred, 4, "(N, C + 4, h, w)", "prediction")
    score_threshold = check_number("decode_detections: score_threshold", score_threshold,
                                   low=0, high=1)
    max_detections = check_int("decode_detections: max_detections", max_detections)
    candidates = check_int("decode_detections: candidates", candidates)
    n, channels, h, w = pred.shape
    k = channels - 4
    if k < 1:
        raise ValueError(f"decode_detections: prediction has {channels} channels; it needs "
                         f"C + 4 with at least one class")
    points = feature_points(h, w, stride)
    scores = np.exp(-np.logaddexp(0, -pred[:, :k].reshape(n, k, h * w)))
    log_dist = np.minimum(pred[:, k:].reshape(n, 4, h * w), _MAX_LOG_DISTANCE)
    out = []
    for i in range(n):
        cls, cell = np.nonzero(scores[i] > score_threshold)
        score = scores[i, cls, cell]
        top = np.argsort(-score, kind="stable")[:candidates]
        cls, cell, score = cls[top], cell[top], score[top]
        boxes = decode_distances(stride * np.exp(log_dist[i][:, cell].T), points[cell])
        boxes = clip_boxes_to_image(boxes, (h * stride, w * stride))
        keep = batched_nms(boxes, score, cls, iou_threshold)[:max_detections]
        out.append({"boxes": boxes[keep], "scores": score[keep], "labels": cls[keep]})
    return out


def fit_detector(model, scenes, optimizer, *, rng, batch_size=32, steps=None, seconds=None,
                 loss_fn=None, num_classes=None, log_every=0):
    """Train a detector on :class:`~cnnlib.data.Scenes` for a number of steps or seconds.

    Each step draws a batch from a fresh permutation of the scenes (a new
    one every epoch), assigns targets, and takes one optimiser step on
    :class:`DetectionLoss`. The model is left in training mode.

    Parameters
    ----------
    model : Module
        Maps (N, 1, H, W) to (N, C + 4, H / 4, W / 4), e.g. :func:`small_detector`.
    scenes : Scenes
    optimizer : SGD or Adam on ``model``
    rng : numpy.random.Generator
        Draws the batches.
    batch_size : int, default 32
    steps, seconds : int and float, optional
        Stop after this many steps, or once this much wall time has passed;
        give at least one.
    loss_fn : DetectionLoss, optional
    num_classes : int, optional
        Default: the model's output channels minus 4.
    log_every : int, default 0
        Print the loss every this many steps (0: never).

    Returns
    -------
    history : dict
        ``"loss"``, ``"classes"`` and ``"boxes"``: the loss and its two
        terms at every step; ``"seconds"``: the time taken.
    """
    if steps is None and seconds is None:
        raise ValueError("fit_detector: give steps or seconds (or both)")
    steps = None if steps is None else check_int("fit_detector: steps", steps)
    seconds = None if seconds is None else check_number("fit_detector: seconds", seconds, low=0)
    batch_size = check_int("fit_detector: batch_size", batch_size)
    loss_fn = DetectionLoss() if loss_fn is None else loss_fn
    history = {"loss": [], "classes": [], "boxes": []}
    start, order, at = time.perf_counter(), np.zeros(0, np.int64), 0
    model.train()
    while (steps is None or len(history["loss"]) < steps) and (
            seconds is None or time.perf_counter() - start < seconds):
        if at >= len(order):
            order, at = rng.permutation(len(scenes)), 0
        batch = order[at:at + batch_size]
        at += batch_size
        pred = model.forward(scenes.images[batch])
        k = pred.shape[1] - 4 if num_classes is None else num_classes
        targets = assign_targets([scenes.boxes[i] for i in batch],
                                 [scenes.labels[i] for i in batch], k, pred.shape[2:],
                                 dtype=pred.dtype)
        loss = loss_fn.forward(pred, targets)
        model.backward(loss_fn.backward())
        optimizer.step()
        history["loss"].append(loss)
        for part, value in loss_fn.parts.items():
            history[part].append(value)
        if log_every and len(history["loss"]) % log_every == 0:
            print(f"step {len(history['loss'])}: loss {loss:.3f} ({loss_fn.parts['classes']:.3f}"
                  f" classes, {loss_fn.parts['boxes']:.3f} boxes), "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
    history["seconds"] = time.perf_counter() - start
    return history


def detect(model, images, *, batch_size=100, **options):
    """:func:`decode_detections` of ``model`` (in evaluation mode) on (N, 1, H, W) images.

    ``options`` go to :func:`decode_detections`. The model's mode is
    restored afterwards.
    """
    batch_size = check_int("detect: batch_size", batch_size)
    was_training = model.training
    model.eval()
    try:
        out = []
        for i in range(0, len(images), batch_size):
            out += decode_detections(model.forward(images[i:i + batch_size]), **options)
        return out
    finally:
        model.train(was_training)
