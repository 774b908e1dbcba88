"""Resizing by nearest or bilinear interpolation: the op, its backward, and the Upsample layer.

Both modes are linear maps along each axis: an (H_out, H) matrix ``A_h``
and a (W_out, W) matrix ``A_w`` with ``y = A_h x A_w^T`` for every image
and channel, so the backward pass is ``dx = A_h^T dy A_w``. Nearest puts a
single 1 in each row; bilinear puts the two weights of the neighbours. The
source positions follow PyTorch's ``F.interpolate``: nearest takes
``floor(i * scale)`` (computed in float32, as PyTorch does) and bilinear
samples ``(i + 0.5) * scale - 0.5`` (``align_corners=False``) or
``i * (H - 1) / (H_out - 1)`` (``align_corners=True``), where ``scale`` is
``1 / scale_factor`` when a scale factor is given and ``H / H_out`` when a
size is.
"""

import math
import numbers
from fractions import Fraction

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number
from cnnlib.nn.activations import as_float
from cnnlib.nn.module import Module

_MODES = ("nearest", "bilinear")


def _pair_of(name, what, value, check):
    """``value`` as a (height, width) pair, each element passed through ``check``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: {what} must be a number or a pair (height, width), got "
                             f"{value!r}")
        return tuple(check(f"{name}: {what}", v) for v in value)
    return (check(f"{name}: {what}", value),) * 2


def _positive(name, value):
    return check_number(name, value, low=0, low_open=True)


def _check_options(name, size, scale_factor, mode, align_corners):
    """Validate the options; return (size pair or None, scale pair or None, align_corners)."""
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if align_corners is not None and mode != "bilinear":
        raise ValueError(f"{name}: align_corners can only be set with mode='bilinear'")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    if size is not None:
        size = _pair_of(name, "size", size, check_int)
    else:
        scale_factor = _pair_of(name, "scale_factor", scale_factor, _positive)
    return size, scale_factor, bool(align_corners)


def _out_sizes(name, in_hw, size, scale_factor):
    if size is not None:
        return size
    out = tuple(int(math.floor(n * s)) for n, s in zip(in_hw, scale_factor))
    if min(out) < 1:
        raise ValueError(f"{name}: scale_factor {scale_factor} turns the input's {in_hw[0]}x"
                         f"{in_hw[1]} into {out[0]}x{out[1]}; the output needs at least one "
                         f"pixel")
    return out


def _axis_matrix(n_in, n_out, scale_factor, mode, align_corners):
    """The (n_out, n_in) float64 interpolation matrix along one axis, PyTorch's positions."""
    rows = np.arange(n_out)
    a = np.zeros((n_out, n_in))
    if mode == "nearest":
        scale = np.float32(1.0 / scale_factor if scale_factor else n_in / n_out)
        src = np.floor(rows.astype(np.float32) * scale).astype(np.int64)
        a[rows, np.minimum(src, n_in - 1)] = 1
        return a
    if align_corners:
        src = rows * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum(scale * (rows + 0.5) - 0.5, 0.0)
    low = np.minimum(src.astype(np.int64), n_in - 1)
    frac = np.clip(src - low, 0.0, 1.0)
    high = np.minimum(low + 1, n_in - 1)
    np.add.at(a, (rows, low), 1 - frac)
    np.add.at(a, (rows, high), frac)
    return a


def _matrices(name, in_hw, size, scale_factor, mode, align_corners, dtype):
    out = _out_sizes(name, in_hw, size, scale_factor)
    scales = scale_factor if scale_factor is not None else (None, None)
    return tuple(_axis_matrix(n_in, n_out, s, mode, align_corners).astype(dtype)
                 for n_in, n_out, s in zip(in_hw, out, scales))


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize images, as ``torch.nn.functional.interpolate`` in 2-D.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Integers are converted to float64; floats keep their dtype.
    size : int or (int, int), optional
        The output's (H_out, W_out).
    scale_factor : float or (float, float), optional
        ``H_out = floor(H * scale_factor)``; give this or ``size``.
    mode : {"nearest", "bilinear"}
        "nearest" is PyTorch's "nearest" (not "nearest-exact").
    align_corners : bool, optional
        Bilinear only; default False, as in PyTorch.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib import functional as F
    >>> F.interpolate(np.array([[[[1.0, 2.0]]]]), scale_factor=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    >>> F.interpolate(np.array([[[[0.0, 4.0]]]]), scale_factor=(1, 2), mode="bilinear")[0, 0]
    array([[0., 1., 3., 4.]])
    """
    size, scale_factor, align_corners = _check_options("interpolate", size, scale_factor, mode,
                                                       align_corners)
    x = as_float(x, "interpolate")
    check_ndim("interpolate", x, 4, "(N, C, H, W)")
    if 0 in x.shape[2:]:
        raise ValueError(f"interpolate: input has no pixels (shape {x.shape})")
    a_h, a_w = _matrices("interpolate", x.shape[2:], size, scale_factor, mode, align_corners,
                         x.dtype)
    return a_h @ x @ a_w.T


def interpolate_backward(dy, input_shape, size=None, scale_factor=None, mode="nearest",
                         align_corners=None):
    """Gradient of :func:`interpolate` with respect to its input.

    Parameters
    ----------
    dy : ndarray, shape (N, C, H_out, W_out)
    input_shape : tuple (N, C, H, W)
        The shape of the input of the forward pass.
    size, scale_factor, mode, align_corners : as for :func:`interpolate`

    Returns
    -------
    dx : ndarray, shape ``input_shape``; each input pixel collects the
    gradients of the outputs it contributed to, with the same weights.
    """
    size, scale_factor, align_corners = _check_options("interpolate_backward", size,
                                                       scale_factor, mode, align_corners)
    dy = as_float(dy, "interpolate_backward")
    shape = tuple(input_shape)
    if len(shape) != 4 or not all(isinstance(n, numbers.Integral) and n > 0 for n in shape):
        raise ValueError(f"interpolate_backward: input_shape must be 4 positive ints "
                         f"(N, C, H, W), got {input_shape!r}")
    a_h, a_w = _matrices("interpolate_backward", shape[2:], size, scale_factor, mode,
                         align_corners, dy.dtype)
    expected = (*shape[:2], len(a_h), len(a_w))
    if dy.shape != expected:
        raise ValueError(f"interpolate_backward: gradient has shape {dy.shape} but the output "
                         f"of an input {shape} has shape {expected}")
    return a_h.T @ dy @ a_w


class Upsample(Module):
    """Resize by nearest or bilinear interpolation; maths in :func:`cnnlib.functional.interpolate`.

    As ``torch.nn.Upsample``, except that the first positional argument is
    ``scale_factor`` (``Upsample(2)`` doubles the size); ``size`` is
    keyword-only. No parameters.

    Parameters
    ----------
    scale_factor : float or (float, float), optional
    mode : {"nearest", "bilinear"}, default "nearest"
    size : int or (int, int), optional, keyword-only
        A fixed output size instead of a scale factor.
    align_corners : bool, optional, keyword-only
        Bilinear only; default False.

    Shape
    -----
    (N, C, H, W) -> (N, C, floor(H * scale_factor), floor(W * scale_factor)),
    or (N, C, *size).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> up = cnnlib.Upsample(2, mode="bilinear")
    >>> up.forward(np.zeros((1, 3, 4, 5))).shape
    (1, 3, 8, 10)
    >>> float(up.backward(np.ones((1, 3, 8, 10)))[0, 0, 0, 0])  # each pixel feeds 4 outputs
    4.0
    """

    def __init__(self, scale_factor=None, mode="nearest", *, size=None, align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.align_corners = _check_options(
            "Upsample", size, scale_factor, mode, align_corners)
        self.mode = mode
        self._in_shape = None

    def _options(self):
        return dict(size=self.size, scale_factor=self.scale_factor, mode=self.mode,
                    align_corners=self.align_corners if self.mode == "bilinear" else None)

    def _forward(self, x):
        check_ndim("Upsample", x, 4, "(N, C, H, W)")
        y = interpolate(x, **self._options())
        self._in_shape = x.shape
        return y

    def _backward(self, dy):
        return interpolate_backward(dy, self._in_shape, **self._options())

    def out_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"Upsample: expected a 4-D input (N, C, H, W), got shape "
                             f"{tuple(in_shape)}")
        return (*in_shape[:2], *_out_sizes("Upsample", tuple(in_shape[2:]), self.size,
                                           self.scale_factor))

    def windows(self):
        s = self.scale_factor[0] if self.scale_factor else None
        if s is None or s != int(s):
            raise ValueError("Upsample: receptive fields are tracked for integer scale "
                             "factors only")
        # Refine the grid by s; bilinear first mixes two neighbouring inputs.
        refine = [(1, Fraction(1, int(s)), 1)]
        return refine if self.mode == "nearest" or s == 1 else [(2, 1, 1)] + refine

    def extra_repr(self):
        what = (f"size={self.size}" if self.size else
                f"scale_factor={tuple(float(s) for s in self.scale_factor)}")
        return f"{what}, mode={self.mode!r}" + (", align_corners=True"
                                                 if self.align_corners else "")
