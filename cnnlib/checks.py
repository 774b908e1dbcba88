"""Argument checks that turn bad input into errors naming the function, the parameter and the fix."""

import math
import numbers
import os

import numpy as np

_REAL_KINDS = "biuf"
_KIND_NAMES = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured",
               "M": "datetime", "m": "timedelta"}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, *, minimum=1):
    """Return ``value`` as an int, refusing bools, floats and values below ``minimum``.

    ``name`` reads "Layer: parameter", e.g. "MaxPool2d: kernel_size".
    """
    what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def pair(value, name="argument", *, minimum=1):
    """Return ``value`` as a pair of ints, each at least ``minimum``; ``v`` becomes ``(v, v)``."""
    if _is_int(value) or isinstance(value, (bool, np.bool_, float)):
        v = check_int(name, value, minimum=minimum)
        return v, v
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    return check_int(name, a, minimum=minimum), check_int(name, b, minimum=minimum)


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float in the given range, or raise naming the range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    ok = ok and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        if low is not None and high is None:
            rng = f"> {low}" if low_open else f">= {low}"
        elif low is not None:
            rng = f"in {lo}{hi}"
        else:
            rng = "a finite number"
        raise ValueError(f"{name} must be a finite number {rng}, got {value!r}")
    return float(value)


def check_real(name, x, what="input"):
    """Return ``x`` as an array of real numbers (bool, int or float), refusing anything else."""
    x = np.asarray(x)
    if x.dtype.kind not in _REAL_KINDS:
        kind = _KIND_NAMES.get(x.dtype.kind, str(x.dtype))
        raise TypeError(f"{name}: {what} has {kind} dtype {x.dtype}; expected real numbers "
                        f"(float or int)")
    return x


def check_float_dtype(name, dtype):
    """Return ``dtype`` as a numpy float dtype; integer or other dtypes cannot hold weights."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype must be a float type such as np.float32, "
                        f"got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{name}: dtype must be a float type such as np.float32 or "
                        f"np.float64, got {dt}; trainable weights cannot be {dt.kind!r}-kind")
    return dt


def check_rng(name, rng):
    """Refuse anything but a numpy Generator, which every random choice here is drawn from."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: rng must be a numpy Generator, e.g. "
                        f"np.random.default_rng(0), got {type(rng).__name__}")
    return rng


def check_ndim(name, x, ndim, layout, what="input"):
    """Raise ValueError unless ``x`` has ``ndim`` dimensions."""
    if np.ndim(x) != ndim:
        raise ValueError(
            f"{name}: expected a {ndim}-D {what} {layout}, got an array with "
            f"{np.ndim(x)} dimensions of shape {np.shape(x)}")


def check_finite(name, x, what="input"):
    """Raise ValueError if ``x`` holds NaN or infinity."""
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name}: {what} contains {bad} NaN or infinite values")


def readable_by_all(fd):
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode ``open`` would give it."""
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)


def check_path(name, path):
    """Return ``path`` as a str, refusing anything that is not a str or os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def check_shape(name, shape, *, ndims=(1, 2, 3, 4)):
    """Return ``shape`` as a tuple of positive ints whose length is one of ``ndims``."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a tuple of ints, got {shape!r}") from None
    if len(dims) not in ndims or not all(_is_int(d) and d > 0 for d in dims):
        raise ValueError(f"{name}: shape must be {' or '.join(map(str, ndims))} positive ints, "
                         f"got {shape!r}")
    return tuple(int(d) for d in dims)


def check_axis(name, axis, ndim):
    """Return ``axis`` as a non-negative axis of an ``ndim``-D array, or raise naming it."""
    if not _is_int(axis) or not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis must be an int in [{-ndim}, {ndim - 1}] for a "
                         f"{ndim}-D array, got {axis!r}")
    return int(axis) % ndim


def check_boxes(name, boxes, what="boxes"):
    """Return ``boxes`` as a float (K, 4) array of finite (x1, y1, x2, y2) boxes.

    Integer boxes become float64, float boxes keep their dtype, and an empty
    input (``[]`` or shape (0, 4)) becomes shape (0, 4). A box with
    ``x2 < x1`` or ``y2 < y1`` is refused; ``x2 == x1`` (zero area) is allowed.
    """
    boxes = check_real(name, boxes, what)
    if boxes.size == 0 and (boxes.ndim == 1 or (boxes.ndim == 2 and boxes.shape[1] in (0, 4))):
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: {what} must have shape (K, 4), one (x1, y1, x2, y2) row "
                         f"per box, got shape {boxes.shape}")
    if boxes.dtype.kind != "f":
        boxes = boxes.astype(np.float64)
    check_finite(name, boxes, what)
    bad = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if bad.size:
        raise ValueError(
            f"{name}: {what} must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, but box "
            f"{bad[0]} is {boxes[bad[0]].tolist()} ({bad.size} such boxes); convert (x, y, w, h) "
            f"or (cx, cy, w, h) boxes with cnnlib.tools.boxes.box_convert first")
    return boxes
