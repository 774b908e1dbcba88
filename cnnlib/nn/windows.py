"""Sliding-window geometry and memory layout shared by convolution and pooling.

Memory layout: an array's shape says nothing about how its elements sit in
memory. The convolutions store their results with the batch as the
innermost (fastest-varying) index, like the ``(C, H, W, N)`` layout of
Krizhevsky's cuda-convnet, and return them as ``(N, C, H, W)`` views. Every
slice that a kernel offset or pooling window takes then reads or writes runs
of N contiguous numbers, which keeps the copies, sums and comparisons fast.
Pooling keeps the layout of its input. Nothing else changes: indexing and
arithmetic see an ordinary (N, C, H, W) array.
"""

import numpy as np

from cnnlib.checks import check_int


def output_size(n, kernel, *, stride=1, padding=0, ceil_mode=False):
    """Length of a sliding-window output along one axis.

    ``floor((n + 2p - k) / s) + 1``, or with ``ceil`` in place of ``floor``
    when ``ceil_mode`` is set. In ceil mode the last window must still start
    inside the input (or its left padding), which is PyTorch's rule.

    Parameters
    ----------
    n, kernel, stride : int, positive
    padding : int, at least 0 (and at most half the kernel in ceil mode)

    Returns
    -------
    int
    """
    n = check_int("output_size: n", n)
    kernel = check_int("output_size: kernel", kernel)
    stride = check_int("output_size: stride", stride)
    padding = check_int("output_size: padding", padding, minimum=0)
    if ceil_mode and padding > kernel // 2:
        raise ValueError(f"output_size: padding must be at most half the kernel in ceil "
                         f"mode, got padding {padding} for kernel {kernel}")
    span = n + 2 * padding - kernel
    if span < 0:
        raise ValueError(
            f"output_size: kernel {kernel} is larger than the padded input "
            f"{n} + 2*{padding} = {n + 2 * padding}")
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= n + padding:
            out -= 1
        return out
    return span // stride + 1


def window_geometry(name, x, kernel, stride, padding, ceil_mode=False):
    """Validate a sliding-window call and return its output size and padding.

    Returns ``(ho, wo, (pad_top, pad_bottom, pad_left, pad_right))``; the
    bottom/right padding includes what ceil mode needs for a partial window.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    h, w = x.shape[2:]
    if h < 1 or w < 1:
        raise ValueError(f"{name}: input has an empty spatial size {h}x{w}")
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"{name}: window {kh}x{kw} is larger than the padded input "
            f"{h + 2 * ph}x{w + 2 * pw} (input {h}x{w}, padding {ph}x{pw})")
    ho = output_size(h, kh, stride=sh, padding=ph, ceil_mode=ceil_mode)
    wo = output_size(w, kw, stride=sw, padding=pw, ceil_mode=ceil_mode)
    extra_h = max(0, (ho - 1) * sh + kh - (h + 2 * ph))
    extra_w = max(0, (wo - 1) * sw + kw - (w + 2 * pw))
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
