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
    whose gradient is exactly what ``layer.backward(dy)`` returns. The layer
    is left as it was: its buffers (a BatchNorm's running statistics), its
    counters and its generators are restored afterwards. A layer whose output
    is random (Dropout in training mode) is refused with a hint.

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
    state = _layer_state(layer)
    try:
        y = layer.forward(x)
        again = layer.forward(x)
        if not np.array_equal(y, again, equal_nan=True):
            raise ValueError(
                f"check_layer: {layer.name} gives different outputs for the same input (a "
                f"random layer such as Dropout in training mode), so finite differences "
                f"cannot check it; call layer.eval() first, or check it with p=0")
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
        grads = {k: np.array(v) for k, v in layer.grads.items()}

        def scalar():
            return float(np.sum(layer.forward(x) * dy))

        errors = {"input": rel_error(dx, numerical_gradient(scalar, x, eps))}
        for name, p in layer.params.items():
            errors[name] = rel_error(grads[name], numerical_gradient(scalar, p, eps))
    finally:
        _restore_layer_state(layer, state)
    return errors


def _layer_state(layer):
    """What a forward pass may change: buffers, BatchNorm's counters, generators' states."""
    return ({k: v.copy() for k, v in layer.buffers.items()},
            [(m, getattr(m, "num_batches_tracked", None),
              m.rng.bit_generator.state if isinstance(getattr(m, "rng", None),
                                                       np.random.Generator) else None)
             for m in layer.modules()])


def _restore_layer_state(layer, state):
    buffers, modules = state
    for name, buf in layer.buffers.items():
        buf[...] = buffers[name]
    for m, count, rng_state in modules:
        if count is not None:
            m.num_batches_tracked = count
        if rng_state is not None:
            m.rng.bit_generator.state = rng_state
