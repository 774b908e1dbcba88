"""Convolution by im2col, forward and backward side by side.

Arrays are NCHW and convolution weights are ``(C_out, C_in, KH, KW)``, as in
PyTorch. "Convolution" is cross-correlation: the kernel is not flipped. See
:mod:`cnnlib.nn.windows` for the memory layout the results use.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.checks import check_ndim, check_real, pair
from cnnlib.nn.windows import (batch_first, batch_innermost, batch_last, offsets, output_size,
                               pad2d, shifted, window_geometry)


def check_conv_args(x, w, b):
    """Validate x (N, C, H, W), w (F, C, KH, KW) and b (F,); return them as real arrays."""
    x = check_real("conv2d", x)
    w = check_real("conv2d", w, "kernel")
    if b is not None:
        b = check_real("conv2d", b, "bias")
    check_ndim("conv2d", x, 4, "(N, C, H, W)")
    check_ndim("conv2d", w, 4, "(C_out, C_in, KH, KW) kernel", what="kernel")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels but the kernel expects "
            f"{w.shape[1]} (input {x.shape}, kernel {w.shape})")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(
            f"conv2d: bias must have shape ({w.shape[0]},) to match "
            f"{w.shape[0]} output channels, got {np.shape(b)}")
    return x, w, b


def im2col(x, kernel, *, stride=1, padding=0, name="im2col"):
    """Unroll every receptive field of ``x`` into one row of a matrix.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel : int or (int, int)
    stride, padding : int or (int, int)

    Returns
    -------
    cols : ndarray, shape (H' * W' * N, C * KH * KW)
        Row ``(i, j, n)``, that is row ``(i * W' + j) * N + n``, holds the
        patch under the kernel at output position ``(i, j)`` of image ``n``,
        channels first. The matrix is stored column by column: a column is
        one channel seen through one kernel offset, and it is copied from
        ``x`` in runs of N contiguous numbers (see the module docstring).
    (ho, wo) : output height and width
    """
    kh, kw = pair(kernel, f"{name}: kernel_size")
    sh, sw = pair(stride, f"{name}: stride")
    ho, wo, pads = window_geometry(name, x, (kh, kw), (sh, sw),
                                   pair(padding, f"{name}: padding", minimum=0))
    xp = pad2d(batch_innermost(x), pads)
    n, c = x.shape[:2]
    cols_t = np.empty((c, kh, kw, ho, wo, n), dtype=x.dtype)
    for di, dj in offsets((kh, kw)):
        cols_t[:, di, dj] = batch_last(shifted(xp, (di, dj), (sh, sw), (ho, wo)))
    return cols_t.reshape(c * kh * kw, ho * wo * n).T, (ho, wo)


def col2im(dcols, x_shape, kernel, *, stride=1, padding=0):
    """Adjoint of :func:`im2col`: add each row back onto the input it came from.

    Parameters
    ----------
    dcols : ndarray, shape (H' * W' * N, C * KH * KW)
        Rows ordered as :func:`im2col` orders them; fastest when stored
        column by column, as :func:`im2col` returns its matrix.
    x_shape : (N, C, H, W)
    kernel, stride, padding : int or (int, int)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        A strided view of storage laid out (C, H, W, N), batch innermost
        (not C-contiguous; ``np.ascontiguousarray`` makes an NCHW copy).
    """
    n, c, h, w = x_shape
    kh, kw = pair(kernel, "col2im: kernel_size")
    sh, sw = pair(stride, "col2im: stride")
    ph, pw = pair(padding, "col2im: padding", minimum=0)
    ho = output_size(h, kh, stride=sh, padding=ph)
    wo = output_size(w, kw, stride=sw, padding=pw)
    d = dcols.T.reshape(c, kh, kw, ho, wo, n)
    dxp = batch_first(np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=dcols.dtype))
    for di, dj in offsets((kh, kw)):
        target = shifted(dxp, (di, dj), (sh, sw), (ho, wo))
        target += batch_first(d[:, di, dj])
    return dxp[:, :, ph: ph + h, pw: pw + w]


def conv2d(x, w, b=None, *, stride=1, padding=0):
    """2-D convolution (cross-correlation) by im2col and one matrix multiply.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
        ``H' = floor((H + 2*pad - KH) / stride) + 1``, likewise ``W'``. A
        strided view of storage laid out (F, H', W', N), batch innermost (not
        C-contiguous; ``np.ascontiguousarray`` makes an NCHW copy).
    """
    x, w, b = check_conv_args(x, w, b)
    cols, (ho, wo) = im2col(x, w.shape[2:], stride=stride, padding=padding,
                            name="conv2d")
    return conv2d_from_cols(cols, w, b, (x.shape[0], ho, wo))


def conv2d_from_cols(cols, w, b, out_size):
    """The matrix multiply of :func:`conv2d`, given the unrolled input.

    Parameters
    ----------
    cols : ndarray, shape (H' * W' * N, C * KH * KW), from :func:`im2col`
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), or None
    out_size : (N, H', W')

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
        A strided view of (F, H', W', N) storage, batch innermost.
    """
    n, ho, wo = out_size
    f = w.shape[0]
    y = w.reshape(f, -1) @ cols.T  # (F, H'*W'*N): one row per output channel
    if b is not None:
        y += np.asarray(b).reshape(f, 1)
    return batch_first(y.reshape(f, ho, wo, n))


def conv2d_backward(dy, x, w, *, stride=1, padding=0, needs_input_grad=True):
    """Gradients of :func:`conv2d` with respect to its input, kernel and bias.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
        Gradient of the loss with respect to the convolution's output.
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    needs_input_grad : bool, default True
        With False, ``dx`` is not computed and None is returned in its place:
        the first layer of a network never needs the gradient of the data.

    Returns
    -------
    dx : (N, C, H, W), a batch-innermost strided view as from :func:`col2im`
    dw : (F, C, KH, KW), C-contiguous
    db : (F,)
    """
    x, w, _ = check_conv_args(x, w, None)
    cols, _ = im2col(x, w.shape[2:], stride=stride, padding=padding, name="conv2d")
    return conv2d_backward_from_cols(dy, cols, x.shape, w, stride=stride, padding=padding,
                                     needs_input_grad=needs_input_grad)


def conv2d_backward_from_cols(dy, cols, x_shape, w, *, stride=1, padding=0,
                              needs_input_grad=True):
    """:func:`conv2d_backward` given ``im2col(x)`` from the forward pass.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
    cols : ndarray, shape (H' * W' * N, C * KH * KW), from :func:`im2col`
    x_shape : (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)

    Returns
    -------
    dx, dw, db : as for :func:`conv2d_backward`
    """
    dy = check_real("conv2d_backward", dy, "gradient")
    f = w.shape[0]
    expected = (x_shape[0], f, *_out_hw(x_shape, w.shape[2:], stride, padding))
    if dy.shape != expected:
        raise ValueError(f"conv2d_backward: gradient has shape {dy.shape} but the output "
                         f"had {expected}")
    dy_mat = batch_last(dy).reshape(f, -1)  # (F, H'*W'*N), laid out like cols.T
    db = dy_mat.sum(axis=1)
    dw = (dy_mat @ cols).reshape(w.shape)
    dx = None
    if needs_input_grad:
        dcols = (w.reshape(f, -1).T @ dy_mat).T  # stored column by column
        dx = col2im(dcols, x_shape, w.shape[2:], stride=stride, padding=padding)
    return dx, dw, db


def _out_hw(x_shape, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, pair(stride), pair(padding, minimum=0)
    return (output_size(x_shape[2], kh, stride=sh, padding=ph),
            output_size(x_shape[3], kw, stride=sw, padding=pw))


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
