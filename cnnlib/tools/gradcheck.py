"""Numerical gradients by central differences, and the relative error."""

import numpy as np

from cnnlib.checks import check_number, check_real


def numerical_gradient(f, x, eps=1e-6):
    """d f / d x by central differences, one element at a time.

    Parameters
    ----------
    f : callable
        Takes no arguments and returns a scalar; it must read ``x``, which
        is perturbed in place and restored, also when ``f`` raises.
    x : ndarray of floats, any shape and memory layout
        float64 for meaningful results; an integer array cannot hold a
        perturbation and is refused.
    eps : float, > 0

    Returns
    -------
    grad : ndarray of float64, same shape as ``x``
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        kind = type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype
        raise TypeError(f"numerical_gradient: x must be a float ndarray that f reads, got "
                        f"{kind}; convert with np.asarray(x, dtype=np.float64)")
    if not x.flags.writeable:
        raise ValueError("numerical_gradient: x is read-only, so it cannot be perturbed")
    eps = check_number("numerical_gradient: eps", eps, low=0, low_open=True)
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + eps
            up = f()
            x[i] = old - eps
            down = f()
        finally:
            x[i] = old
        grad[i] = (float(up) - float(down)) / (2 * eps)
    return grad


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|, tiny): near 1e-8 or less means they agree."""
    a = check_real("rel_error", a).astype(np.float64)
    b = check_real("rel_error", b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: the arrays have shapes {a.shape} and {b.shape}; compare "
                         f"arrays of one shape")
    if a.size == 0:
        return 0.0
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
