"""Weight initialisation; every function takes a numpy Generator."""

import numpy as np


def _fans(shape):
    """(fan_in, fan_out) of a Linear (out, in) or Conv2d (out, in, kh, kw) weight."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def he_uniform(shape, *, rng, fan_in=None, dtype=np.float64):
    """Kaiming He uniform: U(-limit, limit) with limit = sqrt(6 / fan_in)."""
    fan_in = _fans(shape)[0] if fan_in is None else fan_in
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, *, rng, fan_in=None, dtype=np.float64):
    """Kaiming He normal: N(0, 2 / fan_in)."""
    fan_in = _fans(shape)[0] if fan_in is None else fan_in
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier_uniform(shape, *, rng, dtype=np.float64):
    """Glorot/Xavier uniform: limit = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)
