"""Convolution without the per-position loops: a loop over kernel offsets, and one einsum."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.checks import pair
from cnnlib.functional import check_conv_args
from cnnlib.windows import pad2d, window_geometry


def _prepare(x, w, b, stride, padding):
    """Check the arguments; return the padded input, the strides and the output size."""
    x, w = np.asarray(x), np.asarray(w)
    check_conv_args(x, w, b)
    sh, sw = pair(stride)
    ho, wo, pads = window_geometry("conv2d", x, w.shape[2:], (sh, sw), pair(padding))
    return pad2d(x, pads), w, (sh, sw), (ho, wo)


def _add_bias(y, b):
    """``y`` (N, F, H', W') plus one bias per output channel, if there is a bias."""
    return y if b is None else y + np.asarray(b).reshape(1, -1, 1, 1)


def conv2d_offsets(x, w, b=None, *, stride=1, padding=0):
    """Convolution with a Python loop over the KH*KW kernel offsets only.

    Kernel offset ``(di, dj)`` touches the same element of every patch: a
    strided slice of the input, shape (N, C, H', W'). Multiplying that slice
    by the kernel's weights at the offset, ``w[:, :, di, dj]`` of shape
    (F, C), is one matrix product over the channels. The output is the sum
    of the KH*KW products.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
    """
    xp, w, (sh, sw), (ho, wo) = _prepare(x, w, b, stride, padding)
    n, f = xp.shape[0], w.shape[0]
    y = np.zeros((n, ho, wo, f), dtype=np.result_type(xp, w))
    for di in range(w.shape[2]):
        for dj in range(w.shape[3]):
            seen = xp[:, :, di: di + sh * (ho - 1) + 1: sh, dj: dj + sw * (wo - 1) + 1: sw]
            y += np.tensordot(seen, w[:, :, di, dj], axes=([1], [1]))  # (N, H', W', F)
    return _add_bias(y.transpose(0, 3, 1, 2), b)


def conv2d_einsum(x, w, b=None, *, stride=1, padding=0):
    """Convolution as one ``einsum`` over a sliding-window view of the input.

    ``sliding_window_view`` gives every patch as a view, shape
    (N, C, H', W', KH, KW), without copying. The einsum then sums over the
    channels and the two kernel axes at once.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
    """
    xp, w, (sh, sw), (ho, wo) = _prepare(x, w, b, stride, padding)
    patches = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.einsum("nchwij,fcij->nfhw", patches, w, optimize=True)
    return _add_bias(y, b)
