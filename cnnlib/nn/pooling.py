"""Max, average and adaptive average pooling, forward and backward, without a loop over windows.

Pooling loops over the KH*KW offsets of the window, never over windows:
each offset is one strided view of the input, holding that element of every
window at once. Adaptive pooling, whose windows differ in size, is a matrix
product along each axis instead.
"""

import numpy as np

from cnnlib.checks import check_ndim, check_real, pair
from cnnlib.nn.windows import (batch_first, batch_last, offsets, pad2d, shifted,
                               window_geometry)


def _geometry(name, size, stride):
    k = pair(size, f"{name}: size")
    s = k if stride is None else pair(stride, f"{name}: stride")
    return k, s


def _pool_input(name, x, size, stride, ceil_mode, pad_value, padding=0):
    """Validate a pooling call; return the padded input and the geometry.

    Returns ``(xp, kernel, stride, (ho, wo), pads)``. ``xp`` is padded with
    ``pad_value`` by ``padding`` on every side and, in ceil mode, further at
    the bottom and right to fit the last, partial windows; ``pads`` is
    (top, bottom, left, right).
    """
    check_ndim(name, x, 4, "(N, C, H, W)")
    k, s = _geometry(name, size, stride)
    p = check_pool_padding(name, padding, k)
    h, w = x.shape[2:]
    if k[0] > h + 2 * p[0] or k[1] > w + 2 * p[1]:
        raise ValueError(
            f"{name}: pooling window {k[0]}x{k[1]} is larger than the input "
            f"{h}x{w}" + (f" padded by {p[0]}x{p[1]}" if any(p) else ""))
    ho, wo, pads = window_geometry(name, x, k, s, p, ceil_mode)
    return pad2d(x, pads, pad_value), k, s, (ho, wo), pads


def check_pool_padding(name, padding, kernel):
    """``padding`` as a pair, at most half the window along each axis (PyTorch's rule)."""
    p = pair(padding, f"{name}: padding", minimum=0)
    if p[0] > kernel[0] // 2 or p[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {p[0]}x{p[1]} must be at most half the window "
                         f"{kernel[0]}x{kernel[1]}, so that every window holds an input "
                         f"element")
    return p


def _lowest(dtype):
    """The smallest value of ``dtype``: padding that never wins a max."""
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_pool2d(x, size=2, stride=None, *, padding=0, ceil_mode=False):
    """Max pooling over ``size`` windows; ``stride`` defaults to ``size``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    size, stride : int or (int, int)
    padding : int or (int, int)
        Implicit minus infinity on every side, at most half the window, as
        in PyTorch: padding never wins a window.
    ceil_mode : bool
        Keep a last, partial window at the bottom and right edges.

    Returns
    -------
    y : ndarray, shape (N, C, H', W')
    """
    y, _ = max_pool2d_with_indices(x, size, stride, padding=padding, ceil_mode=ceil_mode)
    return y


def max_pool2d_with_indices(x, size=2, stride=None, *, padding=0, ceil_mode=False):
    """Max pooling that also returns which element of each window won.

    Returns
    -------
    y : ndarray, shape (N, C, H', W')
    winner : ndarray of unsigned int, shape (N, C, H', W')
        Row-major index inside the window of the first maximum (ties go to
        the first, as in PyTorch).
    """
    x = check_real("max_pool2d", x)
    xp, k, s, out, _ = _pool_input("max_pool2d", x, size, stride, ceil_mode,
                                   _lowest(x.dtype), padding)
    views = [shifted(xp, offset, s, out) for offset in offsets(k)]
    y = views[0].copy(order="K")  # "K": keep the input's memory layout
    winner = np.zeros_like(y, dtype=np.min_scalar_type(len(views) - 1))
    for index, view in enumerate(views[1:], start=1):
        # Only a strictly larger value takes over, so ties stay with the
        # earlier element. Indices grow, so the last takeover has the largest.
        takes_over = view > y
        np.maximum(winner, takes_over * winner.dtype.type(index), out=winner)
        np.maximum(y, view, out=y)
    return y, winner


def max_pool2d_backward(dy, x, size=2, stride=None, *, padding=0, ceil_mode=False):
    """Route each output gradient to the element that won its window.

    Parameters
    ----------
    dy : ndarray, shape (N, C, H', W')
    x : ndarray, shape (N, C, H, W)
    size, stride, padding, ceil_mode : as for :func:`max_pool2d`

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    x = check_real("max_pool2d_backward", x)
    check_ndim("max_pool2d_backward", x, 4, "(N, C, H, W)")
    _, winner = max_pool2d_with_indices(x, size, stride, padding=padding, ceil_mode=ceil_mode)
    return max_pool2d_backward_from_indices(dy, x.shape, winner, size, stride,
                                            padding=padding, ceil_mode=ceil_mode)


def max_pool2d_backward_from_indices(dy, x_shape, winner, size=2, stride=None, *,
                                     padding=0, ceil_mode=False):
    """:func:`max_pool2d_backward` given the winners from :func:`max_pool2d_with_indices`.

    Parameters
    ----------
    dy : ndarray, shape (N, C, H', W')
    x_shape : (N, C, H, W)
    winner : ndarray, shape (N, C, H', W')

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), laid out like ``dy``
    """
    dy = check_real("max_pool2d_backward", dy, "gradient")
    if dy.shape != winner.shape:
        raise ValueError(f"max_pool2d_backward: gradient has shape {dy.shape} but the "
                         f"output had {winner.shape}")
    k, s = _geometry("max_pool2d", size, stride)
    n, c, h, w = x_shape
    p = check_pool_padding("max_pool2d", padding, k)
    ho, wo, pads = window_geometry("max_pool2d", np.empty((0, 0, h, w)), k, s, p, ceil_mode)
    if dy.shape != (n, c, ho, wo):
        raise ValueError(f"max_pool2d_backward: gradient has shape {dy.shape} but the output "
                         f"had {(n, c, ho, wo)}")
    if np.argsort(winner.strides).tolist() != np.argsort(dy.strides).tolist():
        # Comparing arrays of different memory layouts is several times slower
        # than copying the small uint8 winners into dy's layout first.
        winner = _copy_like(winner, dy)
    dxp = np.zeros_like(dy, shape=(n, c, h + pads[0] + pads[1], w + pads[2] + pads[3]))
    overlapping = s[0] < k[0] or s[1] < k[1]
    for index, offset in enumerate(offsets(k)):
        target = shifted(dxp, offset, s, (ho, wo))
        if overlapping:
            target += (winner == index) * dy
        else:  # each input element is in at most one window: write, do not add
            np.multiply(winner == index, dy, out=target)
    return dxp[:, :, pads[0]: pads[0] + h, pads[2]: pads[2] + w]


def _copy_like(a, like):
    """A copy of ``a`` laid out in memory like ``like`` (same shape)."""
    out = np.empty_like(like, dtype=a.dtype)
    out[...] = a
    return out


def avg_pool2d(x, size=2, stride=None):
    """Average pooling; ``stride`` defaults to ``size``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    size, stride : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, C, H', W')
    """
    x = check_real("avg_pool2d", x)
    xp, k, s, out, _ = _pool_input("avg_pool2d", x, size, stride, False, 0)
    if xp.dtype.kind != "f":
        xp = xp.astype(np.float64)
    total = sum(shifted(xp, offset, s, out) for offset in offsets(k))
    return total / xp.dtype.type(k[0] * k[1])


def avg_pool2d_backward(dy, x, size=2, stride=None):
    """Spread each output gradient evenly over its window.

    Parameters
    ----------
    dy : ndarray, shape (N, C, H', W')
    x : ndarray, shape (N, C, H, W)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    x = check_real("avg_pool2d_backward", x)
    check_ndim("avg_pool2d_backward", x, 4, "(N, C, H, W)")
    return avg_pool2d_backward_from_shape(dy, x.shape, size, stride)


def avg_pool2d_backward_from_shape(dy, x_shape, size=2, stride=None):
    """:func:`avg_pool2d_backward` given only the input's shape (N, C, H, W)."""
    dy = check_real("avg_pool2d_backward", dy, "gradient")
    k, s = _geometry("avg_pool2d", size, stride)
    n, c, h, w = x_shape
    ho, wo, _ = window_geometry("avg_pool2d", np.empty((0, 0, h, w)), k, s, (0, 0))
    if dy.shape != (n, c, ho, wo):
        raise ValueError(f"avg_pool2d_backward: gradient has shape {dy.shape} but the output "
                         f"had {(n, c, ho, wo)}")
    share = dy / (k[0] * k[1])
    dx = np.zeros(x_shape, dtype=share.dtype)
    for offset in offsets(k):
        target = shifted(dx, offset, s, dy.shape[2:])
        target += share
    return dx


def adaptive_windows(n, out):
    """Start and end of each window of adaptive pooling along one axis, PyTorch's rule.

    Window i covers ``floor(i n / out) <= r < ceil((i + 1) n / out)``: the
    windows tile the axis, overlap by at most one cell when ``out`` does not
    divide ``n``, and are all ``n / out`` long when it does.

    Parameters
    ----------
    n : int
        Input length.
    out : int
        Output length; may exceed ``n`` (windows then repeat cells).

    Returns
    -------
    starts, ends : ndarray of int, shape (out,)
    """
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _averaging_matrix(n, out, dtype):
    """(out, n) matrix whose row i averages window i of :func:`adaptive_windows`."""
    starts, ends = adaptive_windows(n, out)
    cells = np.arange(n)
    inside = (cells >= starts[:, None]) & (cells < ends[:, None])
    return inside / (ends - starts)[:, None].astype(dtype)


def check_adaptive_shape(name, x_shape):
    """Raise ValueError unless ``x_shape`` is (N, C, H, W) with H and W at least 1."""
    if len(x_shape) != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(x_shape)}")
    if x_shape[2] < 1 or x_shape[3] < 1:
        raise ValueError(f"{name}: input has an empty spatial size {x_shape[2]}x{x_shape[3]}")


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size, whatever the input size.

    Output cell (i, j) averages the window of rows and columns given by
    :func:`adaptive_windows`; ``output_size=1`` is global average pooling.
    As a matrix product along each axis: ``y = A_h x A_w^T`` with the
    averaging matrices ``A``, so the gradient is ``A_h^T dy A_w``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    output_size : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, C, out_h, out_w)
        Integer input gives float64; stored batch innermost.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib import functional as F
    >>> F.adaptive_avg_pool2d(np.arange(5.0).reshape(1, 1, 1, 5), (1, 3))[0, 0]
    array([[0.5, 2. , 3.5]])
    """
    x = check_real("adaptive_avg_pool2d", x)
    check_adaptive_shape("adaptive_avg_pool2d", x.shape)
    oh, ow = pair(output_size, "adaptive_avg_pool2d: output_size")
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    a_h = _averaging_matrix(x.shape[2], oh, dtype)
    a_w = _averaging_matrix(x.shape[3], ow, dtype)
    xt = batch_last(x)  # (C, H, W, N)
    y = np.einsum("ih,chwn,jw->cijn", a_h, xt, a_w, optimize=True)
    return batch_first(y.astype(dtype, copy=False))


def adaptive_avg_pool2d_backward(dy, x_shape, output_size):
    """Gradient of :func:`adaptive_avg_pool2d`: ``A_h^T dy A_w`` per image and channel.

    Parameters
    ----------
    dy : ndarray, shape (N, C, out_h, out_w)
    x_shape : (N, C, H, W)
    output_size : int or (int, int)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), stored batch innermost
    """
    dy = check_real("adaptive_avg_pool2d_backward", dy, "gradient")
    check_adaptive_shape("adaptive_avg_pool2d_backward", x_shape)
    oh, ow = pair(output_size, "adaptive_avg_pool2d_backward: output_size")
    expected = (*x_shape[:2], oh, ow)
    if dy.shape != expected:
        raise ValueError(f"adaptive_avg_pool2d_backward: gradient has shape {dy.shape} but "
                         f"the output had {expected}")
    dtype = dy.dtype if dy.dtype.kind == "f" else np.dtype(np.float64)
    a_h = _averaging_matrix(x_shape[2], oh, dtype)
    a_w = _averaging_matrix(x_shape[3], ow, dtype)
    dx = np.einsum("ih,cijn,jw->chwn", a_h, batch_last(dy), a_w, optimize=True)
    return batch_first(dx.astype(dtype, copy=False))
