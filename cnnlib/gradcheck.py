"""Numerical gradients by central differences, and the relative error."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """d f / d x by central differences, one element at a time.

    Parameters
    ----------
    f : callable
        Takes no arguments and returns a scalar; it must read ``x``, which
        is perturbed in place and restored.
    x : ndarray (float64 for meaningful results)

    Returns
    -------
    grad : ndarray, same shape as ``x``
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|, tiny): near 1e-8 or less means they agree."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-300))


def check_layer(layer, x, *, rng, eps=1e-6):
    """Compare a layer's backward pass with finite differences.

    The scalar checked is ``sum(layer.forward(x) * dy)`` for a random ``dy``,
    whose gradient is exactly what ``layer.backward(dy)`` returns.

    Parameters
    ----------
    layer : Module
    x : ndarray, float64
    rng : numpy.random.Generator
        Draws ``dy``.

    Returns
    -------
    errors : dict
        ``"input"`` and each parameter name -> relative error.
    """
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    grads = {k: np.array(v) for k, v in layer.grads.items()}

    def scalar():
        return float(np.sum(layer.forward(x) * dy))

    errors = {"input": rel_error(dx, numerical_gradient(scalar, x, eps))}
    for name, p in layer.params.items():
        errors[name] = rel_error(grads[name], numerical_gradient(scalar, p, eps))
    return errors
