"""Pure functions for the forward and backward passes of CNN layers.

Arrays are NCHW and convolution weights are ``(C_out, C_in, KH, KW)``, as in
PyTorch. "Convolution" is cross-correlation: the kernel is not flipped.
Convolution lives here; pooling and activations live in :mod:`cnnlib.pooling`
and :mod:`cnnlib.activations` and are re-exported, so ``F.max_pool2d`` and
``F.gelu`` work as well as ``F.conv2d``. See :mod:`cnnlib.windows` for the
memory layout the convolutions use.
"""

import numpy as np

from cnnlib.activations import (gelu, gelu_backward, gelu_with_tanh, log_softmax, relu,
                                relu_backward, softmax)
from cnnlib.checks import check_ndim, pair
from cnnlib.pooling import (avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward,
                            max_pool2d_with_indices)
from cnnlib.windows import (batch_first, batch_innermost, batch_last, offsets, output_size,
                            pad2d, shifted, window_geometry)

__all__ = [
    "output_size", "im2col", "col2im", "conv2d", "conv2d_from_cols", "conv2d_backward",
    "check_conv_args", "max_pool2d", "max_pool2d_with_indices", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward", "relu", "relu_backward", "gelu", "gelu_with_tanh",
    "gelu_backward", "softmax", "log_softmax",
]


def check_conv_args(x, w, b):
    """Raise ValueError unless x (N, C, H, W), w (F, C, KH, KW) and b (F,) fit together."""
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
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    ho, wo, pads = window_geometry(name, x, (kh, kw), (sh, sw), pair(padding))
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
    dx : ndarray, shape (N, C, H, W), stored batch-innermost
    """
    n, c, h, w = x_shape
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
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
        ``H' = floor((H + 2*pad - KH) / stride) + 1``, likewise ``W'``.
    """
    x, w = np.asarray(x), np.asarray(w)
    check_conv_args(x, w, b)
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
    y : ndarray, shape (N, F, H', W'), stored batch-innermost
    """
    n, ho, wo = out_size
    f = w.shape[0]
    y = w.reshape(f, -1) @ cols.T  # (F, H'*W'*N): one row per output channel
    if b is not None:
        y += np.asarray(b).reshape(f, 1)
    return batch_first(y.reshape(f, ho, wo, n))


def conv2d_backward(dy, x, w, *, stride=1, padding=0, cols=None,
                    needs_input_grad=True):
    """Gradients of :func:`conv2d` with respect to its input, kernel and bias.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
        Gradient of the loss with respect to the convolution's output.
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    cols : ndarray, optional
        ``im2col(x, ...)`` from the forward pass, to avoid recomputing it.
    needs_input_grad : bool, default True
        With False, ``dx`` is not computed and None is returned in its place:
        the first layer of a network never needs the gradient of the data.

    Returns
    -------
    dx : (N, C, H, W), dw : (F, C, KH, KW), db : (F,)
    """
    x, w, dy = np.asarray(x), np.asarray(w), np.asarray(dy)
    check_conv_args(x, w, None)
    if cols is None:
        cols, _ = im2col(x, w.shape[2:], stride=stride, padding=padding,
                         name="conv2d")
    f = w.shape[0]
    dy_mat = batch_last(dy).reshape(f, -1)  # (F, H'*W'*N), laid out like cols.T
    db = dy_mat.sum(axis=1)
    dw = (dy_mat @ cols).reshape(w.shape)
    dx = None
    if needs_input_grad:
        dcols = (w.reshape(f, -1).T @ dy_mat).T  # stored column by column
        dx = col2im(dcols, x.shape, w.shape[2:], stride=stride, padding=padding)
    return dx, dw, db
