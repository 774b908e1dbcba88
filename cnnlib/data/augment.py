"""Image perturbations for augmentation and robustness tests: shifts, flips, erased boxes."""

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number, check_real, check_rng


def _images(name, images):
    images = check_real(name, images, "images")
    check_ndim(name, images, 4, "(N, C, H, W)", what="batch of images")
    return images


def shift(images, dy, dx):
    """Move each image by whole pixels, filling the uncovered border with zeros.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    dy, dx : int or int array of shape (N,)
        Rows down and columns right (negative: up and left), per image.

    Returns
    -------
    ndarray, shape (N, C, H, W), same dtype; content pushed past the edge is lost.
    """
    images = _images("shift", images)
    n, _, h, w = images.shape
    dy = np.broadcast_to(np.asarray(dy, dtype=np.int64), (n,))
    dx = np.broadcast_to(np.asarray(dx, dtype=np.int64), (n,))
    out = np.zeros_like(images)
    for a, b in set(zip(dy.tolist(), dx.tolist())):
        sel = (dy == a) & (dx == b)
        if abs(a) >= h or abs(b) >= w:
            continue
        out[sel, :, max(a, 0): h + min(a, 0), max(b, 0): w + min(b, 0)] = \
            images[sel, :, max(-a, 0): h + min(-a, 0), max(-b, 0): w + min(-b, 0)]
    return out


def random_shift(images, max_shift, *, rng):
    """Shift each image by a random whole number of pixels in [-max_shift, max_shift] per axis.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    max_shift : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    images = _images("random_shift", images)
    max_shift = check_int("random_shift: max_shift", max_shift, minimum=0)
    check_rng("random_shift", rng)
    d = rng.integers(-max_shift, max_shift + 1, size=(2, len(images)))
    return shift(images, d[0], d[1])


def flip_pixels(images, n_pixels, *, rng):
    """Invert ``n_pixels`` distinct random pixels of each image: v -> 1 - v.

    Assumes values in [0, 1]. Every channel of a chosen pixel is inverted.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    n_pixels : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (N, C, H, W), a new array
    """
    images = np.array(_images("flip_pixels", images))
    n, _, h, w = images.shape
    n_pixels = check_int("flip_pixels: n_pixels", n_pixels, minimum=0)
    if n_pixels > h * w:
        raise ValueError(f"flip_pixels: n_pixels {n_pixels} is more than the {h * w} pixels "
                         f"of an image")
    check_rng("flip_pixels", rng)
    pick = np.argsort(rng.random((n, h * w)), axis=1)[:, :n_pixels]
    rows = np.repeat(np.arange(n), n_pixels)
    flat = images.reshape(n, images.shape[1], h * w)
    flat[rows, :, pick.ravel()] = 1 - flat[rows, :, pick.ravel()]
    return flat.reshape(images.shape)


DIRECTIONS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
"""The eight neighbouring directions (dy, dx) that :func:`shift_and_flip` chooses from."""


def shift_and_flip(images, *, rng, distance=2, n_pixels=5):
    """The robustness test: shift by ``distance`` pixels, then flip ``n_pixels`` pixels.

    Each image moves ``distance`` pixels in one of the eight directions of
    :data:`DIRECTIONS` (chosen at random; diagonal moves go ``distance`` along
    both axes), then :func:`flip_pixels` inverts ``n_pixels`` random pixels.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W), values in [0, 1]
    rng : numpy.random.Generator
    distance, n_pixels : int

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    d = DIRECTIONS[rng.integers(0, len(DIRECTIONS), size=len(images))] * distance
    return flip_pixels(shift(images, d[:, 0], d[:, 1]), n_pixels, rng=rng)


def random_flip(images, *, rng, p=0.5):
    """Mirror each image left to right with probability ``p``.

    Right for clothing, whose classes look the same mirrored; wrong for
    letters and digits, where a mirrored b is a d.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    rng : numpy.random.Generator
    p : float in [0, 1]

    Returns
    -------
    ndarray, shape (N, C, H, W), a new array
    """
    images = _images("random_flip", images)
    p = check_number("random_flip: p", p, low=0, high=1)
    check_rng("random_flip", rng)
    flip = rng.random(len(images)) < p
    return np.where(flip[:, None, None, None], images[..., ::-1], images)


def crop_and_flip(images, *, rng, padding=2):
    """Clothing augmentation: a random crop of the zero-padded image, then a random mirror.

    Cropping a 28x28 window from the image padded by ``padding`` pixels is
    the same as shifting it by up to ``padding`` pixels with zero fill, so
    this is :func:`random_shift` followed by :func:`random_flip`.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    rng : numpy.random.Generator
    padding : int

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    return random_flip(random_shift(images, padding, rng=rng), rng=rng)


def random_erasing(images, *, rng, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0):
    """Blank a random box in each image with probability ``p`` (Zhong et al., 2020).

    As torchvision's ``RandomErasing``: the box covers a fraction of the
    image drawn uniformly from ``scale``, with an aspect ratio (height over
    width) drawn log-uniformly from ``ratio``; its sides are rounded to
    whole pixels, and a box that does not fit is drawn again, up to 10
    times, after which the image is left as it is. Every channel of the box
    is set to ``value``.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    rng : numpy.random.Generator
    p : float in [0, 1]
    scale : (float, float), 0 < low <= high <= 1
    ratio : (float, float), 0 < low <= high
    value : float

    Returns
    -------
    ndarray, shape (N, C, H, W), a new array
    """
    images = np.array(_images("random_erasing", images))
    p = check_number("random_erasing: p", p, low=0, high=1)
    try:
        (s0, s1), (r0, r1) = scale, ratio
    except (TypeError, ValueError):
        raise ValueError(f"random_erasing: scale and ratio must be pairs, got {scale!r} and "
                         f"{ratio!r}") from None
    s0 = check_number("random_erasing: scale[0]", s0, low=0, high=1, low_open=True)
    s1 = check_number("random_erasing: scale[1]", s1, low=s0, high=1)
    r0 = check_number("random_erasing: ratio[0]", r0, low=0, low_open=True)
    r1 = check_number("random_erasing: ratio[1]", r1, low=r0)
    value = check_number("random_erasing: value", value)
    check_rng("random_erasing", rng)
    n, _, h, w = images.shape
    for k in np.flatnonzero(rng.random(n) < p):
        for _ in range(10):
            area = h * w * rng.uniform(s0, s1)
            aspect = np.exp(rng.uniform(np.log(r0), np.log(r1)))
            bh, bw = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < bh < h and 0 < bw < w:
                i, j = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
                images[k, :, i:i + bh, j:j + bw] = value
                break
    return images
