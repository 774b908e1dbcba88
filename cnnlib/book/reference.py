"""Reference versions of convolution, pooling and attention, written to be read: loops, einsum.

The fast ops of :mod:`cnnlib.nn` are tested against these.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.checks import pair
from cnnlib.nn.conv import check_conv_args
from cnnlib.nn.windows import pad2d, window_geometry


def get_patch(image, row, col, size):
    """The ``size`` x ``size`` window of a 2-D ``image`` whose top-left is (row, col)."""
    kh, kw = pair(size)
    return image[row: row + kh, col: col + kw]


def conv2d_naive(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Convolution as the definition reads: one dot product per output position.

    Output channel f belongs to group ``g = f // (F // groups)`` and sees
    the input channels of that group only; the kernel's taps sit
    ``dilation`` pixels apart.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C // groups, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding, dilation : int or (int, int)
    groups : int

    Returns
    -------
    y : ndarray, shape (N, F, H', W')
    """
    x, w, b = check_conv_args(x, w, b, groups, name="conv2d_naive")
    sh, sw = pair(stride, "conv2d_naive: stride")
    dh, dw = pair(dilation, "conv2d_naive: dilation")
    ho, wo, pads = window_geometry("conv2d_naive", x, w.shape[2:], (sh, sw),
                                   pair(padding, "conv2d_naive: padding", minimum=0),
                                   dilation=(dh, dw))
    xp = pad2d(x, pads)
    n_images, n_filters, cg, kh, kw = x.shape[0], w.shape[0], *w.shape[1:]
    per_group = n_filters // groups
    y = np.zeros((n_images, n_filters, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_images):
        for f in range(n_filters):
            channels = slice(f // per_group * cg, (f // per_group + 1) * cg)
            for i in range(ho):
                for j in range(wo):
                    patch = xp[n, channels, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                               j * sw: j * sw + dw * (kw - 1) + 1: dw]
                    y[n, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                y[n, f] += b[f]
    return y


def conv2d_backward_naive(dy, x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`conv2d_naive`, one output position at a time.

    Output ``y[n, f, i, j]`` is the dot product of ``w[f]`` with one patch of
    the padded input, so its gradient ``dy[n, f, i, j]`` adds ``dy * patch``
    to ``dw[f]`` and ``dy * w[f]`` to that patch of the padded ``dx``.

    Parameters
    ----------
    dy : ndarray, shape (N, F, H', W')
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C // groups, KH, KW)
    stride, padding, dilation : int or (int, int)
    groups : int

    Returns
    -------
    dx : (N, C, H, W), dw : (F, C // groups, KH, KW), db : (F,)
    """
    x, w, _ = check_conv_args(x, w, None, groups, name="conv2d_backward_naive")
    sh, sw = pair(stride, "conv2d_backward_naive: stride")
    dh, dw_ = pair(dilation, "conv2d_backward_naive: dilation")
    ph, pw = pair(padding, "conv2d_backward_naive: padding", minimum=0)
    ho, wo, pads = window_geometry("conv2d_backward_naive", x, w.shape[2:], (sh, sw), (ph, pw),
                                   dilation=(dh, dw_))
    xp = pad2d(x, pads)
    dxp = np.zeros_like(xp, dtype=np.result_type(dy, w))
    dw = np.zeros(w.shape, dtype=np.result_type(dy, x))
    n_filters, cg, kh, kw = w.shape
    per_group = n_filters // groups
    for n in range(x.shape[0]):
        for f in range(n_filters):
            channels = slice(f // per_group * cg, (f // per_group + 1) * cg)
            for i in range(ho):
                for j in range(wo):
                    where = (n, channels, slice(i * sh, i * sh + dh * (kh - 1) + 1, dh),
                             slice(j * sw, j * sw + dw_ * (kw - 1) + 1, dw_))
                    dw[f] += dy[n, f, i, j] * xp[where]
                    dxp[where] += dy[n, f, i, j] * w[f]
    dx = dxp[:, :, ph: ph + x.shape[2], pw: pw + x.shape[3]]
    return dx, dw, dy.sum(axis=(0, 2, 3))


def conv_transpose2d_naive(x, w, b=None, *, stride=1, padding=0, output_padding=0):
    """Transposed convolution as its definition reads: every input pixel paints a window.

    Input pixel ``(i, j)`` of channel ``c_in`` adds ``x[n, c_in, i, j] *
    w[c_in]`` to the output window whose top-left corner is ``(i * stride,
    j * stride)`` of a canvas padded by ``padding``; the padding is then cut
    away. ``output_padding`` adds rows and columns at the bottom and right.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    w : ndarray, shape (C_in, C_out, KH, KW)
    b : ndarray, shape (C_out,), optional
    stride, padding, output_padding : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1) stride - 2 padding + KH + output_padding``.
    """
    x, w = np.asarray(x), np.asarray(w)
    sh, sw = pair(stride, "conv_transpose2d_naive: stride")
    ph, pw = pair(padding, "conv_transpose2d_naive: padding", minimum=0)
    oh, ow = pair(output_padding, "conv_transpose2d_naive: output_padding", minimum=0)
    n_images, c_in, h, wd = x.shape
    kh, kw = w.shape[2:]
    canvas = np.zeros((n_images, w.shape[1], (h - 1) * sh + kh + oh, (wd - 1) * sw + kw + ow),
                      dtype=np.result_type(x, w))
    for n in range(n_images):
        for c in range(c_in):
            for i in range(h):
                for j in range(wd):
                    canvas[n, :, i * sh: i * sh + kh, j * sw: j * sw + kw] += x[n, c, i, j] * w[c]
    y = canvas[:, :, ph: canvas.shape[2] - ph, pw: canvas.shape[3] - pw]
    return y if b is None else y + np.asarray(b).reshape(1, -1, 1, 1)


def adaptive_avg_pool2d_naive(x, output_size):
    """Adaptive average pooling by loops: window i spans floor(i H / out) to ceil((i + 1) H / out).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    output_size : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, C, out_h, out_w)
    """
    x = np.asarray(x, dtype=np.float64)
    oh, ow = pair(output_size, "adaptive_avg_pool2d_naive: output_size")
    h, w = x.shape[2:]
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = slice(math.floor(i * h / oh), math.ceil((i + 1) * h / oh))
            cols = slice(math.floor(j * w / ow), math.ceil((j + 1) * w / ow))
            y[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
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
    k = pair(size, "max_pool2d_naive: size")
    s = k if stride is None else pair(stride, "max_pool2d_naive: stride")
    ho, wo, _ = window_geometry("max_pool2d", x, k, s, (0, 0))
    y = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    y[n, c, i, j] = get_patch(x[n, c], i * s[0], j * s[1], k).max()
    return y


def _prepare(x, w, b, stride, padding):
    """Check the arguments; return the padded input, the strides and the output size."""
    x, w, b = check_conv_args(x, w, b)
    sh, sw = pair(stride, "conv2d: stride")
    ho, wo, pads = window_geometry("conv2d", x, w.shape[2:], (sh, sw),
                                   pair(padding, "conv2d: padding", minimum=0))
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


def attention_naive(q, k, v, attn_mask=None):
    """Scaled dot-product attention one query at a time, for (L, E), (S, E), (S, Ev) arrays.

    For query i: a score ``q_i . k_j / sqrt(E)`` for every key j (minus
    infinity where ``attn_mask[i, j]`` is False), the softmax of the scores,
    and the values averaged with those weights. A query with no key left
    gets zeros, as in :func:`cnnlib.functional.scaled_dot_product_attention`.
    """
    L, E = q.shape
    out = np.zeros((L, v.shape[1]))
    for i in range(L):
        scores = np.array([q[i] @ k[j] / math.sqrt(E) for j in range(len(k))])
        if attn_mask is not None:
            scores = np.where(attn_mask[i], scores, -np.inf)
        if np.all(np.isinf(scores)):
            continue
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        for j in range(len(k)):
            out[i] += weights[j] * v[j]
    return out


def multihead_attention_naive(x, params, num_heads):
    """Multi-head self-attention of one sequence x (L, E), head by head, with PyTorch's parameters.

    ``params`` holds "in_proj_weight" (3E, E), "in_proj_bias" (3E,),
    "out_proj.weight" (E, E) and "out_proj.bias" (E,), as
    :class:`cnnlib.MultiheadAttention` does: rows 0..E-1 of the input
    projection make the queries, E..2E-1 the keys, 2E..3E-1 the values, and
    head h uses features ``h E / heads`` up to ``(h + 1) E / heads`` of each.
    """
    E = x.shape[1]
    d = E // num_heads
    w, b = params["in_proj_weight"], params["in_proj_bias"]
    q, k, v = (x @ w[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i in range(3))
    heads = [attention_naive(q[:, h * d:(h + 1) * d], k[:, h * d:(h + 1) * d],
                             v[:, h * d:(h + 1) * d]) for h in range(num_heads)]
    return np.concatenate(heads, axis=1) @ params["out_proj.weight"].T + params["out_proj.bias"]
