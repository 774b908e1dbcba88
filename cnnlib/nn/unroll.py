"""A convolution's geometry, its input unrolled along the width, and the chunks of output rows.

The layout. For a chunk of output rows ``i0 .. i0 + R - 1``, the rows of the
padded input that they read are written into one buffer, unrolled along the
width and stored channel by channel::

    U[g, c, dj, q, m, j, n] = x[n, g * Cg + c, (i0 + m) * sh + q - ph, j * sw + dj * dw - pw]

(zero where that falls in the padding; ``Cg = C // groups``). An input row is
copied once for each kernel column ``dj``, shifted by that column. ``q`` is
the row's phase modulo the stride ``sh``: with stride 2 the even and the odd
rows are kept apart (only the phases that some kernel row reads are kept,
:attr:`ConvGeometry.phases`), and with stride 1 there is one phase.

Why this order. Kernel row ``di`` meets, at output rows ``i0, i0 + 1, ...``,
the padded rows ``i * sh + di * dh``: all in phase ``di * dh mod sh``, one
after another. So for a whole chunk, the im2col matrix of kernel row ``di``,
with rows ``(c, dj)`` and columns ``(i, j, n)``, is a rectangle of ``U`` that
NumPy can hand to the BLAS as it is, a view with no copy
(:func:`kernel_row`). A convolution of the chunk is KH matrix products, one
per kernel row, each as wide as the chunk. Every input number is stored
``KW / sw`` times instead of the ``KH KW`` times of a whole im2col matrix.
"""

from dataclasses import dataclass

import numpy as np

from cnnlib.checks import pair
from cnnlib.nn.windows import conv_transpose_output_size, window_geometry


@dataclass(frozen=True)
class ConvGeometry:
    """The sizes of one convolution: input (n, c, h, w), kernel (f, c // groups, kh, kw).

    The output is (n, f, ho, wo). ``ph, pw`` may be negative inside the
    engine (a crop), which the input gradient's "full" correlation needs
    when the padding exceeds the kernel's reach.
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

    @property
    def phases(self):
        """The row phases modulo ``sh`` that the kernel rows read, in increasing order."""
        return tuple(sorted({di * self.dh % self.sh for di in range(self.kh)}))

    def rows_per_phase(self, r):
        """Unrolled rows of one phase that a chunk of ``r`` output rows needs."""
        return r + (self.kh - 1) * self.dh // self.sh

    def row_bytes(self, itemsize):
        """Bytes of one padded input row unrolled along the width: ``C KW W' N`` numbers."""
        return self.c * self.kw * self.wo * self.n * itemsize

    def chunks(self, itemsize, chunk_bytes, *, matrices=False):
        """Output-row ranges ``(i0, i1)`` whose buffers fit in ``chunk_bytes``.

        A chunk of R output rows holds, in each phase, ``R`` unrolled input
        rows plus a halo of ``(KH - 1) dh // sh`` more, and R rows of partial
        sums, ``F W' N`` numbers each. With ``matrices`` it also holds a
        whole im2col matrix for its rows (KH unrolled rows per output row):
        the copied patches of a thin layer, or the patch gradients of the
        scattered input gradient. At least one row per chunk.
        """
        row = self.row_bytes(itemsize)
        phases = len(self.phases)
        per_row = phases * row + self.f * self.wo * self.n * itemsize
        per_row += self.kh * row if matrices else 0
        halo = phases * (self.rows_per_phase(1) - 1) * row
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


def _pieces(geo, i0, rows):
    """For each phase and kernel column: the rectangle of unrolled rows that lies inside the input.

    Yields ``(qi, dj, (m0, m1), (j0, j1), rows_in, cols_in)``: unrolled rows
    ``m0:m1`` and columns ``j0:j1`` of phase ``qi`` and kernel column ``dj``
    hold the input rows ``rows_in`` and columns ``cols_in`` (slices).
    """
    for qi, q in enumerate(geo.phases):
        first = i0 * geo.sh + q - geo.ph  # the input row of m = 0
        m0, m1 = inside_range(geo.h, rows, geo.sh, first)
        a0 = first + m0 * geo.sh
        rows_in = slice(a0, a0 + (m1 - m0 - 1) * geo.sh + 1, geo.sh)
        for dj in range(geo.kw):
            offset = dj * geo.dw - geo.pw
            j0, j1 = inside_range(geo.w, geo.wo, geo.sw, offset)
            b0 = j0 * geo.sw + offset
            cols_in = slice(b0, b0 + (j1 - j0 - 1) * geo.sw + 1, geo.sw)
            yield qi, dj, (m0, m1), (j0, j1), rows_in, cols_in


def unroll_rows(xb, geo, i0, out):
    """Write the input rows that output rows ``i0, i0 + 1, ...`` read into ``out``, unrolled.

    Parameters
    ----------
    xb : ndarray, shape (C, H, W, N)
    geo : ConvGeometry
    i0 : int
        First output row of the chunk.
    out : ndarray, shape (groups, C // groups, KW, len(geo.phases), M, W', N)
        Receives ``U`` of the module docstring, for ``m < M``.
    """
    src = xb.reshape(geo.groups, geo.c // geo.groups, geo.h, geo.w, geo.n)
    for qi, dj, (m0, m1), (j0, j1), rows_in, cols_in in _pieces(geo, i0, out.shape[4]):
        target = out[:, :, dj, qi]
        target[:, :, :m0] = 0
        target[:, :, m1:] = 0
        target[:, :, m0:m1, :j0] = 0
        target[:, :, m0:m1, j1:] = 0
        if m1 > m0 and j1 > j0:
            target[:, :, m0:m1, j0:j1] = src[:, :, rows_in, cols_in]


def fold_rows(rows, geo, i0, xb):
    """Add unrolled rows back onto the input positions they came from: the adjoint of
    :func:`unroll_rows` (terms that fall in the padding are dropped).

    Parameters
    ----------
    rows : ndarray, shape (groups, C // groups, KW, len(geo.phases), M, W', N)
    geo : ConvGeometry
    i0 : int
    xb : ndarray, shape (C, H, W, N), C-contiguous; updated in place
    """
    dst = xb.reshape(geo.groups, geo.c // geo.groups, geo.h, geo.w, geo.n)
    for qi, dj, (m0, m1), (j0, j1), rows_in, cols_in in _pieces(geo, i0, rows.shape[4]):
        if m1 > m0 and j1 > j0:
            dst[:, :, rows_in, cols_in] += rows[:, :, dj, qi, m0:m1, j0:j1]


def unrolled_buffer(geo, most_rows, dtype):
    """An empty buffer for the unrolled rows of up to ``most_rows`` output rows.

    Each (M, W', N) block is followed by 64 unused bytes: a matrix whose rows
    lie a power of two bytes apart (1024 numbers, say) makes the BLAS slower
    by up to a fifth, as its rows compete for the same cache sets.
    """
    m = geo.rows_per_phase(most_rows)
    size, pad = m * geo.wo * geo.n, max(1, 64 // np.dtype(dtype).itemsize)
    shape = (geo.groups, geo.c // geo.groups, geo.kw, len(geo.phases))
    return np.empty((*shape, size + pad), dtype)[..., :size].reshape(*shape, m, geo.wo, geo.n)


def chunk_rows(buffer, geo, i0, i1):
    """The part of ``buffer`` that the chunk of output rows ``i0 .. i1 - 1`` uses."""
    return buffer[:, :, :, :, :geo.rows_per_phase(i1 - i0)]


def unrolled_chunks(xb, geo, chunks, dtype):
    """Yield ``(i0, i1, rows)`` for each chunk of output rows, with its unrolled input rows.

    Every chunk reuses one buffer (:func:`unrolled_buffer`), so its pages
    are touched once.
    """
    buffer = unrolled_buffer(geo, max(i1 - i0 for i0, i1 in chunks), dtype)
    for i0, i1 in chunks:
        rows = chunk_rows(buffer, geo, i0, i1)
        unroll_rows(xb, geo, i0, rows)
        yield i0, i1, rows


def kernel_row(rows, geo, di, r):
    """The im2col matrix of kernel row ``di`` for a chunk of ``r`` output rows, as a view.

    ``rows`` (groups, Cg, KW, phases, M, W', N) -> (groups, Cg KW, r W' N):
    row ``(c, dj)`` and column ``(i, j, n)`` hold the input that weight
    ``w[f, c, di, dj]`` meets at output ``(i0 + i, j)`` of image n.
    """
    qi = geo.phases.index(di * geo.dh % geo.sh)
    m0 = di * geo.dh // geo.sh
    block = rows[:, :, :, qi, m0: m0 + r]
    g, cg, kw = block.shape[:3]
    return block.reshape(g, cg * kw, r * geo.wo * geo.n)
