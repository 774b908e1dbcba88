"""Thin layers over the functional ops: each holds parameters and a cache, and no maths of its own."""

from fractions import Fraction

import numpy as np

from cnnlib.checks import check_float_dtype, check_int, check_ndim, check_rng, pair
from cnnlib.init import he_uniform
from cnnlib.nn import activations as A
from cnnlib.nn import conv as C
from cnnlib.nn import pooling as P
from cnnlib.nn.module import Module, check_kept, is_grad_enabled
from cnnlib.nn.windows import conv_transpose_output_size, output_size


def _check_channels(name, x, expected, what="channels", owner="layer"):
    if x.shape[1] != expected:
        raise ValueError(f"{name}: input has {x.shape[1]} {what} but the {owner} expects "
                         f"{expected} (input shape {x.shape})")


def _check_shape_channels(name, in_shape, ndim, expected, layout):
    if len(in_shape) != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D input {layout}, got shape "
                         f"{tuple(in_shape)}")
    if in_shape[1] != expected:
        raise ValueError(f"{name}: input has {in_shape[1]} channels but the layer expects "
                         f"{expected} (input shape {tuple(in_shape)})")


class Conv2d(Module):
    """2-D convolution layer; the maths is :func:`cnnlib.functional.conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int, int)
    groups : int, default 1
        ``groups == in_channels`` is a depthwise convolution.
    bias : bool, default True
        Without a bias the layer has no ``"bias"`` key, as in PyTorch.
    rng : numpy.random.Generator
        Draws the He-uniform initial weights; biases start at zero.
    dtype : numpy float dtype, default float64

    Shape
    -----
    input (N, in_channels, H, W) -> output (N, out_channels, H', W') with
    ``H' = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1``;
    ``params["weight"]`` is (out_channels, in_channels // groups, KH, KW) and
    ``params["bias"]`` is (out_channels,).

    Attributes
    ----------
    needs_input_grad : bool, default True
        Set it to False on a network's first layer: ``backward`` then skips
        the gradient with respect to the input (the data, which is never
        trained) and returns None, as PyTorch does. A container refuses it
        on any other layer.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> conv = cnnlib.Conv2d(3, 8, 3, padding=1, rng=np.random.default_rng(0))
    >>> conv.forward(np.zeros((2, 3, 5, 5))).shape
    (2, 8, 5, 5)
    >>> depthwise = cnnlib.Conv2d(8, 8, 3, groups=8, rng=np.random.default_rng(0))
    >>> depthwise.params["weight"].shape
    (8, 1, 3, 3)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, *, rng, dtype=np.float64):
        super().__init__()
        self.in_channels = check_int("Conv2d: in_channels", in_channels)
        self.out_channels = check_int("Conv2d: out_channels", out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = pair(padding, "Conv2d: padding", minimum=0)
        self.dilation = pair(dilation, "Conv2d: dilation")
        self.groups = check_int("Conv2d: groups", groups)
        for what, value in (("in_channels", self.in_channels),
                            ("out_channels", self.out_channels)):
            if value % self.groups:
                raise ValueError(f"Conv2d: {what} {value} is not divisible by groups "
                                 f"{self.groups}")
        self.dtype = check_float_dtype("Conv2d", dtype)
        check_rng("Conv2d", rng)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self._params["weight"] = he_uniform(shape, rng=rng, dtype=self.dtype)
        self._grads["weight"] = np.zeros(shape, dtype=self.dtype)
        if bias:
            self._params["bias"] = np.zeros(self.out_channels, dtype=self.dtype)
            self._grads["bias"] = np.zeros(self.out_channels, dtype=self.dtype)
        self.needs_input_grad = True
        self._saved = None

    def _forward(self, x):
        y, self._saved = C.conv2d_forward(
            x, self._params["weight"], self._params.get("bias"), stride=self.stride,
            padding=self.padding, dilation=self.dilation, groups=self.groups, name="Conv2d",
            save=is_grad_enabled())
        return y

    def _backward(self, dy):
        check_kept(self, self._saved)
        dx, dw, db = C.conv2d_backward_from_saved(dy, self._saved, self._params["weight"],
                                                  needs_input_grad=self.needs_input_grad)
        self._grads["weight"] = dw
        if "bias" in self._params:
            self._grads["bias"] = db
        return dx

    def out_shape(self, in_shape):
        _check_shape_channels("Conv2d", in_shape, 4, self.in_channels, "(N, C, H, W)")
        n, _, h, w = in_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.kernel_size, self.stride, self.padding,
                                                  self.dilation)
        return (n, self.out_channels, output_size(h, kh, stride=sh, padding=ph, dilation=dh),
                output_size(w, kw, stride=sw, padding=pw, dilation=dw))

    def macs(self, in_shape):
        n, f, ho, wo = self.out_shape(in_shape)
        per_output = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        return n * f * ho * wo * per_output

    def windows(self):
        return [(self.kernel_size[0], self.stride[0], self.dilation[0])]

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if "bias" in self._params else ", bias=False")


class ConvTranspose2d(Module):
    """Transposed convolution, to upsample; the maths is :func:`cnnlib.functional.conv_transpose2d`.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or (int, int)
    output_padding : int or (int, int), default 0
        Extra rows and columns at the bottom and right, smaller than the
        stride, which pick one of the sizes that convolve back down to H.
    bias : bool, default True
    rng : numpy.random.Generator
        Draws the He-uniform initial weights, with fan-in
        ``in_channels * KH * KW / (stride_h * stride_w)``, the number of
        terms an output pixel sums on average; biases start at zero.
    dtype : numpy float dtype, default float64

    Shape
    -----
    input (N, in_channels, H, W) -> output (N, out_channels, H_out, W_out) with
    ``H_out = (H - 1) stride - 2 padding + KH + output_padding``;
    ``params["weight"]`` is (in_channels, out_channels, KH, KW), as in PyTorch,
    and ``params["bias"]`` is (out_channels,).

    Attributes
    ----------
    needs_input_grad : bool, default True
        As for :class:`Conv2d`.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> up = cnnlib.ConvTranspose2d(8, 4, 4, stride=2, padding=1, rng=np.random.default_rng(0))
    >>> up.forward(np.zeros((2, 8, 5, 5))).shape
    (2, 4, 10, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True, *, rng, dtype=np.float64):
        super().__init__()
        self.in_channels = check_int("ConvTranspose2d: in_channels", in_channels)
        self.out_channels = check_int("ConvTranspose2d: out_channels", out_channels)
        self.kernel_size = pair(kernel_size, "ConvTranspose2d: kernel_size")
        self.stride = pair(stride, "ConvTranspose2d: stride")
        self.padding = pair(padding, "ConvTranspose2d: padding", minimum=0)
        self.output_padding = pair(output_padding, "ConvTranspose2d: output_padding", minimum=0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(f"ConvTranspose2d: output_padding must be smaller than the "
                             f"stride, got output_padding {self.output_padding} with "
                             f"stride {self.stride}")
        self.dtype = check_float_dtype("ConvTranspose2d", dtype)
        check_rng("ConvTranspose2d", rng)
        kh, kw = self.kernel_size
        shape = (self.in_channels, self.out_channels, kh, kw)
        fan_in = max(1.0, self.in_channels * kh * kw / (self.stride[0] * self.stride[1]))
        self._params["weight"] = he_uniform(shape, rng=rng, fan_in=fan_in, dtype=self.dtype)
        self._grads["weight"] = np.zeros(shape, dtype=self.dtype)
        if bias:
            self._params["bias"] = np.zeros(self.out_channels, dtype=self.dtype)
            self._grads["bias"] = np.zeros(self.out_channels, dtype=self.dtype)
        self.needs_input_grad = True
        self._saved = None

    def _forward(self, x):
        y, self._saved = C.conv_transpose2d_forward(
            x, self._params["weight"], self._params.get("bias"), stride=self.stride,
            padding=self.padding, output_padding=self.output_padding, name="ConvTranspose2d",
            save=is_grad_enabled())
        return y

    def _backward(self, dy):
        check_kept(self, self._saved)
        dx, dw, db = C.conv_transpose2d_backward_from_saved(
            dy, self._saved, self._params["weight"], needs_input_grad=self.needs_input_grad)
        self._grads["weight"] = dw
        if "bias" in self._params:
            self._grads["bias"] = db
        return dx

    def out_shape(self, in_shape):
        _check_shape_channels("ConvTranspose2d", in_shape, 4, self.in_channels, "(N, C, H, W)")
        n, _, h, w = in_shape
        sizes = [conv_transpose_output_size(size, k, stride=s, padding=p, output_padding=op)
                 for size, k, s, p, op in zip((h, w), self.kernel_size, self.stride,
                                              self.padding, self.output_padding)]
        return (n, self.out_channels, *sizes)

    def macs(self, in_shape):
        """Every input pixel meets every weight once: N H W C_in C_out KH KW."""
        self.out_shape(in_shape)
        n, _, h, w = in_shape
        return n * h * w * self._params["weight"].size

    def windows(self):
        # Upsampling by the stride (a window of 1 with stride 1/s), then a
        # stride-1 window of the kernel's size on the finer grid.
        return [(1, Fraction(1, self.stride[0]), 1), (self.kernel_size[0], 1, 1)]

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        return text + ("" if "bias" in self._params else ", bias=False")


class Linear(Module):
    """Fully connected layer ``y = x W^T + b``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
        Without a bias the layer has no ``"bias"`` key, as in PyTorch.
    rng : numpy.random.Generator
    dtype : numpy float dtype, default float64

    Shape
    -----
    input (N, in_features) -> output (N, out_features); ``params["weight"]``
    is (out_features, in_features), as in PyTorch.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> fc = cnnlib.Linear(4, 2, rng=np.random.default_rng(0))
    >>> fc.forward(np.ones((3, 4))).shape
    (3, 2)
    """

    def __init__(self, in_features, out_features, bias=True, *, rng, dtype=np.float64):
        super().__init__()
        self.in_features = check_int("Linear: in_features", in_features)
        self.out_features = check_int("Linear: out_features", out_features)
        self.dtype = check_float_dtype("Linear", dtype)
        check_rng("Linear", rng)
        shape = (self.out_features, self.in_features)
        self._params["weight"] = he_uniform(shape, rng=rng, dtype=self.dtype)
        self._grads["weight"] = np.zeros(shape, dtype=self.dtype)
        if bias:
            self._params["bias"] = np.zeros(self.out_features, dtype=self.dtype)
            self._grads["bias"] = np.zeros(self.out_features, dtype=self.dtype)
        self.needs_input_grad = True
        self._x = None

    def _forward(self, x):
        check_ndim("Linear", x, 2, "(N, features)")
        _check_channels("Linear", x, self.in_features, "features")
        self._x = x.copy()  # the caller may change x in place before backward
        y = x @ self._params["weight"].T
        if "bias" in self._params:
            y += self._params["bias"]
        return y

    def _backward(self, dy):
        self._grads["weight"] = dy.T @ self._x
        if "bias" in self._params:
            self._grads["bias"] = dy.sum(axis=0)
        return dy @ self._params["weight"] if self.needs_input_grad else None

    def out_shape(self, in_shape):
        _check_shape_channels("Linear", in_shape, 2, self.in_features, "(N, features)")
        return (in_shape[0], self.out_features)

    def macs(self, in_shape):
        return in_shape[0] * self.in_features * self.out_features

    def extra_repr(self):
        return (f"{self.in_features}, {self.out_features}"
                + ("" if "bias" in self._params else ", bias=False"))


class _Pool(Module):
    def __init__(self, kernel_size, stride=None, ceil_mode=False, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, f"{self.name}: kernel_size")
        self.stride = (self.kernel_size if stride is None
                       else pair(stride, f"{self.name}: stride"))
        self.padding = P.check_pool_padding(self.name, padding, self.kernel_size)
        self.ceil_mode = bool(ceil_mode)
        self._cache = None

    @property
    def size(self):
        """The window size; the same as ``kernel_size``."""
        return self.kernel_size

    def out_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"{self.name}: expected a 4-D input (N, C, H, W), got shape "
                             f"{tuple(in_shape)}")
        n, c, h, w = in_shape
        (k, s, p), mode = (self.kernel_size, self.stride, self.padding), self.ceil_mode
        return (n, c, output_size(h, k[0], stride=s[0], padding=p[0], ceil_mode=mode),
                output_size(w, k[1], stride=s[1], padding=p[1], ceil_mode=mode))

    def windows(self):
        return [(self.kernel_size[0], self.stride[0], 1)]

    def extra_repr(self):
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        text += f", padding={self.padding}" if any(self.padding) else ""
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool):
    """Max pooling; the maths is :func:`cnnlib.functional.max_pool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Minus infinity added on every side, at most half the window; the
        stem of ResNet uses ``MaxPool2d(3, 2, 1)``.
    ceil_mode : bool
        Keep a last, partial window (11 -> 6 with size 2), as PyTorch does.

    Shape
    -----
    (N, C, H, W) -> (N, C, H', W'); no parameters. Ties send the whole
    gradient to the first maximum in row-major order.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.MaxPool2d(2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, *, ceil_mode=False):
        super().__init__(kernel_size, stride, ceil_mode, padding)

    def _forward(self, x):
        y, winner = P.max_pool2d_with_indices(x, self.kernel_size, self.stride,
                                              padding=self.padding, ceil_mode=self.ceil_mode)
        self._cache = (x.shape, winner)
        return y

    def _backward(self, dy):
        x_shape, winner = self._cache
        return P.max_pool2d_backward_from_indices(dy, x_shape, winner, self.kernel_size,
                                                  self.stride, padding=self.padding,
                                                  ceil_mode=self.ceil_mode)


class AvgPool2d(_Pool):
    """Average pooling; the maths is :func:`cnnlib.functional.avg_pool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.

    Shape
    -----
    (N, C, H, W) -> (N, C, H', W'); no parameters.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.AvgPool2d(2).forward(np.ones((1, 1, 4, 4))).shape
    (1, 1, 2, 2)
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__(kernel_size, stride)

    def _forward(self, x):
        self._cache = x.shape
        return P.avg_pool2d(x, self.kernel_size, self.stride)

    def _backward(self, dy):
        return P.avg_pool2d_backward_from_shape(dy, self._cache, self.kernel_size, self.stride)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed size; the maths is :func:`cnnlib.functional.adaptive_avg_pool2d`.

    Window i along an axis of length n covers cells ``floor(i n / out)`` up to
    ``ceil((i + 1) n / out)``, PyTorch's rule, so any input size works.

    Parameters
    ----------
    output_size : int or (int, int)
        1 is global average pooling, the head of ResNet.

    Shape
    -----
    (N, C, H, W) -> (N, C, out_h, out_w); no parameters.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.AdaptiveAvgPool2d(1).forward(np.arange(8.0).reshape(1, 2, 2, 2))[:, :, 0, 0]
    array([[1.5, 5.5]])
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = pair(output_size, "AdaptiveAvgPool2d: output_size")
        self._x_shape = None

    def _forward(self, x):
        y = P.adaptive_avg_pool2d(x, self.output_size)
        self._x_shape = x.shape
        return y

    def _backward(self, dy):
        return P.adaptive_avg_pool2d_backward(dy, self._x_shape, self.output_size)

    def out_shape(self, in_shape):
        P.check_adaptive_shape("AdaptiveAvgPool2d", in_shape)
        return (*in_shape[:2], *self.output_size)

    def windows(self):
        raise ValueError("AdaptiveAvgPool2d: its window depends on the input size; call "
                         "receptive_field(model, input_shape=...) or use window_for(n)")

    def window_for(self, n, axis=0):
        """(kernel, stride) along ``axis`` for an input of length ``n``.

        The longest window and the mean step ``n / out`` (a Fraction): exact
        when ``out`` divides ``n``, an upper bound on the reach otherwise.
        """
        out = self.output_size[axis]
        starts, ends = P.adaptive_windows(n, out)
        return int((ends - starts).max()), Fraction(n, out)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class ReLU(Module):
    """max(x, 0), elementwise; any shape. The maths is :func:`cnnlib.functional.relu`.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.ReLU().forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    def _forward(self, x):
        self._mask = x > 0 if is_grad_enabled() else None
        return A.relu(x)

    def _backward(self, dy):
        check_kept(self, self._mask)
        return A.relu_backward_from_mask(dy, self._mask)


class GELU(Module):
    """GELU, by default in its tanh form (see :func:`cnnlib.functional.gelu`); any shape.

    Parameters
    ----------
    approximate : {"tanh", "none"}, default "tanh"
        PyTorch's names: "none" is the exact ``x Phi(x)``, which
        ``torch.nn.GELU()`` computes by default and the vision transformer and
        ConvNeXt use; "tanh" is the cheaper form the course's networks use.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> round(float(cnnlib.GELU().forward(np.array([1.0]))[0]), 4)
    0.8412
    >>> round(float(cnnlib.GELU(approximate="none").forward(np.array([1.0]))[0]), 4)
    0.8413
    """

    def __init__(self, approximate="tanh"):
        super().__init__()
        self.approximate = A.check_approximate("GELU", approximate)

    def _forward(self, x):
        x = A.as_float(x)
        if self.approximate == "none":
            y, t = A.gelu_erf_with_cdf(x)
        else:
            y, t = A.gelu_with_tanh(x)
        self._x, self._t = x.copy(order="K"), t
        return y

    def _backward(self, dy):
        if self.approximate == "none":
            return A.gelu_erf_backward(dy, self._x, self._t)
        return A.gelu_backward(dy, self._x, self._t)

    def extra_repr(self):
        return "" if self.approximate == "tanh" else f"approximate={self.approximate!r}"


class ReLU6(Module):
    """min(max(x, 0), 6), elementwise, MobileNetV2's activation; any shape.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.ReLU6().forward(np.array([-1.0, 2.0, 7.0]))
    array([0., 2., 6.])
    """

    def _forward(self, x):
        self._mask = (x > 0) & (x < 6)
        return A.relu6(x)

    def _backward(self, dy):
        return A.relu6_backward_from_mask(dy, self._mask)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise; any shape. The gate of squeeze-and-excitation.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.Sigmoid().forward(np.array([0.0]))
    array([0.5])
    """

    def _forward(self, x):
        y = A.sigmoid(x)
        self._y = y.copy()
        return y

    def _backward(self, dy):
        return A.sigmoid_backward(dy, self._y)


class Identity(Module):
    """Returns its input unchanged; any shape."""

    def _forward(self, x):
        return x

    def _backward(self, dy):
        return dy


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W), keeping the batch axis; works for N = 0.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.Flatten().forward(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    def _forward(self, x):
        if x.ndim < 1:
            raise ValueError(f"Flatten: expected an input with a batch axis, got shape "
                             f"{x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))

    def _backward(self, dy):
        return dy.reshape(self._shape)

    def out_shape(self, in_shape):
        return (in_shape[0], int(np.prod(in_shape[1:])))


class LogSoftmax(Module):
    """log(softmax(z)) over the last axis: (N, K) -> (N, K). Use with NLLLoss."""

    def _forward(self, z):
        y = A.log_softmax(A.as_float(z), axis=-1)
        self._y = y.copy()
        return y

    def _backward(self, dy):
        return A.log_softmax_backward(dy, self._y)
