"""The convolution engine: products over unrolled rows, a scattered input gradient, depthwise paths.

Arrays here are stored batch innermost, (C, H, W, N) (see
:mod:`cnnlib.nn.windows`), and the unrolled rows are laid out as
:mod:`cnnlib.nn.unroll` describes. Which path a convolution takes depends
only on its shape:

* **Depthwise** (one input and one output channel per group), where a matrix
  product would have a single row. With stride and dilation 1 down the rows,
  the input is unrolled row by row instead of channel by channel, so that the
  ``KH KW`` patch rows of each output row are one view, and each channel and
  output row is one matrix-vector product (``depthwise rows``); its input
  gradient is the correlation below. Otherwise (stride 2, dilation) the
  output is ``KH KW`` shifted slices of the padded input, each times its
  channel's weight, added up a block of channels at a time; the gradients
  are the same slices against ``dy``.
* Otherwise the **forward pass** and the **weight gradient** are matrix
  products over a chunk of output rows at a time: KH products per chunk, one
  per kernel row, each over a view of the unrolled rows
  (:func:`~cnnlib.nn.unroll.kernel_row`) with inner dimension ``Cg KW``. A
  *thin* layer, ``Cg KW < THIN`` (an RGB input, say), would give products
  too thin for the BLAS to run fast, so its KH views are first copied into
  one patch matrix, and one product per chunk has inner dimension
  ``KH Cg KW``.
* The **input gradient** with stride 1 and at least :data:`CORRELATION_CHANNELS`
  input channels per group is a convolution of ``dy`` with the flipped
  kernel, padded by ``d (k - 1) - p`` (negative: a crop), computed by the
  forward code. Otherwise (strides, few channels) each chunk's patch
  gradients come from one product, ``W^T dy``, and are added back onto the
  unrolled rows they belong to, which are folded onto the input: col2im,
  a chunk at a time.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.nn.unroll import (ConvGeometry, chunk_rows, fold_rows, kernel_row, unroll_rows,
                              unrolled_buffer, unrolled_chunks)

matmul = np.matmul
"""Every matrix product of the engine goes through this name, so that a benchmark can time the
products alone (``benchmarks/conv_scaling.py`` does)."""

THIN = 32
"""A layer with ``C // groups * KW`` below this multiplies one copied patch matrix per chunk."""

CORRELATION_CHANNELS = 16
"""Input channels per group from which a stride-1 input gradient is a full correlation."""


def is_depthwise(geo):
    """One input and one output channel per group."""
    return geo.c == geo.f == geo.groups


def is_thin(geo):
    """Kernel-row products would be too thin (and there is more than one kernel row)."""
    return geo.kh > 1 and geo.c // geo.groups * geo.kw < THIN


def has_row_windows(geo):
    """Consecutive output rows read consecutive input rows (stride and dilation 1 along H)."""
    return geo.sh == geo.dh == 1


def paths(geo):
    """The paths of the forward pass and of the input gradient: names, for tables and tests."""
    if is_depthwise(geo):
        if not has_row_windows(geo):
            return "depthwise", "depthwise"
        return "depthwise rows", "correlation" if geo.sw == 1 else "depthwise"
    forward = "patch matrix" if is_thin(geo) else "kernel rows"
    correlation = geo.sh == geo.sw == 1 and geo.c // geo.groups >= CORRELATION_CHANNELS
    return forward, "correlation" if correlation else "scatter"


def _merged(a, shape):
    """``a.reshape(shape)``, refusing a copy: the engine writes through these views."""
    view = a.reshape(shape)
    if not np.may_share_memory(view, a):
        raise AssertionError(f"conv engine: reshaping {a.shape} to {shape} would copy")
    return view


def _kernel_matrix(w, groups):
    """``w`` (F, Cg, KH, KW) as (groups, F // groups, KH Cg KW), columns in (di, c, dj) order."""
    f, cg, kh, kw = w.shape
    w = w.reshape(groups, f // groups, cg, kh, kw).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(w.reshape(groups, f // groups, kh * cg * kw))


def _per_row(a, geo, channels):
    """(channels, H', W', N) storage as (groups, channels // groups, H', W' N)."""
    return a.reshape(geo.groups, channels // geo.groups, geo.ho, geo.wo * geo.n)


def _columns(a, i0, i1):
    """Rows ``i0:i1`` of a (groups, channels, H', W' N) array as (groups, channels, R W' N)."""
    g, ch, _, m = a.shape
    return _merged(a[:, :, i0:i1], (g, ch, (i1 - i0) * m))


def _patch_matrix(rows, geo, r, buffer):
    """Copy the KH kernel-row views of a chunk into one (groups, KH Cg KW, r W' N) matrix."""
    k = geo.c // geo.groups * geo.kw
    cols = r * geo.wo * geo.n
    for di in range(geo.kh):
        buffer[:, di, :, :cols] = kernel_row(rows, geo, di, r)
    return _merged(buffer[..., :cols], (geo.groups, geo.kh * k, cols))


def forward(xb, w, b, geo, chunk_bytes, dtype):
    """Convolve ``xb`` (C, H, W, N); returns y stored (F, H', W', N), and the rows.

    The rows are the unrolled input when it fitted in one chunk (the
    backward pass reuses it), else None; for depthwise, the padded input.
    """
    if is_depthwise(geo) and has_row_windows(geo):
        return depthwise_rows_forward(xb, w, b, geo, chunk_bytes, dtype)
    if is_depthwise(geo):
        xp = _padded(xb, geo, dtype)
        return depthwise_forward(xp, w, b, geo, dtype), xp
    g, fg, k = geo.groups, geo.f // geo.groups, geo.c // geo.groups * geo.kw
    thin = is_thin(geo)
    wk = _kernel_matrix(w.astype(dtype, copy=False), g)
    y = np.empty((geo.f, geo.ho, geo.wo, geo.n), dtype)
    y_rows = _per_row(y, geo, geo.f)
    chunks = geo.chunks(y.itemsize, chunk_bytes, matrices=thin)
    most = max(i1 - i0 for i0, i1 in chunks) * geo.wo * geo.n
    if thin:
        patches = np.empty((g, geo.kh, k, most), dtype)
    else:
        partial = np.empty((g, fg, most), dtype) if geo.kh > 1 else None
    for i0, i1, rows in unrolled_chunks(xb, geo, chunks, dtype):
        out = _columns(y_rows, i0, i1)
        if thin:
            matmul(wk, _patch_matrix(rows, geo, i1 - i0, patches), out=out)
        else:
            matmul(wk[..., :k], kernel_row(rows, geo, 0, i1 - i0), out=out)
            for di in range(1, geo.kh):
                term = matmul(wk[..., di * k: (di + 1) * k], kernel_row(rows, geo, di, i1 - i0),
                              out=partial[..., :out.shape[2]])
                out += term
        if b is not None:
            out += b.astype(dtype, copy=False).reshape(g, fg, 1)
    return y, (rows if len(chunks) == 1 else None)


def weight_grad(xb, rows, dyb, geo, chunk_bytes, dtype):
    """Gradient of the kernel, (F, C // groups, KH, KW), from the input and ``dyb`` (F, H', W', N).

    ``rows`` is the whole unrolled input (the padded input for depthwise) if
    the forward pass kept it, else None and it is rebuilt from ``xb``.
    """
    if is_depthwise(geo) and has_row_windows(geo):
        return depthwise_rows_weight_grad(xb, rows, dyb, geo, chunk_bytes, dtype)
    if is_depthwise(geo):
        xp = _padded(xb, geo, dtype) if rows is None else rows
        return depthwise_weight_grad(xp, dyb, geo, dtype)
    g, fg, cg = geo.groups, geo.f // geo.groups, geo.c // geo.groups
    k, thin = cg * geo.kw, is_thin(geo)
    total = np.empty((g, fg, geo.kh * k), dtype)
    dy_rows = _per_row(dyb, geo, geo.f)
    if rows is None:
        chunks = geo.chunks(np.dtype(dtype).itemsize, chunk_bytes, matrices=thin)
        pieces = unrolled_chunks(xb, geo, chunks, dtype)
    else:
        chunks, pieces = [(0, geo.ho)], [(0, geo.ho, rows)]
    most = max(i1 - i0 for i0, i1 in chunks) * geo.wo * geo.n
    patches = np.empty((g, geo.kh, k, most), dtype) if thin else None
    part = np.empty_like(total)
    for i0, i1, chunk in pieces:
        target = total if i0 == 0 else part
        dyc = _columns(dy_rows, i0, i1)
        if thin:
            matmul(dyc, _patch_matrix(chunk, geo, i1 - i0, patches).transpose(0, 2, 1),
                   out=target)
        else:
            for di in range(geo.kh):
                matmul(dyc, kernel_row(chunk, geo, di, i1 - i0).transpose(0, 2, 1),
                       out=target[..., di * k: (di + 1) * k])
        if i0:
            total += part
    total = total.reshape(g, fg, geo.kh, cg, geo.kw).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(total.reshape(geo.f, cg, geo.kh, geo.kw))


def _flipped(w, groups):
    """The kernel of the input gradient: (F, Cg, KH, KW) -> (C, F // groups, KH, KW), flipped."""
    f, cg, kh, kw = w.shape
    w = w.reshape(groups, f // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return w.reshape(groups * cg, f // groups, kh, kw)


def input_grad(dyb, w, geo, chunk_bytes, dtype):
    """Gradient of the input, stored (C, H, W, N), from ``dyb`` (F, H', W', N)."""
    _, path = paths(geo)
    if path == "depthwise":
        return depthwise_input_grad(dyb, w, geo, dtype)
    if path == "correlation":
        full = ConvGeometry(geo.n, geo.f, geo.ho, geo.wo, geo.c, geo.kh, geo.kw, 1, 1,
                            geo.dh * (geo.kh - 1) - geo.ph, geo.dw * (geo.kw - 1) - geo.pw,
                            geo.dh, geo.dw, geo.groups)
        return forward(dyb, _flipped(w, geo.groups), None, full, chunk_bytes, dtype)[0]
    g, k = geo.groups, geo.c // geo.groups * geo.kw
    wk_t = _kernel_matrix(w.astype(dtype, copy=False), g).transpose(0, 2, 1)  # (g, KH k, Fg)
    dy_rows = _per_row(dyb, geo, geo.f)
    dx = np.zeros((geo.c, geo.h, geo.w, geo.n), dtype)
    chunks = geo.chunks(np.dtype(dtype).itemsize, chunk_bytes, matrices=True)
    most = max(i1 - i0 for i0, i1 in chunks)
    patches = np.empty((g, geo.kh * k, most * geo.wo * geo.n), dtype)
    buffer = unrolled_buffer(geo, most, dtype)
    for i0, i1 in chunks:
        r = i1 - i0
        dyc = _columns(dy_rows, i0, i1)
        d_patches = matmul(wk_t, dyc, out=patches[..., :dyc.shape[2]])
        d_rows = chunk_rows(buffer, geo, i0, i1)
        d_rows[...] = 0
        for di in range(geo.kh):
            target = kernel_row(d_rows, geo, di, r)
            target += d_patches[:, di * k: (di + 1) * k]
        fold_rows(d_rows, geo, i0, dx)
    return dx


DEPTHWISE_BLOCK_BYTES = 2 ** 19
"""The direct depthwise path works through channels in blocks of about this many bytes."""


def _channel_blocks(geo, itemsize):
    """Slices of channels whose padded input and output fit in :data:`DEPTHWISE_BLOCK_BYTES`."""
    padded = (geo.h + 2 * geo.ph) * (geo.w + 2 * geo.pw)
    per_channel = (padded + 2 * geo.ho * geo.wo) * geo.n * itemsize
    step = max(1, DEPTHWISE_BLOCK_BYTES // per_channel)
    return [slice(c, min(c + step, geo.c)) for c in range(0, geo.c, step)]


def _row_major_buffer(geo, most_rows, dtype):
    """Unrolled rows stored row by row, (groups, M, Cg, KW, W', N), and the
    (groups, Cg, KW, 1, M, W', N) view of it that :func:`~cnnlib.nn.unroll.unroll_rows` fills."""
    m, size = geo.rows_per_phase(most_rows), geo.wo * geo.n
    pad = max(1, 64 // np.dtype(dtype).itemsize)  # see unrolled_buffer: no power-of-two strides
    shape = (geo.groups, m, geo.c // geo.groups, geo.kw)
    storage = np.empty((*shape, size + pad), dtype)[..., :size].reshape(*shape, geo.wo, geo.n)
    return storage, storage.transpose(0, 2, 3, 1, 4, 5)[:, :, :, None]


def _row_windows(storage, geo, r):
    """The im2col matrix of each of ``r`` output rows, (groups, r, KH Cg KW, W' N), as a view.

    Stored row by row, the KH input rows that output row i reads are one
    block of consecutive numbers (this needs stride and dilation 1 along H).
    """
    windows = sliding_window_view(storage, geo.kh, axis=1)[:, :r]
    blocks = np.moveaxis(windows, -1, 2)  # (g, r, KH, Cg, KW, W', N)
    k = geo.kh * geo.c // geo.groups * geo.kw
    return _merged(blocks, (geo.groups, r, k, geo.wo * geo.n))


def _row_major_chunks(xb, geo, chunk_bytes, dtype):
    """Yield ``(i0, i1, storage)`` for each chunk of output rows, its rows unrolled row by row."""
    chunks = geo.chunks(np.dtype(dtype).itemsize, chunk_bytes)
    storage, view = _row_major_buffer(geo, max(i1 - i0 for i0, i1 in chunks), dtype)
    for i0, i1 in chunks:
        m = geo.rows_per_phase(i1 - i0)
        unroll_rows(xb, geo, i0, view[:, :, :, :, :m])
        yield i0, i1, storage[:, :m]


def depthwise_rows_forward(xb, w, b, geo, chunk_bytes, dtype):
    """Depthwise convolution with stride 1 down the rows: one matrix-vector product per
    channel and output row, over its KH KW patch rows, which are a view of the unrolled input.

    Returns y stored (C, H', W', N), and the unrolled rows if they fitted in one chunk.
    """
    g, k = geo.groups, geo.kh * geo.kw
    wk = np.ascontiguousarray(w.astype(dtype, copy=False).reshape(g, 1, 1, k))  # for the BLAS
    y = np.empty((geo.c, geo.ho, geo.wo, geo.n), dtype)
    y_rows = y.reshape(g, geo.ho, 1, geo.wo * geo.n)
    count = 0
    for i0, i1, storage in _row_major_chunks(xb, geo, chunk_bytes, dtype):
        matmul(wk, _row_windows(storage, geo, i1 - i0), out=y_rows[:, i0:i1])
        count += 1
    if b is not None:
        y += b.astype(dtype, copy=False).reshape(-1, 1, 1, 1)
    return y, (storage if count == 1 else None)


def depthwise_rows_weight_grad(xb, rows, dyb, geo, chunk_bytes, dtype):
    """Kernel gradient of :func:`depthwise_rows_forward`: ``dy`` of each output row against
    its patch rows, summed over the rows."""
    g = geo.groups
    dy_rows = dyb.reshape(g, geo.ho, 1, geo.wo * geo.n)
    pieces = [(0, geo.ho, rows)] if rows is not None else _row_major_chunks(
        xb, geo, chunk_bytes, dtype)
    total = np.zeros((g, geo.kh * geo.kw), dtype)
    for i0, i1, storage in pieces:
        patches = _row_windows(storage, geo, i1 - i0).transpose(0, 1, 3, 2)
        total += matmul(dy_rows[:, i0:i1], patches)[:, :, 0].sum(axis=1)
    return total.reshape(geo.c, 1, geo.kh, geo.kw)


def _padded(xb, geo, dtype):
    """A new array: ``xb`` (C, H, W, N) with ``ph`` zero rows and ``pw`` zero columns each side."""
    xp = np.zeros((geo.c, geo.h + 2 * geo.ph, geo.w + 2 * geo.pw, geo.n), dtype)
    xp[:, geo.ph: geo.ph + geo.h, geo.pw: geo.pw + geo.w] = xb
    return xp


def _taps(geo):
    """For each kernel offset: ``(di, dj)`` and the slice of the padded input it sees."""
    for di in range(geo.kh):
        r0 = di * geo.dh
        rows = slice(r0, r0 + (geo.ho - 1) * geo.sh + 1, geo.sh)
        for dj in range(geo.kw):
            c0 = dj * geo.dw
            yield di, dj, (slice(None), rows, slice(c0, c0 + (geo.wo - 1) * geo.sw + 1, geo.sw))


def depthwise_forward(xp, w, b, geo, dtype):
    """Depthwise convolution of the padded input ``xp``: ``KH KW`` shifted slices times
    per-channel weights, added up, a block of channels at a time (so that the slices are
    read from the cache)."""
    wt = w.astype(dtype, copy=False).reshape(geo.c, geo.kh, geo.kw)
    y = np.empty((geo.c, geo.ho, geo.wo, geo.n), dtype)
    blocks = _channel_blocks(geo, np.dtype(dtype).itemsize)
    term = np.empty((max(b.stop - b.start for b in blocks), geo.ho, geo.wo, geo.n), dtype)
    for block in blocks:
        out, x_block = y[block], xp[block]
        for di, dj, where in _taps(geo):
            weight = wt[block, di, dj].reshape(-1, 1, 1, 1)
            if di == dj == 0:
                np.multiply(x_block[where], weight, out=out)
            else:
                out += np.multiply(x_block[where], weight, out=term[:len(out)])
    if b is not None:
        y += b.astype(dtype, copy=False).reshape(-1, 1, 1, 1)
    return y


def depthwise_weight_grad(xp, dyb, geo, dtype):
    """Kernel gradient of a depthwise convolution: each tap's slice of the padded input ``xp``
    against ``dy``, summed."""
    dyb = dyb.astype(dtype, copy=False)
    dw = np.empty((geo.c, geo.kh, geo.kw), dtype)
    for block in _channel_blocks(geo, np.dtype(dtype).itemsize):
        x_block, dy_block = xp[block], dyb[block]
        for di, dj, where in _taps(geo):
            dw[block, di, dj] = np.einsum("chwn,chwn->c", x_block[where], dy_block)
    return dw.reshape(geo.c, 1, geo.kh, geo.kw)


def depthwise_input_grad(dyb, w, geo, dtype):
    """Input gradient of a depthwise convolution: ``dy`` times each tap's weight, added back."""
    wt = w.astype(dtype, copy=False).reshape(geo.c, geo.kh, geo.kw)
    dx = np.empty((geo.c, geo.h, geo.w, geo.n), dtype)
    blocks = _channel_blocks(geo, np.dtype(dtype).itemsize)
    most = max(b.stop - b.start for b in blocks)
    buffer = np.empty((most, geo.h + 2 * geo.ph, geo.w + 2 * geo.pw, geo.n), dtype)
    term = np.empty((most, geo.ho, geo.wo, geo.n), dtype)
    for block in blocks:
        count = block.stop - block.start
        dxp = buffer[:count]
        dxp[...] = 0
        for di, dj, where in _taps(geo):
            weight = wt[block, di, dj].reshape(-1, 1, 1, 1)
            dxp[where] += np.multiply(dyb[block], weight, out=term[:count])
        dx[block] = dxp[:, geo.ph: geo.ph + geo.h, geo.pw: geo.pw + geo.w]
    return dx
