"""Layers that wrap the functional ops and keep their own cache, params and grads."""

import numpy as np

from cnnlib import functional as F
from cnnlib.checks import check_ndim, pair
from cnnlib.init import he_uniform
from cnnlib.module import Module, as_layer_input


class Conv2d(Module):
    """2-D convolution layer.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or (int, int)
    rng : numpy.random.Generator
        Draws the He-uniform initial weights; biases start at zero.
    dtype : numpy dtype, default float64
    bias : bool, default True

    Shapes: input (N, in_channels, H, W) -> output (N, out_channels, H', W');
    ``params["weight"]`` is (out_channels, in_channels, KH, KW).

    Attributes
    ----------
    needs_input_grad : bool, default True
        Set it to False on a network's first layer: ``backward`` then skips
        the gradient with respect to the input (the data, which is never
        trained) and returns None. PyTorch skips it too.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 *, rng, dtype=np.float64, bias=True):
        super().__init__()
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = pair(padding, "Conv2d: padding")
        if min(self.stride) < 1:
            raise ValueError(f"Conv2d: stride must be positive, got {stride}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dtype = np.dtype(dtype)
        shape = (out_channels, in_channels, *self.kernel_size)
        self._params["weight"] = he_uniform(shape, rng=rng, dtype=dtype)
        self._grads["weight"] = np.zeros(shape, dtype=dtype)
        if bias:
            self._params["bias"] = np.zeros(out_channels, dtype=dtype)
            self._grads["bias"] = np.zeros(out_channels, dtype=dtype)
        self.needs_input_grad = True
        self._cache = None

    def forward(self, x):
        x = as_layer_input("Conv2d", x, self.dtype)
        check_ndim("Conv2d", x, 4, "(N, C, H, W)")
        w = self._params["weight"]
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d: input has {x.shape[1]} channels but the kernel expects "
                f"{self.in_channels} (input shape {x.shape})")
        cols, (ho, wo) = F.im2col(x, self.kernel_size, stride=self.stride,
                                  padding=self.padding, name="Conv2d")
        self._cache = (x, cols)
        return F.conv2d_from_cols(cols, w, self._params.get("bias"), (x.shape[0], ho, wo))

    def backward(self, dy):
        x, cols = self._cache
        dx, dw, db = F.conv2d_backward(dy, x, self._params["weight"], stride=self.stride,
                                       padding=self.padding, cols=cols,
                                       needs_input_grad=self.needs_input_grad)
        self._grads["weight"] = dw
        if "bias" in self._params:
            self._grads["bias"] = db
        return dx

    def out_shape(self, in_shape):
        n, _, h, w = in_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (n, self.out_channels, F.output_size(h, kh, stride=sh, padding=ph),
                F.output_size(w, kw, stride=sw, padding=pw))

    def macs(self, in_shape):
        n, f, ho, wo = self.out_shape(in_shape)
        return n * f * ho * wo * self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    def window(self):
        return self.kernel_size[0], self.stride[0]

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class Linear(Module):
    """Fully connected layer ``y = x W^T + b``.

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float64

    Shapes: input (N, in_features) -> output (N, out_features);
    ``params["weight"]`` is (out_features, in_features), as in PyTorch.
    """

    def __init__(self, in_features, out_features, *, rng, dtype=np.float64):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.dtype = np.dtype(dtype)
        shape = (out_features, in_features)
        self._params["weight"] = he_uniform(shape, rng=rng, dtype=dtype)
        self._params["bias"] = np.zeros(out_features, dtype=dtype)
        self._grads["weight"] = np.zeros(shape, dtype=dtype)
        self._grads["bias"] = np.zeros(out_features, dtype=dtype)
        self._x = None

    def forward(self, x):
        x = as_layer_input("Linear", x, self.dtype)
        check_ndim("Linear", x, 2, "(N, features)")
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear: input has {x.shape[1]} features but the layer expects "
                f"{self.in_features} (input shape {x.shape})")
        self._x = x
        return x @ self._params["weight"].T + self._params["bias"]

    def backward(self, dy):
        self._grads["weight"] = dy.T @ self._x
        self._grads["bias"] = dy.sum(axis=0)
        return dy @ self._params["weight"]

    def out_shape(self, in_shape):
        return (in_shape[0], self.out_features)

    def macs(self, in_shape):
        return in_shape[0] * self.in_features * self.out_features

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"


class _Pool(Module):
    def __init__(self, size, stride=None, ceil_mode=False):
        super().__init__()
        self.size = pair(size, f"{type(self).__name__}: size")
        self.stride = self.size if stride is None else pair(stride, f"{type(self).__name__}: stride")
        if min(self.stride) < 1:
            raise ValueError(f"{type(self).__name__}: stride must be positive, got {stride}")
        self.ceil_mode = ceil_mode
        self._cache = None

    def out_shape(self, in_shape):
        n, c, h, w = in_shape
        return (n, c,
                F.output_size(h, self.size[0], stride=self.stride[0], ceil_mode=self.ceil_mode),
                F.output_size(w, self.size[1], stride=self.stride[1], ceil_mode=self.ceil_mode))

    def window(self):
        return self.size[0], self.stride[0]

    def extra_repr(self):
        text = f"size={self.size}, stride={self.stride}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool):
    """Max pooling. Input (N, C, H, W) -> (N, C, H', W'); no parameters.

    Ties send the whole gradient to the first maximum in row-major order.
    """

    def __init__(self, size, stride=None, *, ceil_mode=False):
        super().__init__(size, stride, ceil_mode)

    def forward(self, x):
        y, winner = F.max_pool2d_with_indices(x, self.size, self.stride, ceil_mode=self.ceil_mode)
        self._cache = (x, winner)
        return y

    def backward(self, dy):
        x, winner = self._cache
        return F.max_pool2d_backward(dy, x, self.size, self.stride,
                                     ceil_mode=self.ceil_mode, winner=winner)


class AvgPool2d(_Pool):
    """Average pooling. Input (N, C, H, W) -> (N, C, H', W'); no parameters."""

    def __init__(self, size, stride=None):
        super().__init__(size, stride)

    def forward(self, x):
        self._cache = np.asarray(x)
        return F.avg_pool2d(x, self.size, self.stride)

    def backward(self, dy):
        return F.avg_pool2d_backward(dy, self._cache, self.size, self.stride)


class ReLU(Module):
    """max(x, 0), elementwise; any shape."""

    def forward(self, x):
        self._x = np.asarray(x)
        return F.relu(self._x)

    def backward(self, dy):
        return F.relu_backward(dy, self._x)


class GELU(Module):
    """GELU, tanh form (see :func:`cnnlib.functional.gelu`); any shape."""

    def forward(self, x):
        self._x = np.asarray(x)
        y, self._t = F.gelu_with_tanh(self._x)
        return y

    def backward(self, dy):
        return F.gelu_backward(dy, self._x, self._t)


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W), keeping the batch axis."""

    def forward(self, x):
        x = np.asarray(x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)

    def out_shape(self, in_shape):
        return (in_shape[0], int(np.prod(in_shape[1:])))


class LogSoftmax(Module):
    """log(softmax(z)) over the last axis: (N, K) -> (N, K)."""

    def forward(self, z):
        self._y = F.log_softmax(np.asarray(z), axis=-1)
        return self._y

    def backward(self, dy):
        p = np.exp(self._y)
        return dy - p * dy.sum(axis=-1, keepdims=True)
