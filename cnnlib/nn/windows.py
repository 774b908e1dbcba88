"""Sliding-window geometry and memory layout shared by convolution and pooling.

Memory layout: an array's shape says nothing about how its elements sit in
memory. The convolutions store their results with the batch as the
innermost (fastest-varying) index, like the ``(C, H, W, N)`` layout of
Krizhevsky's cuda-convnet, and return them as ``(N, C, H, W)`` views. Every
slice that a kernel offset or pooling window takes then reads or writes runs
of N contiguous numbers, which keeps the copies, sums and comparisons fast.
Pooling keeps the layout of its input. Nothing else changes: indexing and
arithmetic see an ordinary (N, C, H, W) array.

How the convolutions unroll their input, and in which chunks, is in
:mod:`cnnlib.nn.unroll`.
"""

from fractions import Fraction

import numpy as np

from cnnlib.checks import check_int


def output_size(n, kernel, *, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Length of a sliding-window output along one axis.

    ``floor((n + 2p - d (k - 1) - 1) / s) + 1``: a kernel of size k with
    dilation d spans ``d (k - 1) + 1`` cells. With ``ceil_mode`` the floor
    becomes a ceiling, and the last window must still start inside the input
    (or its left padding), which is PyTorch's rule.

    Parameters
    ----------
    n, kernel, stride, dilation : int, positive
    padding : int, at least 0 (and at most half the kernel in ceil mode)
    ceil_mode : bool

    Returns
    -------
    int

    Examples
    --------
    >>> from cnnlib import functional as F
    >>> F.output_size(28, 3), F.output_size(28, 3, padding=2, dilation=2)
    (26, 28)
    """
    n = check_int("output_size: n", n)
    kernel = check_int("output_size: kernel", kernel)
    stride = check_int("output_size: stride", stride)
    padding = check_int("output_size: padding", padding, minimum=0)
    dilation = check_int("output_size: dilation", dilation)
    if ceil_mode and padding > kernel // 2:
        raise ValueError(f"output_size: padding must be at most half the kernel in ceil "
                         f"mode, got padding {padding} for kernel {kernel}")
    extent = dilation * (kernel - 1) + 1
    span = n + 2 * padding - extent
    if span < 0:
        spread = f" (kernel {kernel} with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(
            f"output_size: kernel {extent}{spread} is larger than the padded input "
            f"{n} + 2*{padding} = {n + 2 * padding}")
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= n + padding:
            out -= 1
        return out
    return span // stride + 1


def conv_transpose_output_size(n, kernel, *, stride=1, padding=0, output_padding=0,
                               dilation=1):
    """Length of a transposed convolution's output along one axis.

    ``(n - 1) s - 2p + d (k - 1) + output_padding + 1``: the size of the input
    whose convolution (same kernel, stride, padding and dilation) has length
    ``n``. Several sizes convolve down to the same ``n`` when ``s > 1``;
    ``output_padding`` (less than the stride or the dilation, as in PyTorch)
    picks one of them.

    Parameters
    ----------
    n, kernel, stride, dilation : int, positive
    padding, output_padding : int, at least 0

    Returns
    -------
    int

    Examples
    --------
    >>> from cnnlib import functional as F
    >>> F.conv_transpose_output_size(32, 4, stride=2, padding=1)
    64
    >>> F.output_size(64, 4, stride=2, padding=1)
    32
    """
    name = "conv_transpose_output_size"
    n = check_int(f"{name}: n", n)
    kernel = check_int(f"{name}: kernel", kernel)
    stride = check_int(f"{name}: stride", stride)
    padding = check_int(f"{name}: padding", padding, minimum=0)
    output_padding = check_int(f"{name}: output_padding", output_padding, minimum=0)
    dilation = check_int(f"{name}: dilation", dilation)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"{name}: output_padding must be smaller than the stride or the "
                         f"dilation, got output_padding {output_padding} with stride {stride} "
                         f"and dilation {dilation}")
    out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"{name}: padding {padding} removes the whole output (input {n}, "
                         f"kernel {kernel}, stride {stride}); it would have size {out}")
    return out


def window_geometry(name, x, kernel, stride, padding, ceil_mode=False, dilation=(1, 1)):
    """Validate a sliding-window call and return its output size and padding.

    Returns ``(ho, wo, (pad_top, pad_bottom, pad_left, pad_right))``; the
    bottom/right padding includes what ceil mode needs for a partial window.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = x.shape[2:]
    if h < 1 or w < 1:
        raise ValueError(f"{name}: input has an empty spatial size {h}x{w}")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        spread = f" (kernel {kh}x{kw}, dilation {dh}x{dw})" if dh * dw > 1 else ""
        raise ValueError(
            f"{name}: window {eh}x{ew}{spread} is larger than the padded input "
            f"{h + 2 * ph}x{w + 2 * pw} (input {h}x{w}, padding {ph}x{pw})")
    ho = output_size(h, kh, stride=sh, padding=ph, dilation=dh, ceil_mode=ceil_mode)
    wo = output_size(w, kw, stride=sw, padding=pw, dilation=dw, ceil_mode=ceil_mode)
    extra_h = max(0, (ho - 1) * sh + eh - (h + 2 * ph))
    extra_w = max(0, (wo - 1) * sw + ew - (w + 2 * pw))
    return ho, wo, (ph, ph + extra_h, pw, pw + extra_w)


def pad2d(x, pads, value=0.0):
    """Pad the last two axes of ``x`` (N, C, H, W), keeping its memory layout."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape
    out = np.full_like(x, value, shape=(n, c, h + top + bottom, w + left + right))
    out[:, :, top: top + h, left: left + w] = x
    return out


def batch_last(x):
    """(N, C, H, W) -> (C, H, W, N) view, the batch axis moved to the end."""
    return x.transpose(1, 2, 3, 0)


def batch_first(a):
    """(C, H, W, N) -> (N, C, H, W) view; undoes :func:`batch_last`."""
    return a.transpose(3, 0, 1, 2)


def batch_innermost(x):
    """``x`` (N, C, H, W) stored with the batch innermost; a copy only if needed."""
    return batch_first(np.ascontiguousarray(batch_last(x)))


def shifted(a, offset, stride, out_size):
    """View of ``a`` (N, C, H, W) seen through one kernel offset.

    Element ``(n, c, i, j)`` of the view is ``a[n, c, di + i*sh, dj + j*sw]``
    for ``offset = (di, dj)``: the input that this offset of the kernel
    touches at output position ``(i, j)``. Shape (N, C, ho, wo).
    """
    (di, dj), (sh, sw), (ho, wo) = offset, stride, out_size
    return a[:, :, di: di + sh * (ho - 1) + 1: sh, dj: dj + sw * (wo - 1) + 1: sw]


def offsets(kernel):
    """Kernel offsets ``(di, dj)`` in row-major order."""
    return [(di, dj) for di in range(kernel[0]) for dj in range(kernel[1])]


def window_starts(n, kernel, *, stride=1, padding=0, ceil_mode=False):
    """Start of every window along one axis, found by stepping, not by formula.

    The first window starts at 0 (the top-left of the padded input) and each
    next one ``stride`` further on, as long as it fits inside the padded
    input. In ``ceil_mode`` one more, partial window is added when the full
    ones leave cells uncovered at the end; then the last window is dropped
    if it starts past the input and its left padding (PyTorch's rule).

    Parameters
    ----------
    n, kernel, stride, padding : int
    ceil_mode : bool

    Returns
    -------
    starts : ndarray of int, shape (n_out,)
        Start indices in padded coordinates (padding cells come first).
    """
    n = check_int("window_starts: n", n)
    kernel = check_int("window_starts: kernel", kernel)
    stride = check_int("window_starts: stride", stride)
    padding = check_int("window_starts: padding", padding, minimum=0)
    padded = n + 2 * padding
    if kernel > padded:
        raise ValueError(f"window_starts: kernel {kernel} is larger than the padded "
                         f"input {n} + 2*{padding} = {padded}")
    starts = []
    start = 0
    while start + kernel <= padded:
        starts.append(start)
        start += stride
    if ceil_mode:
        if starts[-1] + kernel < padded:
            starts.append(start)
        if starts[-1] >= n + padding:
            starts.pop()
    return np.array(starts)


def coverage(n, kernel, *, stride=1, padding=0, ceil_mode=False):
    """How many windows cover each cell of the padded input, along one axis.

    Returns
    -------
    counts : ndarray of int, shape (n + 2 * padding,)
        In 2-D the count of cell (r, c) is ``counts[r] * counts[c]``.
    """
    counts = np.zeros(n + 2 * padding, dtype=int)
    for s in window_starts(n, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode):
        counts[s: s + kernel] += 1
    return counts


def grow_receptive_field(windows, start=(1, 1)):
    """(size, jump) before and after each window of ``windows``, by the rule of
    :func:`cnnlib.tools.shapes.receptive_field`.

    Parameters
    ----------
    windows : list of (kernel, stride, dilation)
    start : (size, jump) before the first window

    Returns
    -------
    list of (size, jump), ``len(windows) + 1`` long, starting with ``start``
    """
    size, jump = start
    out = [(size, jump)]
    for k, s, d in windows:
        size = _exact(size + d * (k - 1) * jump)
        jump = _exact(jump * s)
        out.append((size, jump))
    return out


def _exact(value):
    """A whole Fraction as an int; anything else unchanged."""
    return int(value) if isinstance(value, Fraction) and value.denominator == 1 else value
