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



def _uniform(limit, shape, rng, dtype):
    """U(-limit, limit) drawn directly in ``dtype`` when NumPy can (float32 and float64)."""
    dtype = np.dtype(dtype)
    draw = dtype if dtype in (np.float32, np.float64) else np.float64
    out = rng.random(shape, dtype=draw)
    out *= 2 * limit
    out -= limit
    return out.astype(dtype, copy=False)


def xavier_uniform(shape, *, rng, gain=1.0, dtype=np.float64):
    """Glorot and Bengio's uniform: U(-limit, limit), limit = gain sqrt(6 / (fan_in + fan_out)).

    PyTorch's ``xavier_uniform_``; ``MultiheadAttention`` draws its input
    projection this way, with fans (E, 3E) for the (3E, E) matrix. Like the
    other initialisers below it draws float32 weights in float32, which is
    twice as fast as drawing float64 and converting.
    """
    fan_in, fan_out = fans(shape)
    return _uniform(gain * np.sqrt(6.0 / (fan_in + fan_out)), shape, rng, dtype)


def fan_in_uniform(shape, *, rng, dtype=np.float64):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for ``nn.Linear`` and ``nn.Conv2d``."""
    return _uniform(1.0 / np.sqrt(fans(shape)[0]), shape, rng, dtype)


def trunc_normal(shape, *, rng, std=1.0, low=-2.0, high=2.0, dtype=np.float64):
    """N(0, std^2) with draws outside [low, high] drawn again, as PyTorch's ``trunc_normal_``.

    As in PyTorch, ``low`` and ``high`` are absolute values, not multiples of
    ``std``: with ``std=0.02`` and the defaults nothing is ever cut.
    """
    dtype = np.dtype(dtype)
    draw = dtype if dtype in (np.float32, np.float64) else np.float64
    out = rng.standard_normal(shape, dtype=draw)
    out *= std
    bad = (out < low) | (out > high)
    while bad.any():
        out[bad] = std * rng.standard_normal(int(bad.sum()), dtype=draw)
        bad = (out < low) | (out > high)
    return out.astype(dtype, copy=False)
