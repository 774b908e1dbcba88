"""Scenes for detection and segmentation: small items on a larger canvas, with boxes and masks."""

from dataclasses import dataclass

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number, check_real, check_rng
from cnnlib.nn.upsample import interpolate


@dataclass(frozen=True)
class Scenes:
    """Images with their objects, from :func:`make_scenes`.

    Attributes
    ----------
    images : ndarray of float32, shape (N, 1, H, W), values in [0, 1]
    boxes : list of N ndarrays of float32, shape (K_i, 4)
        (x1, y1, x2, y2) of each item in pixel edges: an item whose pixels
        span columns c0..c1 and rows r0..r1 has the box (c0, r0, c1 + 1,
        r1 + 1), so a one-pixel item has area 1. (torchvision's
        ``masks_to_boxes`` gives (c0, r0, c1, r1) instead.)
    labels : list of N ndarrays of int64, shape (K_i,)
        The class of each item, as in the source labels.
    masks : ndarray of int64, shape (N, H, W)
        Per-pixel class: 0 for background (clutter included), ``label + 1``
        for an item's pixels.
    instances : ndarray of int64, shape (N, H, W)
        Per-pixel item: 0 for background, ``k + 1`` for item k of the image.
    sources : list of N ndarrays of int64, shape (K_i,)
        The index of each item's source image.
    """

    images: np.ndarray
    boxes: list
    labels: list
    masks: np.ndarray
    instances: np.ndarray
    sources: list

    def __len__(self):
        return len(self.images)

    def targets(self):
        """Per-image ``{"boxes", "labels"}`` dicts, the targets of ``mean_average_precision``."""
        return [{"boxes": b, "labels": c} for b, c in zip(self.boxes, self.labels)]


def _check_sources(images, labels, indices):
    name = "make_scenes"
    images = check_real(name, images, "images")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    check_ndim(name, images, 3, "(n, height, width) or (n, 1, height, width)", "images")
    if images.dtype == np.uint8:
        images = images / np.float32(255)
    elif images.dtype.kind != "f":
        raise TypeError(f"{name}: images must be uint8 (0-255) or floats in [0, 1], got dtype "
                        f"{images.dtype}")
    elif images.size and not (np.all(np.isfinite(images)) and images.min() >= 0
                              and images.max() <= 1):
        raise ValueError(f"{name}: float images must lie in [0, 1] (background 0)")
    labels = check_real(name, labels, "labels")
    if labels.shape != (len(images),) or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{name}: labels must be {len(images)} integers, one per image, got "
                         f"shape {labels.shape} and dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name}: labels must not be negative, got {labels.min()}")
    if indices is None:
        indices = np.arange(len(images))
    indices = check_real(name, indices, "indices")
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise ValueError(f"{name}: indices must be a 1-D array of integers, got shape "
                         f"{indices.shape} and dtype {indices.dtype}")
    if indices.size == 0:
        raise ValueError(f"{name}: indices is empty; the scenes need source images")
    if indices.min() < 0 or indices.max() >= len(images):
        raise ValueError(f"{name}: indices must lie in [0, {len(images) - 1}], got values from "
                         f"{indices.min()} to {indices.max()}")
    return images, labels.astype(np.int64), indices.astype(np.int64)


def _range(name, value, low, integer=False):
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}") from None
    if integer:
        lo, hi = check_int(name, lo, minimum=low), check_int(name, hi, minimum=low)
    else:
        lo = check_number(name, lo, low=low, low_open=True)
        hi = check_number(name, hi, low=low, low_open=True)
    if hi < lo:
        raise ValueError(f"{name} must have low <= high, got {value!r}")
    return lo, hi


def _item(source, shape):
    """The source resized to ``shape`` (bilinear), cropped to its nonzero pixels."""
    big = np.clip(interpolate(source[None, None].astype(np.float64), size=shape,
                              mode="bilinear")[0, 0], 0, 1)
    rows, cols = np.flatnonzero(big.any(axis=1)), np.flatnonzero(big.any(axis=0))
    if rows.size == 0:
        return None
    return big[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _cover(box, others):
    """For each earlier box, the larger of the fractions of either box the two share."""
    if not others:
        return np.zeros(0)
    others = np.array(others)
    w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    smaller = np.minimum((box[2] - box[0]) * (box[3] - box[1]),
                         (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]))
    return inter / smaller


def make_scenes(images, labels, count, *, rng, indices=None, size=64, objects=(1, 4),
                scale=(0.6, 1.3), max_cover=0.5, clutter=2, tries=20):
    """Scenes of source items at random positions and sizes, with boxes and per-pixel masks.

    Each scene is a blank ``size`` x ``size`` canvas. First ``clutter``
    fragments (random 4-8 pixel crops of source images, unlabelled, part of
    the background in the masks) are drawn; then between ``objects[0]``
    and ``objects[1]`` items: a source image resized by a factor drawn from
    ``scale`` (bilinear), cropped to its nonzero pixels and placed where it
    fits wholly inside the canvas. A later item occludes earlier ones: its
    nonzero pixels replace theirs in the image and in the masks. The boxes
    of occluded items keep their full extent. A placement is redrawn (up to
    ``tries`` times, then the item is left out) when the new box and an
    earlier one share more than ``max_cover`` of the smaller box, so that
    every item stays partly visible.

    Parameters
    ----------
    images : array_like, shape (n, h, w) or (n, 1, h, w)
        Source items on a zero background: uint8 (divided by 255) or
        floats in [0, 1], e.g. Fashion-MNIST from
        :func:`cnnlib.data.fashion_mnist`.
    labels : array_like of ints, shape (n,)
    count : int
        Number of scenes.
    rng : numpy.random.Generator
        Every random choice is drawn from it: the same seed gives the same
        scenes.
    indices : array_like of ints, optional
        The source images that may be used (default all). Give disjoint
        index sets for training, validation and test scenes, so that no
        item is seen in two splits.
    size : int, default 64
    objects : (int, int), default (1, 4)
        Fewest and most items per scene, both included.
    scale : (float, float), default (0.6, 1.3)
        Range of resize factors (a 28-pixel source becomes 17 to 36 pixels,
        and the item, cropped to its nonzero pixels, is often smaller).
    max_cover : float in [0, 1], default 0.5
    clutter : int, default 2
    tries : int, default 20

    Returns
    -------
    Scenes

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.data import make_scenes
    >>> items = np.zeros((10, 28, 28), np.uint8)
    >>> items[:, 8:20, 10:18] = 200
    >>> scenes = make_scenes(items, np.arange(10) % 3, 5, rng=np.random.default_rng(0))
    >>> scenes.images.shape, scenes.masks.shape
    ((5, 1, 64, 64), (5, 64, 64))

    Splits with disjoint sources (``x_train, y_train`` from ``fashion_mnist()``)::

        order = rng.permutation(len(x_train))
        train = make_scenes(x_train, y_train, 2000, rng=rng, indices=order[:50000])
        val = make_scenes(x_train, y_train, 500, rng=rng, indices=order[50000:])
    """
    name = "make_scenes"
    sources, labels, indices = _check_sources(images, labels, indices)
    count = check_int(f"{name}: count", count, minimum=0)
    check_rng(name, rng)
    size = check_int(f"{name}: size", size, minimum=8)
    lo_objects, hi_objects = _range(f"{name}: objects", objects, 0, integer=True)
    lo_scale, hi_scale = _range(f"{name}: scale", scale, 0)
    max_cover = check_number(f"{name}: max_cover", max_cover, low=0, high=1)
    clutter = check_int(f"{name}: clutter", clutter, minimum=0)
    tries = check_int(f"{name}: tries", tries)
    h_src, w_src = sources.shape[1:]

    canvas = np.zeros((count, 1, size, size), np.float32)
    masks = np.zeros((count, size, size), np.int64)
    instances = np.zeros((count, size, size), np.int64)
    all_boxes, all_labels, all_sources = [], [], []
    for n in range(count):
        image = canvas[n, 0]
        for _ in range(clutter):
            src = sources[rng.choice(indices)]
            ph, pw = (int(v) for v in rng.integers(4, 9, 2))
            ph, pw = min(ph, h_src, size), min(pw, w_src, size)
            r, c = rng.integers(0, h_src - ph + 1), rng.integers(0, w_src - pw + 1)
            top, left = rng.integers(0, size - ph + 1), rng.integers(0, size - pw + 1)
            np.maximum(image[top:top + ph, left:left + pw], src[r:r + ph, c:c + pw],
                       out=image[top:top + ph, left:left + pw])
        boxes, item_labels, item_sources = [], [], []
        for _ in range(int(rng.integers(lo_objects, hi_objects + 1))):
            index = int(rng.choice(indices))
            factor = rng.uniform(lo_scale, hi_scale)
            shape = [min(size, max(1, int(round(n * factor)))) for n in (h_src, w_src)]
            item = _item(sources[index], shape)
            if item is None:
                continue
            ih, iw = item.shape
            for _ in range(tries):
                top, left = int(rng.integers(0, size - ih + 1)), int(rng.integers(0,
                                                                                  size - iw + 1))
                box = (left, top, left + iw, top + ih)
                if np.all(_cover(box, boxes) <= max_cover):
                    break
            else:
                continue
            shown = item > 0
            window = (slice(top, top + ih), slice(left, left + iw))
            image[window][shown] = item[shown]
            masks[n][window][shown] = labels[index] + 1
            instances[n][window][shown] = len(boxes) + 1
            boxes.append(box)
            item_labels.append(labels[index])
            item_sources.append(index)
        all_boxes.append(np.array(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.array(item_labels, np.int64))
        all_sources.append(np.array(item_sources, np.int64))
    return Scenes(canvas, all_boxes, all_labels, masks, instances, all_sources)
