"""Sliding-window geometry and memory layout shared by convolution and pooling.

Memory layout: an array's shape says nothing about how its elements sit in
memory. The convolutions store their results with the batch as the
innermost (fastest-varying) index, like the ``(C, H, W, N)`` layout of
Krizhevsky's cuda-convnet, and return them as ``(N, C, H, W)`` views. Every
slice that a kernel offset or pooling window takes then reads or writes runs
of N contiguous numbers, which keeps the copies, sums and comparisons fast.
Pooling keeps the layout of its input. Nothing else changes: indexing and
arithmetic see an ordinary (N, C, H, W) array.

The convolutions also unroll their input along the width, row-major (see
:func:`unroll_rows`): the im2col matrix of one output row is then a block of
consecutive unrolled rows (:func:`row_blocks`), and :class:`ConvGeometry`
splits the output rows into chunks that fit a memory budget.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.checks import check_int, pair


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


@dataclass(frozen=True)
class ConvGeometry:
    """The sizes of one convolution: input (n, c, h, w), kernel (f, c // groups, kh, kw).

    The output is (n, f, ho, wo). ``ph, pw`` may be negative inside this module (a crop), which the
    input gradient's "full" correlation needs when the padding exceeds the
    kernel's reach.
    """

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    ph: int = 0
    pw: int = 0
    dh: int = 1
    dw: int = 1
    groups: int = 1

    @property
    def ho(self):
        return (self.h + 2 * self.ph - self.dh * (self.kh - 1) - 1) // self.sh + 1

    @property
    def wo(self):
        return (self.w + 2 * self.pw - self.dw * (self.kw - 1) - 1) // self.sw + 1

    @property
    def span(self):
        """Input rows that one output row reads."""
        return self.dh * (self.kh - 1) + 1

    def row_bytes(self, itemsize):
        """Bytes of one padded input row unrolled along the width."""
        return self.c * self.kw * self.wo * self.n * itemsize

    def chunks(self, itemsize, chunk_bytes, *, matrices=False):
        """Output-row ranges ``(i0, i1)`` whose buffers fit in ``chunk_bytes``.

        A chunk of R output rows holds ``(R - 1) * sh + span`` unrolled input
        rows and R products for the weight gradient; with ``matrices`` also
        R im2col blocks (KH unrolled rows each), which exist as copies when
        the blocks are not views (dilation, the scattered input gradient).
        """
        row = self.row_bytes(itemsize)
        per_row = (self.sh + (self.kh if matrices else 0)) * row
        per_row += self.f * (self.c // self.groups) * self.kh * self.kw * itemsize
        halo = max(self.span - self.sh, 0) * row
        rows = int(max(1, (chunk_bytes - halo) // max(per_row, 1)))
        return [(i, min(i + rows, self.ho)) for i in range(0, self.ho, rows)]


def conv_geometry(name, x_shape, w_shape, stride, padding, dilation, groups):
    """Validate the window of a convolution and return its :class:`ConvGeometry`."""
    sh, sw = pair(stride, f"{name}: stride")
    ph, pw = pair(padding, f"{name}: padding", minimum=0)
    dh, dw = pair(dilation, f"{name}: dilation")
    n, c, h, w = x_shape
    window_geometry(name, np.empty((0, 0, h, w)), w_shape[2:], (sh, sw), (ph, pw),
                    dilation=(dh, dw))
    return ConvGeometry(n, c, h, w, w_shape[0], *w_shape[2:], sh, sw, ph, pw, dh, dw, groups)


def transpose_geometry(name, x_shape, w_shape, stride, padding, output_padding):
    """The :class:`ConvGeometry` of the convolution whose input gradient a transposed one is.

    Its input is the transposed convolution's output (N, C_out, H_out,
    W_out), its output is ``x_shape`` and its kernel is (C_in, C_out, KH, KW).
    """
    sh, sw = pair(stride, f"{name}: stride")
    ph, pw = pair(padding, f"{name}: padding", minimum=0)
    oh, ow = pair(output_padding, f"{name}: output_padding", minimum=0)
    n, c_in, h, w = x_shape
    ho = conv_transpose_output_size(h, w_shape[2], stride=sh, padding=ph, output_padding=oh)
    wo = conv_transpose_output_size(w, w_shape[3], stride=sw, padding=pw, output_padding=ow)
    return ConvGeometry(n, w_shape[1], ho, wo, c_in, *w_shape[2:], sh, sw, ph, pw)


def inside_range(n, n_out, stride, offset):
    """The outputs ``j0 <= j < j1`` whose input ``j * stride + offset`` lies in ``[0, n)``."""
    j0 = max(0, -(offset // stride))
    j1 = min(n_out, (n - 1 - offset) // stride + 1)
    return j0, max(j0, j1)


def unroll_rows(xb, geo, r0, out):
    """Write padded input rows ``r0, r0 + 1, ...`` into ``out``, unrolled along the width.

    Parameters
    ----------
    xb : ndarray, shape (C, H, W, N)
    geo : ConvGeometry
    r0 : int
        First row, in padded coordinates (input row ``r - ph``).
    out : ndarray, shape (groups, rows, C // groups, KW, W', N)
        Receives ``out[g, r, c, dj, j, n] = x[n, g * C // groups + c, r0 + r - ph,
        j * sw + dj * dw - pw]``, zero where that falls in the padding.
    """
    g, cg, r1 = geo.groups, geo.c // geo.groups, r0 + out.shape[1]
    src = xb.reshape(g, cg, geo.h, geo.w, geo.n).transpose(0, 2, 1, 3, 4)  # (g, H, Cg, W, N)
    t0 = min(max(geo.ph - r0, 0), r1 - r0)  # the rows t0 .. t1 - 1 lie inside the input
    t1 = min(max(geo.ph + geo.h - r0, t0), r1 - r0)
    a0, a1 = r0 + t0 - geo.ph, r0 + t1 - geo.ph
    out[:, :t0] = 0
    out[:, t1:] = 0
    for dj in range(geo.kw):
        offset = dj * geo.dw - geo.pw
        j0, j1 = inside_range(geo.w, geo.wo, geo.sw, offset)
        target = out[:, t0:t1, :, dj]
        target[:, :, :, :j0] = 0
        target[:, :, :, j1:] = 0
        if j1 > j0:
            q0 = j0 * geo.sw + offset
            target[:, :, :, j0:j1] = src[:, a0:a1, :, q0: q0 + (j1 - j0 - 1) * geo.sw + 1: geo.sw]


def unrolled_chunks(xb, geo, chunks, dtype):
    """Yield ``(i0, i1, rows)`` for each chunk of output rows, with its unrolled input rows.

    Every chunk reuses one buffer, so its pages are touched once. Each
    (W', N) block of the buffer is followed by 64 unused bytes: a matrix
    whose rows lie a power of two bytes apart (1024 numbers, say) makes the
    BLAS slower by up to a fifth, as its rows compete for the same cache sets.
    """
    most = max(i1 - i0 for i0, i1 in chunks)
    m, pad = geo.wo * geo.n, max(1, 64 // np.dtype(dtype).itemsize)
    shape = (geo.groups, (most - 1) * geo.sh + geo.span, geo.c // geo.groups, geo.kw)
    buffer = np.empty((*shape, m + pad), dtype)[..., :m].reshape(*shape, geo.wo, geo.n)
    for i0, i1 in chunks:
        rows = buffer[:, :(i1 - i0 - 1) * geo.sh + geo.span]
        unroll_rows(xb, geo, i0 * geo.sh, rows)
        yield i0, i1, rows


def row_blocks(rows, geo):
    """The im2col matrix of every output row of a chunk, from its unrolled input rows.

    ``rows`` (groups, (R - 1) * sh + span, C // groups, KW, W', N) ->
    (groups, R, KH * C // groups * KW, W' * N); block ``i`` is the slab of
    rows ``i * sh + di * dh`` for ``di = 0 .. KH - 1``, a view when ``dh``
    is 1 and a copy (made by ``reshape``) otherwise.
    """
    windows = sliding_window_view(rows, geo.span, axis=1)[:, ::geo.sh, ..., ::geo.dh]
    blocks = np.moveaxis(windows, -1, 2)  # (g, R, KH, Cg, KW, W', N)
    k = geo.kh * geo.c // geo.groups * geo.kw
    return blocks.reshape(*blocks.shape[:2], k, geo.wo * geo.n)


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
