"""Weight initialisation; every function takes a numpy Generator."""

import numpy as np


def fans(shape):
    """(fan_in, fan_out) of a Linear (out, in) or Conv2d (out, in, kh, kw) weight."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def he_uniform(shape, *, rng, fan_in=None, dtype=np.float64):
    """Kaiming He uniform: U(-limit, limit) with limit = sqrt(6 / fan_in).

    The variance is limit^2 / 3 = 2 / fan_in, which keeps the mean square of
    the activations steady through a stack of ReLU layers.
    """
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)
