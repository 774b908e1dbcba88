"""Loop-based reference versions of convolution and pooling, written to be read."""

import numpy as np

from cnnlib.checks import pair
from cnnlib.functional import check_conv_args
from cnnlib.windows import pad2d, window_geometry


def get_patch(image, row, col, size):
    """The ``size`` x ``size`` window of a 2-D ``image`` whose top-left is (row, col)."""
    kh, kw = pair(size)
    return image[row: row + kh, col: col + kw]


def conv2d_naive(x, w, b=None, *, stride=1, padding=0):
    """Convolution as the definition reads: one dot product per output position.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
    """
    x, w = np.asarray(x), np.asarray(w)
    check_conv_args(x, w, b)
    (sh, sw) = pair(stride)
    ho, wo, pads = window_geometry("conv2d", x, w.shape[2:], (sh, sw), pair(padding))
    xp = pad2d(x, pads)
    n_images, n_filters = x.shape[0], w.shape[0]
    y = np.zeros((n_images, n_filters, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[n, :, i * sh: i * sh + w.shape[2], j * sw: j * sw + w.shape[3]]
                    y[n, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                y[n, f] += b[f]
    return y


def max_pool2d_naive(x, size=2, stride=None):
    """Max pooling with explicit loops over images, channels and windows.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)

    Returns
    -------
    y : ndarray, shape (N, C, H', W')
    """
    x = np.asarray(x)
    k = pair(size)
    s = k if stride is None else pair(stride)
    ho, wo, _ = window_geometry("max_pool2d", x, k, s, (0, 0))
    y = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    y[n, c, i, j] = get_patch(x[n, c], i * s[0], j * s[1], k).max()
    return y
