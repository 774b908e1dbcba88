"""Activation functions and their gradients: ReLU, ReLU6, sigmoid, GELU (tanh and erf), softmax."""

import math

import numpy as np

from cnnlib.checks import check_axis, check_real


def relu(x):
    """max(x, 0), elementwise; any shape, same dtype."""
    x = check_real("relu", x)
    return np.maximum(x, x.dtype.type(0))


def relu_backward(dy, x):
    """Gradient of :func:`relu`: passes ``dy`` where ``x > 0``; same shape as ``x``."""
    return relu_backward_from_mask(dy, check_real("relu_backward", x) > 0)


def relu_backward_from_mask(dy, mask):
    """:func:`relu_backward` given the boolean mask ``x > 0`` from the forward pass."""
    return np.where(mask, dy, dy.dtype.type(0))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)  # Python floats keep float32 as float32
_GELU_CUBIC = 0.044715


def as_float(x, name="activation"):
    """``x`` as a real array, integers converted to float64; floats keep their dtype."""
    x = check_real(name, x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def gelu(x, approximate="tanh"):
    """GELU (Hendrycks and Gimpel, 2016), by default in its tanh form.

    ``approximate="tanh"`` (the default here, and the form the course's
    networks use) computes ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
    x^3)))``; ``approximate="none"`` computes the exact ``x Phi(x)``, with
    ``Phi`` the standard normal CDF (see :func:`gelu_erf_with_cdf`). The
    names are PyTorch's, but PyTorch's default is ``"none"``.
    """
    if check_approximate("gelu", approximate) == "none":
        y, _ = gelu_erf_with_cdf(x)
    else:
        y, _ = gelu_with_tanh(x)
    return y


def check_approximate(name, approximate):
    """Return ``approximate`` if it is "none" or "tanh", else raise naming ``name``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{name}: approximate must be 'none' (exact, with erf) or 'tanh', "
                         f"got {approximate!r}")
    return approximate


def gelu_with_tanh(x):
    """GELU that also returns the tanh term, which the backward pass reuses.

    Returns
    -------
    y : ndarray, same shape as ``x``
    t : ndarray, ``tanh(sqrt(2/pi) (x + 0.044715 x^3))``
    """
    x = as_float(x, "gelu")
    t = x * x  # the steps below work in place, on as few arrays as possible
    t *= _GELU_CUBIC
    t += 1
    t *= x
    t *= _SQRT_2_OVER_PI
    np.tanh(t, out=t)
    y = t + 1
    y *= x
    y *= 0.5
    return y, t


def gelu_backward(dy, x, t=None):
    """Gradient of :func:`gelu`.

    With ``u = sqrt(2/pi) (x + 0.044715 x^3)`` and ``t = tanh(u)``,
    ``d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx``.

    Parameters
    ----------
    dy, x : ndarray, same shape
    t : ndarray, optional
        The tanh term from :func:`gelu_with_tanh`, to avoid recomputing it.
    """
    x = as_float(x, "gelu_backward")
    if t is None:
        _, t = gelu_with_tanh(x)
    g = x * x  # becomes du/dx, then the whole derivative, in place
    g *= 3 * _GELU_CUBIC
    g += 1
    g *= _SQRT_2_OVER_PI
    g *= 1 - t * t
    g *= x
    g += 1 + t
    g *= 0.5
    return dy * g


_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, elementwise, in the dtype of ``x``.

    NumPy has no vectorised erf, so each element goes through the C library's
    ``math.erf`` (exact to the last bit or so, but about 70 times slower than
    ``np.tanh``); this is why the tanh form is the course's default.
    """
    x = as_float(x, "normal_cdf")
    erf = np.asarray(_erf(x.astype(np.float64) * math.sqrt(0.5)), dtype=np.float64)
    return (0.5 * (1.0 + erf)).astype(x.dtype, copy=False).reshape(x.shape)


def gelu_erf_with_cdf(x):
    """Exact GELU ``x Phi(x)``, PyTorch's ``approximate="none"``, and ``Phi(x)`` for the backward.

    Returns
    -------
    y, cdf : ndarray, same shape and dtype as ``x``
    """
    x = as_float(x, "gelu")
    cdf = normal_cdf(x)
    return x * cdf, cdf


def gelu_erf_backward(dy, x, cdf=None):
    """Gradient of the exact GELU: ``d (x Phi(x)) / dx = Phi(x) + x phi(x)``.

    Parameters
    ----------
    dy, x : ndarray, same shape
    cdf : ndarray, optional
        ``Phi(x)`` from :func:`gelu_erf_with_cdf`, to avoid recomputing it.
    """
    x = as_float(x, "gelu_backward")
    if cdf is None:
        cdf = normal_cdf(x)
    pdf = np.exp(-0.5 * x * x)
    pdf *= 1 / math.sqrt(2 * math.pi)
    return dy * (cdf + x * pdf)


def relu6(x):
    """min(max(x, 0), 6), elementwise, as in MobileNetV2; any shape, same dtype."""
    x = check_real("relu6", x)
    return np.clip(x, x.dtype.type(0), x.dtype.type(6))


def relu6_backward_from_mask(dy, mask):
    """Gradient of :func:`relu6` given the mask ``(x > 0) & (x < 6)``, as PyTorch's."""
    return np.where(mask, dy, dy.dtype.type(0))


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise, without overflow for large ``|x|``; same dtype."""
    x = as_float(x, "sigmoid")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(dy, y):
    """Gradient of :func:`sigmoid` given its output ``y``: ``dy y (1 - y)``."""
    return dy * y * (1 - y)


def _check_scores(name, z, axis):
    z = as_float(z, name)
    if z.ndim == 0:
        raise ValueError(f"{name}: expected an array of scores with at least one axis, got a "
                         f"scalar")
    if z.shape[check_axis(name, axis, z.ndim)] == 0:
        raise ValueError(f"{name}: axis {axis} has no entries (shape {z.shape})")
    return z


def softmax(z, axis=-1):
    """exp(z) / sum(exp(z)) along ``axis``, shifted by the max for stability; same shape."""
    z = _check_scores("softmax", z, axis)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """log(softmax(z)) along ``axis``, computed without overflow (finite for logits of 1e3)."""
    z = _check_scores("log_softmax", z, axis)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(dy, y, axis=-1):
    """Gradient of :func:`log_softmax` given its output ``y``: ``dy - softmax * sum(dy)``."""
    return dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)
