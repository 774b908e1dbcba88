"""Convolution and transposed convolution, forward and backward: the public functions.

Arrays are NCHW and convolution weights are ``(C_out, C_in // groups, KH,
KW)``, as in PyTorch. "Convolution" is cross-correlation: the kernel is not
flipped. Results are stored with the batch innermost (see
:mod:`cnnlib.nn.windows`).

How they are computed. :func:`im2col` writes every patch out as a row of one
matrix: ``KH * KW`` copies of the input, 288 MiB for a 32 MiB input with 3x3
kernels. The convolutions here never build that matrix. They unroll the
padded input along the width only (``KW`` copies), a chunk of output rows at
a time, in a layout where the im2col matrix of each kernel row is a view
(:mod:`cnnlib.nn.unroll`). A chunk's output is then KH large matrix
products, one per kernel row, and so is its weight gradient. The chunks fit
a budget of :data:`CHUNK_BYTES` (or the ``chunk_bytes`` keyword), so the
extra memory stays bounded whatever the size of the maps; the backward pass
rebuilds the unrolled rows chunk by chunk, unless the whole input fitted in
one chunk and was kept. The input gradient is a convolution of ``dy`` with
the flipped kernel when the stride is 1, and otherwise the patch gradients
``W^T dy`` added back onto the input (col2im, by chunks). Depthwise
convolutions take a direct path without matrix products.
:mod:`cnnlib.nn.conv_engine` holds the paths and the rule that picks one.
Any chunk size gives the same results up to rounding (products are summed
over chunks in a different order).
"""

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.checks import check_int, check_ndim, check_real, pair
from cnnlib.nn.conv_engine import forward, input_grad, weight_grad
from cnnlib.nn.unroll import ConvGeometry, conv_geometry, transpose_geometry
from cnnlib.nn.windows import (batch_first, batch_innermost, batch_last, offsets, output_size,
                               pad2d, shifted, window_geometry)

CHUNK_BYTES = 8 * 2 ** 20
"""Default budget, in bytes, for the unrolled input and the other buffers of one chunk."""


def check_conv_args(x, w, b, groups=1, *, name="conv2d"):
    """Validate x (N, C, H, W), w (F, C // groups, KH, KW) and b (F,); return them as arrays."""
    x = check_real(name, x)
    w = check_real(name, w, "kernel")
    if b is not None:
        b = check_real(name, b, "bias")
    groups = check_int(f"{name}: groups", groups)
    check_ndim(name, x, 4, "(N, C, H, W)")
    check_ndim(name, w, 4, "(C_out, C_in // groups, KH, KW) kernel", what="kernel")
    if x.shape[1] != w.shape[1] * groups:
        per_group = f" ({w.shape[1]} per group x {groups} groups)" if groups > 1 else ""
        raise ValueError(
            f"{name}: input has {x.shape[1]} channels but the kernel expects "
            f"{w.shape[1] * groups}{per_group} (input {x.shape}, kernel {w.shape})")
    if w.shape[0] % groups:
        raise ValueError(f"{name}: the kernel's {w.shape[0]} output channels are not "
                         f"divisible by groups {groups}")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(
            f"{name}: bias must have shape ({w.shape[0]},) to match "
            f"{w.shape[0]} output channels, got {np.shape(b)}")
    return x, w, b


BUDGET_PER_LAYER_BYTES = 4
"""The default budget is at most this many times the bytes of a layer's input plus output."""


def _budget(chunk_bytes, geo, itemsize):
    """``chunk_bytes`` if given; else :data:`CHUNK_BYTES`, or less for a small layer.

    A layer's buffers should stay in proportion to its arrays: the default
    is at most ``BUDGET_PER_LAYER_BYTES`` times the bytes of the input plus
    the output.
    """
    if chunk_bytes is not None:
        return check_int("conv2d: chunk_bytes", chunk_bytes)
    arrays = geo.n * (geo.c * geo.h * geo.w + geo.f * geo.ho * geo.wo) * itemsize
    return min(CHUNK_BYTES, BUDGET_PER_LAYER_BYTES * arrays)


def _batch_last(x):
    """``x`` (N, C, H, W) as a C-contiguous (C, H, W, N) array.

    A view when ``x`` is already stored batch innermost (as every
    convolution output is), else a copy, which has no ``base``.
    """
    xb = batch_last(x)
    return xb if xb.flags.c_contiguous else np.array(xb, order="C")


@dataclass
class SavedInput:
    """What the backward pass of a convolution needs from its forward pass.

    ``rows`` is the unrolled input when it fitted in one chunk, else None;
    ``xb`` is otherwise the layer's own copy of the input, stored (C, H, W, N).
    """

    geometry: ConvGeometry
    xb: np.ndarray = None
    rows: np.ndarray = None


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, chunk_bytes=None):
    """2-D convolution (cross-correlation), computed in chunks of output rows.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C // groups, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding, dilation : int or (int, int)
        Dilation d spaces the kernel's taps d pixels apart.
    groups : int
        Split the channels into ``groups`` independent convolutions:
        output channel f sees only the input channels of its group.
        ``groups == C`` (with ``F == C``) is a depthwise convolution.
    chunk_bytes : int, optional
        Memory budget of one chunk; defaults to :data:`CHUNK_BYTES`. Any
        value gives the same result.

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
        ``H' = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1``,
        likewise ``W'``. A strided view of storage laid out (F, H', W', N),
        batch innermost (not C-contiguous; ``np.ascontiguousarray`` makes an
        NCHW copy).

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib import functional as F
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.conv2d(x, np.ones((1, 1, 2, 2)), dilation=2)[0, 0]
    array([[20., 24.],
           [36., 40.]])
    """
    y, _ = conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups, chunk_bytes=chunk_bytes, save=False)
    return y


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1,
                   chunk_bytes=None, save=True, name="conv2d"):
    """:func:`conv2d` that also returns what :func:`conv2d_backward_from_saved` needs.

    Returns
    -------
    y : ndarray, shape (N, F, H', W'), as from :func:`conv2d`
    saved : SavedInput, or None when ``save`` is False
        Holds a copy of the input, never a reference to ``x``.
    """
    x, w, b = check_conv_args(x, w, b, groups, name=name)
    geo = conv_geometry(name, x.shape, w.shape, stride, padding, dilation, groups)
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    xb = _batch_last(x)
    if geo.n == 0:  # an empty batch gives an empty output, as in PyTorch
        return np.zeros((0, geo.f, geo.ho, geo.wo), dtype), SavedInput(geo, xb) if save else None
    budget = _budget(chunk_bytes, geo, np.dtype(dtype).itemsize)
    y, rows = forward(xb, w, b, geo, budget, dtype)
    saved = None
    if save and rows is not None:
        saved = SavedInput(geo, rows=rows)
    elif save:  # keep a copy: the caller may change x before the backward pass
        saved = SavedInput(geo, xb if xb.base is None else xb.copy())
    return batch_first(y), saved


def conv2d_backward(dy, x, w, *, stride=1, padding=0, dilation=1, groups=1,
                    needs_input_grad=True, chunk_bytes=None):
    """Gradients of :func:`conv2d` with respect to its input, kernel and bias.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
        Gradient of the loss with respect to the convolution's output.
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C // groups, KH, KW)
    stride, padding, dilation, groups, chunk_bytes : as for :func:`conv2d`
    needs_input_grad : bool, default True
        With False, ``dx`` is not computed and None is returned in its place:
        the first layer of a network never needs the gradient of the data.

    Returns
    -------
    dx : (N, C, H, W), a batch-innermost strided view
    dw : (F, C // groups, KH, KW), C-contiguous
    db : (F,)
    """
    x, w, _ = check_conv_args(x, w, None, groups, name="conv2d_backward")
    geo = conv_geometry("conv2d_backward", x.shape, w.shape, stride, padding, dilation, groups)
    return conv2d_backward_from_saved(dy, SavedInput(geo, _batch_last(x)), w,
                                      needs_input_grad=needs_input_grad,
                                      chunk_bytes=chunk_bytes)


def conv2d_backward_from_saved(dy, saved, w, *, needs_input_grad=True, chunk_bytes=None):
    """:func:`conv2d_backward` given what :func:`conv2d_forward` saved.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
    saved : SavedInput, from :func:`conv2d_forward`
    w : ndarray, shape (F, C // groups, KH, KW), the kernel of that forward pass

    Returns
    -------
    dx, dw, db : as for :func:`conv2d_backward`
    """
    geo = saved.geometry
    dyb = _checked_gradient("conv2d_backward", dy, (geo.n, geo.f, geo.ho, geo.wo))
    dtype = np.result_type(dyb, saved.rows if saved.xb is None else saved.xb, w)
    if geo.n == 0:
        dx = np.zeros((0, geo.c, geo.h, geo.w), dtype) if needs_input_grad else None
        return dx, np.zeros(w.shape, dtype), np.zeros(geo.f, dtype)
    budget = _budget(chunk_bytes, geo, np.dtype(dtype).itemsize)
    db = dyb.sum(axis=(1, 2, 3))
    dw = weight_grad(saved.xb, saved.rows, dyb, geo, budget, dtype)
    dx = batch_first(input_grad(dyb, w, geo, budget, dtype)) if needs_input_grad else None
    return dx, dw, db


def _checked_gradient(name, dy, expected):
    """``dy`` as a (C, H, W, N) array with the batch contiguous, after checking its shape."""
    dy = check_real(name, dy, "gradient")
    if dy.shape != expected:
        raise ValueError(f"{name}: gradient has shape {dy.shape} but the output had "
                         f"{expected}")
    return _batch_last(dy)


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0,
                     chunk_bytes=None):
    """2-D transposed convolution: the adjoint of :func:`conv2d`, used to upsample.

    Each input pixel scatters ``x[n, c_in, i, j] * w[c_in]`` onto the output
    window that starts at ``(i * stride - padding, j * stride - padding)``.
    It is the input gradient of a convolution with the same kernel, stride
    and padding, and the two are computed by the same code.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    w : ndarray, shape (C_in, C_out, KH, KW), as in PyTorch
    b : ndarray, shape (C_out,), optional
    stride, padding : int or (int, int)
    output_padding : int or (int, int)
        Extra rows and columns at the bottom and right, smaller than the
        stride: picks one of the output sizes that convolve down to H.
    chunk_bytes : int, optional
        As for :func:`conv2d`.

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1) stride - 2 padding + KH + output_padding``, likewise
        ``W_out`` (see :func:`~cnnlib.functional.conv_transpose_output_size`);
        stored batch innermost.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib import functional as F
    >>> F.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    y, _ = conv_transpose2d_forward(x, w, b, stride=stride, padding=padding,
                                    output_padding=output_padding, chunk_bytes=chunk_bytes,
                                    save=False)
    return y


def conv_transpose2d_forward(x, w, b=None, *, stride=1, padding=0, output_padding=0,
                             chunk_bytes=None, save=True, name="conv_transpose2d"):
    """:func:`conv_transpose2d` that also returns what its backward pass needs.

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
    saved : SavedInput, or None when ``save`` is False
        The geometry of the adjoint convolution and a copy of ``x``.
    """
    x, w, b = check_conv_transpose_args(x, w, b, name=name)
    geo = transpose_geometry(name, x.shape, w.shape, stride, padding, output_padding)
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    xb = _batch_last(x)
    if geo.n == 0:  # an empty batch gives an empty output, as in PyTorch
        return np.zeros((0, geo.c, geo.h, geo.w), dtype), SavedInput(geo, xb) if save else None
    y = input_grad(xb, w, geo, _budget(chunk_bytes, geo, np.dtype(dtype).itemsize), dtype)
    if b is not None:
        y += b.astype(dtype, copy=False).reshape(-1, 1, 1, 1)
    saved = SavedInput(geo, xb if xb.base is None else xb.copy()) if save else None
    return batch_first(y), saved


def check_conv_transpose_args(x, w, b, *, name="conv_transpose2d"):
    """Validate x (N, C_in, H, W), w (C_in, C_out, KH, KW) and b (C_out,); return arrays."""
    x = check_real(name, x)
    w = check_real(name, w, "kernel")
    check_ndim(name, x, 4, "(N, C_in, H, W)")
    check_ndim(name, w, 4, "(C_in, C_out, KH, KW) kernel", what="kernel")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{name}: input has {x.shape[1]} channels but the kernel expects "
                         f"{w.shape[0]} (input {x.shape}, kernel {w.shape}, which is "
                         f"(C_in, C_out, KH, KW))")
    if b is not None:
        b = check_real(name, b, "bias")
        if b.shape != (w.shape[1],):
            raise ValueError(f"{name}: bias must have shape ({w.shape[1]},) to match "
                             f"{w.shape[1]} output channels, got {b.shape}")
    return x, w, b


def conv_transpose2d_backward_from_saved(dy, saved, w, *, needs_input_grad=True,
                                         chunk_bytes=None):
    """Gradients of :func:`conv_transpose2d` given what its forward pass saved.

    The input gradient is the convolution of ``dy`` with ``w`` (same stride
    and padding), and the kernel gradient is that convolution's kernel
    gradient with the roles of input and output swapped.

    Parameters
    ----------
    dy : ndarray, shape (N, C_out, H_out, W_out)
    saved : SavedInput, from :func:`conv_transpose2d_forward`
    w : ndarray, shape (C_in, C_out, KH, KW)

    Returns
    -------
    dx : (N, C_in, H, W), batch innermost, or None without ``needs_input_grad``
    dw : (C_in, C_out, KH, KW)
    db : (C_out,)
    """
    geo = saved.geometry
    dyb = _checked_gradient("conv_transpose2d_backward", dy, (geo.n, geo.c, geo.h, geo.w))
    dtype = np.result_type(dyb, saved.xb, w)
    if geo.n == 0:
        dx = np.zeros((0, geo.f, geo.ho, geo.wo), dtype) if needs_input_grad else None
        return dx, np.zeros(w.shape, dtype), np.zeros(geo.c, dtype)
    budget = _budget(chunk_bytes, geo, np.dtype(dtype).itemsize)
    db = dyb.sum(axis=(1, 2, 3))
    dw = weight_grad(dyb, None, saved.xb, geo, budget, dtype)
    dx = None
    if needs_input_grad:
        dx = batch_first(forward(dyb, w, None, geo, budget, dtype)[0])
    return dx, dw, db


def conv_transpose2d_backward(dy, x, w, *, stride=1, padding=0, output_padding=0,
                              needs_input_grad=True, chunk_bytes=None):
    """Gradients of :func:`conv_transpose2d` with respect to its input, kernel and bias.

    Parameters
    ----------
    dy : ndarray, shape (N, C_out, H_out, W_out)
    x : ndarray, shape (N, C_in, H, W)
    w : ndarray, shape (C_in, C_out, KH, KW)
    stride, padding, output_padding, chunk_bytes : as for :func:`conv_transpose2d`

    Returns
    -------
    dx : (N, C_in, H, W), or None without ``needs_input_grad``
    dw : (C_in, C_out, KH, KW)
    db : (C_out,)
    """
    name = "conv_transpose2d_backward"
    x, w, _ = check_conv_transpose_args(x, w, None, name=name)
    geo = transpose_geometry(name, x.shape, w.shape, stride, padding, output_padding)
    saved = SavedInput(geo, _batch_last(x))
    return conv_transpose2d_backward_from_saved(dy, saved, w, needs_input_grad=needs_input_grad,
                                                chunk_bytes=chunk_bytes)


def im2col(x, kernel, *, stride=1, padding=0, dilation=1, name="im2col"):
    """Unroll every receptive field of ``x`` into one row of a matrix.

    The textbook form, which :func:`conv2d` avoids building whole (see the
    module docstring): ``conv2d(x, w)`` equals ``cols @ w.reshape(F, -1).T``
    reshaped.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel : int or (int, int)
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    cols : ndarray, shape (H' * W' * N, C * KH * KW)
        Row ``(i, j, n)``, that is row ``(i * W' + j) * N + n``, holds the
        patch under the kernel at output position ``(i, j)`` of image ``n``,
        channels first. The matrix is stored column by column: a column is
        one channel seen through one kernel offset, and it is copied from
        ``x`` in runs of N contiguous numbers.
    (ho, wo) : output height and width
    """
    kh, kw = pair(kernel, f"{name}: kernel_size")
    sh, sw = pair(stride, f"{name}: stride")
    dh, dw = pair(dilation, f"{name}: dilation")
    ho, wo, pads = window_geometry(name, x, (kh, kw), (sh, sw),
                                   pair(padding, f"{name}: padding", minimum=0),
                                   dilation=(dh, dw))
    xp = pad2d(batch_innermost(x), pads)
    n, c = x.shape[:2]
    cols_t = np.empty((c, kh, kw, ho, wo, n), dtype=x.dtype)
    for di, dj in offsets((kh, kw)):
        cols_t[:, di, dj] = batch_last(shifted(xp, (di * dh, dj * dw), (sh, sw), (ho, wo)))
    return cols_t.reshape(c * kh * kw, ho * wo * n).T, (ho, wo)


def col2im(dcols, x_shape, kernel, *, stride=1, padding=0, dilation=1):
    """Adjoint of :func:`im2col`: add each row back onto the input it came from.

    Parameters
    ----------
    dcols : ndarray, shape (H' * W' * N, C * KH * KW)
        Rows ordered as :func:`im2col` orders them.
    x_shape : (N, C, H, W)
    kernel, stride, padding, dilation : int or (int, int)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        A strided view of storage laid out (C, H, W, N), batch innermost.
    """
    n, c, h, w = x_shape
    kh, kw = pair(kernel, "col2im: kernel_size")
    sh, sw = pair(stride, "col2im: stride")
    ph, pw = pair(padding, "col2im: padding", minimum=0)
    dh, dw = pair(dilation, "col2im: dilation")
    ho = output_size(h, kh, stride=sh, padding=ph, dilation=dh)
    wo = output_size(w, kw, stride=sw, padding=pw, dilation=dw)
    d = dcols.T.reshape(c, kh, kw, ho, wo, n)
    dxp = batch_first(np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=dcols.dtype))
    for di, dj in offsets((kh, kw)):
        target = shifted(dxp, (di * dh, dj * dw), (sh, sw), (ho, wo))
        target += batch_first(d[:, di, dj])
    return dxp[:, :, ph: ph + h, pw: pw + w]


def conv1d(x, kernel):
    """Slide ``kernel`` along ``x`` and take one dot product per position.

    No flip: ``y[i] = sum_m x[i + m] * kernel[m]``, the same as
    ``np.correlate(x, kernel, mode="valid")``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,), with k <= n

    Returns
    -------
    y : ndarray, shape (n - k + 1,)
        Integer inputs with an integer kernel give integers.
    """
    x, kernel = check_real("conv1d", x), check_real("conv1d", kernel, "kernel")
    if x.ndim != 1 or kernel.ndim != 1:
        raise ValueError(f"conv1d: x and kernel must be 1-D, got shapes {x.shape} and "
                         f"{kernel.shape}")
    if len(kernel) > len(x):
        raise ValueError(f"conv1d: kernel of length {len(kernel)} is longer than the "
                         f"signal ({len(x)})")
    return sliding_window_view(x, len(kernel)) @ kernel
