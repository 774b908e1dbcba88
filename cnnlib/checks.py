"""Argument checks that turn bad input into errors naming the problem."""

import numbers

import numpy as np


def pair(value, name="argument"):
    """Return ``value`` as a pair of ints; an int ``v`` becomes ``(v, v)``."""
    if isinstance(value, numbers.Integral):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if not (isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral)):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(a), int(b)


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
