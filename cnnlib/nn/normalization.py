"""Layer and group normalisation, which use no batch statistics: functional ops and layers.

Every norm here subtracts a mean and divides by a standard deviation taken
over some axes of each sample, then scales and shifts with learned
per-feature ``weight`` and ``bias``:

| norm | statistics over | affine parameters |
|---|---|---|
| :class:`LayerNorm` (transformers) | the trailing ``normalized_shape`` | ``normalized_shape`` |
| :class:`LayerNorm2d` (ConvNeXt) | the channels C of (N, C, H, W), at each position | (C,) |
| :class:`GroupNorm` | C / G channels and all positions, per group | (C,) |

The variance is the biased one (divide by the count), as in PyTorch, and the
same formula serves every sample in training and evaluation.
"""

from dataclasses import dataclass

import numpy as np

from cnnlib.checks import check_float_dtype, check_int, check_number, check_real
from cnnlib.nn.activations import as_float
from cnnlib.nn.module import Module


@dataclass
class NormSaved:
    """What a norm's backward needs from its forward.

    ``x_hat`` is the normalised input in the grouped view ``view``;
    ``inv_std`` broadcasts against it; ``axes`` are the view's normalised
    axes; ``channel_axis`` is None for :func:`layer_norm` (whose affine
    parameters cover the trailing axes) and 1 for the channel-wise norms.
    """

    x_hat: np.ndarray
    inv_std: np.ndarray
    axes: tuple
    x_shape: tuple
    channel_axis: object


def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    return centred * inv_std, inv_std


def _normalize_backward(dx_hat, saved):
    """d loss / d x given d loss / d x_hat, in the grouped view.

    The mean and variance depend on every input of the group, which adds two
    terms: ``dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / std``.
    """
    x_hat, axes = saved.x_hat, saved.axes
    mean_d = dx_hat.mean(axis=axes, keepdims=True)
    mean_dx = (dx_hat * x_hat).mean(axis=axes, keepdims=True)
    return (dx_hat - mean_d - x_hat * mean_dx) * saved.inv_std


def _per_channel(a, ndim):
    """A (C,) array shaped to broadcast along axis 1 of an ``ndim``-D array."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _check_affine(name, weight, bias, shape):
    out = []
    for what, a in (("weight", weight), ("bias", bias)):
        if a is not None:
            a = check_real(name, a, what)
            if a.shape != shape:
                raise ValueError(f"{name}: {what} must have shape {shape}, got {a.shape}")
        out.append(a)
    return out


def _affine(x_hat, weight, bias, x_shape, channel_axis):
    y = x_hat.reshape(x_shape)
    if weight is None and bias is None:
        return y.copy()  # x_hat is saved for the backward pass
    if channel_axis is not None:
        weight = None if weight is None else _per_channel(weight, len(x_shape))
        bias = None if bias is None else _per_channel(bias, len(x_shape))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _affine_backward(dy, saved, weight, has_bias):
    """(dx_hat in the grouped view, dweight, dbias) from dy."""
    x_hat = saved.x_hat.reshape(saved.x_shape)
    if saved.channel_axis is None:
        sum_axes = tuple(range(dy.ndim - len(saved.axes)))
        shaped_w = weight
    else:
        sum_axes = (0,) + tuple(range(2, dy.ndim))
        shaped_w = None if weight is None else _per_channel(weight, dy.ndim)
    dweight = None if weight is None else (dy * x_hat).sum(axis=sum_axes)
    dbias = dy.sum(axis=sum_axes) if has_bias else None
    dx_hat = dy if shaped_w is None else dy * shaped_w
    return dx_hat.reshape(saved.x_hat.shape), dweight, dbias


def _norm_backward(dy, saved, weight, has_bias, name="norm_backward"):
    if np.shape(dy) != saved.x_shape:
        raise ValueError(f"{name}: gradient has shape {np.shape(dy)} but the output had "
                         f"{saved.x_shape}")
    dx_hat, dweight, dbias = _affine_backward(dy, saved, weight, has_bias)
    return _normalize_backward(dx_hat, saved).reshape(saved.x_shape), dweight, dbias


def _normalized_shape(name, normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    try:
        dims = tuple(normalized_shape)
    except TypeError:
        raise TypeError(f"{name}: normalized_shape must be an int or a tuple of ints, got "
                        f"{normalized_shape!r}") from None
    if not dims:
        raise ValueError(f"{name}: normalized_shape must name at least one axis, got ()")
    return tuple(check_int(f"{name}: normalized_shape", d) for d in dims)


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5, *,
                       name="layer_norm"):
    """:func:`layer_norm` that also returns what :func:`layer_norm_backward` needs."""
    shape = _normalized_shape(name, normalized_shape)
    x = as_float(x, name)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{name}: the input's trailing shape must be normalized_shape "
                         f"{shape}, but the input has shape {x.shape}")
    weight, bias = _check_affine(name, weight, bias, shape)
    eps = check_number(f"{name}: eps", eps, low=0, low_open=True)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    x_hat, inv_std = _normalize(x, axes, eps)
    saved = NormSaved(x_hat, inv_std, axes, x.shape, None)
    return _affine(x_hat, weight, bias, x.shape, None), saved


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing axes, as ``torch.nn.functional.layer_norm``.

    Parameters
    ----------
    x : ndarray, (*, *normalized_shape)
    normalized_shape : int or tuple of int
        The trailing shape of ``x`` over which the mean and variance are taken.
    weight, bias : ndarray of shape ``normalized_shape``, optional
    eps : float, > 0
        Added to the variance.

    Returns
    -------
    y : ndarray, same shape and dtype as ``x``
    """
    return layer_norm_forward(x, normalized_shape, weight, bias, eps)[0]


def layer_norm_backward(dy, saved, weight=None, has_bias=False):
    """Gradients of :func:`layer_norm` from ``saved`` (its forward's second output).

    Returns
    -------
    dx : ndarray, the input's shape
    dweight, dbias : ndarray of ``normalized_shape``, or None without them
    """
    return _norm_backward(dy, saved, weight, has_bias, "layer_norm_backward")


def _check_channels_first(name, x, num_channels, min_ndim=2):
    x = as_float(x, name)
    if x.ndim < min_ndim:
        raise ValueError(f"{name}: expected an input (N, C, *) with at least {min_ndim} "
                         f"dimensions, got shape {x.shape}")
    if num_channels is not None and x.shape[1] != num_channels:
        raise ValueError(f"{name}: input has {x.shape[1]} channels but the layer expects "
                         f"{num_channels} (input shape {x.shape})")
    return x


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5, *, name="group_norm"):
    """:func:`group_norm` that also returns what :func:`group_norm_backward` needs."""
    x = _check_channels_first(name, x, None)
    groups = check_int(f"{name}: num_groups", num_groups)
    c = x.shape[1]
    if c % groups:
        raise ValueError(f"{name}: the input's {c} channels are not divisible by num_groups "
                         f"{groups}")
    weight, bias = _check_affine(name, weight, bias, (c,))
    eps = check_number(f"{name}: eps", eps, low=0, low_open=True)
    view = x.reshape((x.shape[0], groups, c // groups) + x.shape[2:])
    axes = tuple(range(2, view.ndim))
    x_hat, inv_std = _normalize(view, axes, eps)
    saved = NormSaved(x_hat, inv_std, axes, x.shape, 1)
    return _affine(x_hat, weight, bias, x.shape, 1), saved


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation (Wu and He, 2018), as ``torch.nn.functional.group_norm``.

    The C channels are split into ``num_groups`` groups of consecutive
    channels; each sample's group is normalised over its channels and all
    positions. One group is layer norm over (C, H, W); C groups is instance
    norm.

    Parameters
    ----------
    x : ndarray, (N, C, *)
    num_groups : int, divides C
    weight, bias : ndarray (C,), optional
    eps : float, > 0

    Returns
    -------
    y : ndarray, same shape and dtype as ``x``
    """
    return group_norm_forward(x, num_groups, weight, bias, eps)[0]


def group_norm_backward(dy, saved, weight=None, has_bias=False):
    """Gradients of :func:`group_norm`: (dx, dweight (C,) or None, dbias (C,) or None)."""
    return _norm_backward(dy, saved, weight, has_bias, "group_norm_backward")


def layer_norm2d_forward(x, weight=None, bias=None, eps=1e-6, *, name="layer_norm2d"):
    """:func:`layer_norm2d` that also returns what :func:`layer_norm2d_backward` needs."""
    x = _check_channels_first(name, x, None)
    weight, bias = _check_affine(name, weight, bias, (x.shape[1],))
    eps = check_number(f"{name}: eps", eps, low=0, low_open=True)
    x_hat, inv_std = _normalize(x, (1,), eps)
    saved = NormSaved(x_hat, inv_std, (1,), x.shape, 1)
    return _affine(x_hat, weight, bias, x.shape, 1), saved


def layer_norm2d(x, weight=None, bias=None, eps=1e-6):
    """Channels-first layer norm: each position of (N, C, *) normalised over its C channels.

    The same as moving the channels last, applying :func:`layer_norm` over
    them and moving them back, which is how torchvision's ConvNeXt writes it.

    Parameters
    ----------
    x : ndarray, (N, C, *)
    weight, bias : ndarray (C,), optional
    eps : float, > 0

    Returns
    -------
    y : ndarray, same shape and dtype as ``x``
    """
    return layer_norm2d_forward(x, weight, bias, eps)[0]


def layer_norm2d_backward(dy, saved, weight=None, has_bias=False):
    """Gradients of :func:`layer_norm2d`: (dx, dweight (C,) or None, dbias (C,) or None)."""
    return _norm_backward(dy, saved, weight, has_bias, "layer_norm2d_backward")


class _Norm(Module):
    """Holds the affine parameters and the saved tensors; subclasses name the functional op."""

    def _init_affine(self, shape, affine, dtype):
        dtype = check_float_dtype(self.name, dtype)
        self.affine = bool(affine)
        if self.affine:
            self.dtype = dtype
            self._params["weight"] = np.ones(shape, dtype=dtype)
            self._params["bias"] = np.zeros(shape, dtype=dtype)
            self._grads["weight"] = np.zeros(shape, dtype=dtype)
            self._grads["bias"] = np.zeros(shape, dtype=dtype)
        self._saved = None

    def _forward(self, x):
        y, self._saved = self._op(x, self._params.get("weight"), self._params.get("bias"))
        return y

    def _backward(self, dy):
        dx, dw, db = _norm_backward(dy, self._saved, self._params.get("weight"), self.affine)
        if self.affine:
            self._grads["weight"], self._grads["bias"] = dw, db
        return dx


class LayerNorm(_Norm):
    """Layer normalisation (Ba et al., 2016) over the trailing axes, as ``torch.nn.LayerNorm``.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape of the input: ``E`` for tokens (N, L, E).
    eps : float, > 0
    elementwise_affine : bool, default True
        Learn a ``weight`` (ones) and ``bias`` (zeros) of shape
        ``normalized_shape``; without them the layer has no parameters.
    dtype : numpy float dtype, default float64

    Shape
    -----
    (*, *normalized_shape) -> the same shape.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> ln = cnnlib.LayerNorm(4)
    >>> y = ln.forward(np.arange(8.0).reshape(2, 4))
    >>> np.allclose(y.mean(axis=-1), 0), ln.params["weight"].shape
    (True, (4,))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, *,
                 dtype=np.float64):
        super().__init__()
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        self.eps = check_number("LayerNorm: eps", eps, low=0, low_open=True)
        self._init_affine(self.normalized_shape, elementwise_affine, dtype)

    def _op(self, x, weight, bias):
        return layer_norm_forward(x, self.normalized_shape, weight, bias, self.eps,
                                  name="LayerNorm")

    def out_shape(self, in_shape):
        k = len(self.normalized_shape)
        if tuple(in_shape[len(in_shape) - k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: the input's trailing shape must be normalized_shape "
                             f"{self.normalized_shape}, got shape {tuple(in_shape)}")
        return tuple(in_shape)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}"
                + ("" if self.affine else ", elementwise_affine=False"))


class _ChannelNorm(_Norm):
    def out_shape(self, in_shape):
        if len(in_shape) < 2 or in_shape[1] != self.num_channels:
            raise ValueError(f"{self.name}: expected an input (N, {self.num_channels}, *), "
                             f"got shape {tuple(in_shape)}")
        return tuple(in_shape)

    def _forward(self, x):
        _check_channels_first(self.name, x, self.num_channels)
        return super()._forward(x)


class LayerNorm2d(_ChannelNorm):
    """Channels-first layer norm, as in ConvNeXt: each position normalised over its channels.

    Equal to permuting (N, C, H, W) to (N, H, W, C), applying
    ``torch.nn.LayerNorm(C)`` and permuting back (torchvision's ConvNeXt
    does exactly that, and calls the module ``LayerNorm2d``).

    Parameters
    ----------
    num_channels : int
    eps : float, > 0, default 1e-6 (ConvNeXt's)
    elementwise_affine : bool, default True
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, C, *) -> the same shape; ``weight`` and ``bias`` are (C,).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> y = cnnlib.LayerNorm2d(3).forward(np.arange(24.0).reshape(2, 3, 2, 2))
    >>> np.allclose(y.mean(axis=1), 0)
    True
    """

    def __init__(self, num_channels, eps=1e-6, elementwise_affine=True, *, dtype=np.float64):
        super().__init__()
        self.num_channels = check_int("LayerNorm2d: num_channels", num_channels)
        self.eps = check_number("LayerNorm2d: eps", eps, low=0, low_open=True)
        self._init_affine((self.num_channels,), elementwise_affine, dtype)

    def _op(self, x, weight, bias):
        return layer_norm2d_forward(x, weight, bias, self.eps, name="LayerNorm2d")

    def extra_repr(self):
        return (f"{self.num_channels}, eps={self.eps}"
                + ("" if self.affine else ", elementwise_affine=False"))


class GroupNorm(_ChannelNorm):
    """Group normalisation (Wu and He, 2018), as ``torch.nn.GroupNorm``.

    Parameters
    ----------
    num_groups : int
        Divides ``num_channels``; each group of ``num_channels // num_groups``
        consecutive channels is normalised over its channels and positions.
    num_channels : int
    eps : float, > 0
    affine : bool, default True
        Learn per-channel ``weight`` (ones) and ``bias`` (zeros).
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, C, *) -> the same shape; ``weight`` and ``bias`` are (C,).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> gn = cnnlib.GroupNorm(2, 4)
    >>> y = gn.forward(np.arange(32.0).reshape(2, 4, 2, 2))
    >>> np.allclose(y.reshape(2, 2, -1).mean(axis=-1), 0)
    True
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, dtype=np.float64):
        super().__init__()
        self.num_groups = check_int("GroupNorm: num_groups", num_groups)
        self.num_channels = check_int("GroupNorm: num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels {self.num_channels} is not divisible "
                             f"by num_groups {self.num_groups}")
        self.eps = check_number("GroupNorm: eps", eps, low=0, low_open=True)
        self._init_affine((self.num_channels,), affine, dtype)

    def _op(self, x, weight, bias):
        return group_norm_forward(x, self.num_groups, weight, bias, self.eps, name="GroupNorm")

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}"
                + ("" if self.affine else ", affine=False"))
