"""Blocks of the mobile networks: squeeze-and-excitation and MobileNetV2's inverted residual."""

import numpy as np

from cnnlib.checks import check_int, check_number
from cnnlib.nn.layers import AdaptiveAvgPool2d, Conv2d, ReLU, ReLU6, Sigmoid
from cnnlib.nn.module import Module, Sequential, _container_repr
from cnnlib.nn.norm import BatchNorm2d


class SqueezeExcitation(Module):
    """Squeeze-and-excitation (Hu et al., 2018): rescale each channel by a learned gate.

    The gate squeezes each channel to its mean (global average pooling),
    passes the C means through a small bottleneck (1x1 convolution to
    ``squeeze_channels``, ReLU, 1x1 convolution back to C) and a sigmoid,
    and multiplies every channel of the input by its gate in (0, 1):
    ``y = x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``. Hu et al. squeeze by a
    ratio r = 16 (``squeeze_channels = C // 16``).

    Parameters
    ----------
    input_channels : int
    squeeze_channels : int
    rng : numpy.random.Generator
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, C, H, W) -> (N, C, H, W). Children and parameters carry
    torchvision's names: "fc1.weight" (squeeze, C, 1, 1), "fc1.bias",
    "fc2.weight" (C, squeeze, 1, 1), "fc2.bias".

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> se = cnnlib.SqueezeExcitation(16, 4, rng=np.random.default_rng(0))
    >>> se.forward(np.ones((2, 16, 5, 5))).shape, se.num_params()
    ((2, 16, 5, 5), 148)
    """

    global_receptive_field = True
    """Every output depends on the whole input (see :func:`cnnlib.tools.shapes.receptive_field`)."""

    def __init__(self, input_channels, squeeze_channels, *, rng, dtype=np.float64):
        super().__init__()
        c = check_int("SqueezeExcitation: input_channels", input_channels)
        s = check_int("SqueezeExcitation: squeeze_channels", squeeze_channels)
        self.input_channels, self.squeeze_channels = c, s
        layers = [("avgpool", AdaptiveAvgPool2d(1)),
                  ("fc1", Conv2d(c, s, 1, rng=rng, dtype=dtype)), ("activation", ReLU()),
                  ("fc2", Conv2d(s, c, 1, rng=rng, dtype=dtype)),
                  ("scale_activation", Sigmoid())]
        for name, layer in layers:
            self.add(name, layer)
        self.gate = Sequential(*(layer for _, layer in layers))
        self.dtype = self._children["fc1"].dtype
        self._cache = None

    def _forward(self, x):
        scale = self.gate.forward(x)
        self._cache = (x.copy(), scale)
        return x * scale

    def _backward(self, dy):
        x, scale = self._cache
        d_scale = (dy * x).sum(axis=(2, 3), keepdims=True)
        return dy * scale + self.gate.backward(d_scale)

    def out_shape(self, in_shape):
        self.gate.out_shape(in_shape)
        return tuple(in_shape)

    def macs(self, in_shape):
        """The two 1x1 convolutions on the (N, C, 1, 1) means; the gating product is not counted."""
        return self.gate.macs(in_shape)

    def windows(self):
        raise ValueError("SqueezeExcitation: the gate averages the whole map, so the "
                         "receptive field is the whole input")

    def extra_repr(self):
        return f"{self.input_channels}, {self.squeeze_channels}"


def _conv_norm_act(c_in, c_out, kernel, stride, groups, rng, dtype):
    """torchvision's Conv2dNormActivation with ReLU6: conv (no bias, same padding) - BN - ReLU6."""
    return Sequential(Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups,
                             bias=False, rng=rng, dtype=dtype),
                      BatchNorm2d(c_out, dtype=dtype), ReLU6())


class InvertedResidual(Module):
    """MobileNetV2's inverted residual block (Sandler et al., 2018), as in torchvision.

    A 1x1 convolution widens the channels by ``expand_ratio`` (left out when
    it is 1), a depthwise 3x3 convolution (with the stride) filters each
    channel, and a 1x1 convolution projects down to ``out_channels`` with no
    activation after it (a "linear bottleneck"). Each convolution has batch
    norm, the first two ReLU6. The input is added to the output when the
    stride is 1 and the channels are unchanged. The block is "inverted"
    because, unlike ResNet's bottleneck, it is narrow at the ends and wide
    in the middle.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : {1, 2}
    expand_ratio : float
        The hidden width is ``round(in_channels * expand_ratio)``; 6 in MobileNetV2.
    rng : numpy.random.Generator
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, in_channels, H, W) -> (N, out_channels, H', W') with
    ``H' = floor((H - 1) / stride) + 1``. Parameter names are torchvision's
    ("conv.0.0.weight" for the expansion, "conv.1.0.weight" for the
    depthwise convolution, "conv.2.weight" and "conv.3.*" for the projection
    and its batch norm), so its state dict loads directly.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> block = cnnlib.InvertedResidual(8, 8, 1, 6, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((2, 8, 5, 5))).shape, block.use_res_connect
    ((2, 8, 5, 5), True)
    """

    def __init__(self, in_channels, out_channels, stride, expand_ratio, *, rng,
                 dtype=np.float64):
        super().__init__()
        c_in = check_int("InvertedResidual: in_channels", in_channels)
        c_out = check_int("InvertedResidual: out_channels", out_channels)
        stride = check_int("InvertedResidual: stride", stride)
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        ratio = check_number("InvertedResidual: expand_ratio", expand_ratio, low=0,
                             low_open=True)
        hidden = int(round(c_in * ratio))
        if hidden < 1:
            raise ValueError(f"InvertedResidual: expand_ratio {expand_ratio} leaves no hidden "
                             f"channels for {c_in} input channels")
        self.in_channels, self.out_channels, self.stride = c_in, c_out, stride
        self.expand_ratio, self.hidden_channels = ratio, hidden
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = []
        if ratio != 1:
            layers.append(_conv_norm_act(c_in, hidden, 1, 1, 1, rng, dtype))
        layers += [_conv_norm_act(hidden, hidden, 3, stride, hidden, rng, dtype),
                   Conv2d(hidden, c_out, 1, bias=False, rng=rng, dtype=dtype),
                   BatchNorm2d(c_out, dtype=dtype)]
        self.conv = self.add("conv", Sequential(*layers))
        self.dtype = np.dtype(dtype)

    def _forward(self, x):
        y = self.conv.forward(x)
        return y + x if self.use_res_connect else y

    def _backward(self, dy):
        dx = self.conv.backward(dy)
        return dx + dy if self.use_res_connect else dx

    def out_shape(self, in_shape):
        return self.conv.out_shape(in_shape)

    def macs(self, in_shape):
        return self.conv.macs(in_shape)

    def windows(self):
        return self.conv.windows()

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, stride={self.stride}, "
                f"expand_ratio={self.expand_ratio:g}")

    def __repr__(self):
        return _container_repr(self)
