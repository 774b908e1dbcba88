"""Blocks built from layers: the residual block of ResNet and its bottleneck form."""

import numpy as np

from cnnlib.checks import check_int
from cnnlib.nn.layers import Conv2d, ReLU
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.norm import BatchNorm2d


class _ShortcutBlock(Module):
    """``relu(body(x) + shortcut(x))``; subclasses build both with :meth:`_build`."""

    def _build(self, layers, channels, out_channels, stride, rng, dtype):
        """Register the body's ``layers`` (name, layer), and a 1x1 projection shortcut
        (with batch norm) when the channels or the stride change; else the identity."""
        for name, layer in layers:
            self.add(name, layer)
        self.body = Sequential(*(layer for _, layer in layers))
        if stride != 1 or out_channels != channels:
            self.add("proj", Conv2d(channels, out_channels, 1, stride, bias=False, rng=rng,
                                    dtype=dtype))
            self.add("proj_bn", BatchNorm2d(out_channels, dtype=dtype))
            self.shortcut = Sequential(self._children["proj"], self._children["proj_bn"])
        else:
            self.shortcut = None
        self.out_relu = ReLU()
        self.dtype = self._children["conv1"].dtype

    def _forward(self, x):
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        return self.out_relu.forward(self.body.forward(x) + skip)

    def _backward(self, dy):
        d_sum = self.out_relu.backward(dy)
        dx = self.body.backward(d_sum)
        if self.shortcut is None:
            return dx + d_sum
        return dx + self.shortcut.backward(d_sum)

    def out_shape(self, in_shape):
        return self.body.out_shape(in_shape)

    def windows(self):
        return self.body.windows()

    def macs(self, in_shape):
        total = self.body.macs(in_shape)
        if self.shortcut is not None:
            total += self.shortcut.macs(in_shape)
        return total


class ResidualBlock(_ShortcutBlock):
    """``relu(F(x) + shortcut(x))`` with ``F`` = conv3x3-BN-ReLU-conv3x3-BN.

    The shortcut is the identity when the shape is unchanged, and a 1x1
    convolution (with batch norm) when the channels or the stride change.

    Parameters
    ----------
    channels : int
        Input channels.
    out_channels : int, optional
        Output channels; defaults to ``channels``.
    stride : int
        Stride of the first 3x3 convolution (and of the projection).
    rng : numpy.random.Generator
    dtype : numpy dtype

    Shape
    -----
    (N, channels, H, W) -> (N, out_channels, H', W'), with
    ``H' = floor((H - 1) / stride) + 1``.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> block = cnnlib.ResidualBlock(4, 8, stride=2, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((2, 4, 6, 6))).shape
    (2, 8, 3, 3)
    """

    def __init__(self, channels, out_channels=None, stride=1, *, rng, dtype=np.float64):
        super().__init__()
        channels = check_int("ResidualBlock: channels", channels)
        out_channels = (channels if out_channels is None
                        else check_int("ResidualBlock: out_channels", out_channels))
        stride = check_int("ResidualBlock: stride", stride)
        self.channels, self.out_channels, self.stride = channels, out_channels, stride
        self._build([("conv1", Conv2d(channels, out_channels, 3, stride, 1, bias=False,
                                      rng=rng, dtype=dtype)),
                     ("bn1", BatchNorm2d(out_channels, dtype=dtype)), ("relu1", ReLU()),
                     ("conv2", Conv2d(out_channels, out_channels, 3, 1, 1, bias=False,
                                      rng=rng, dtype=dtype)),
                     ("bn2", BatchNorm2d(out_channels, dtype=dtype))],
                    channels, out_channels, stride, rng, dtype)

    def extra_repr(self):
        text = f"{self.channels}, {self.out_channels}"
        return text + (f", stride={self.stride}" if self.stride != 1 else "")


class Bottleneck(_ShortcutBlock):
    """The bottleneck block of ResNet-50: ``relu(F(x) + shortcut(x))`` with 1x1 convolutions.

    ``F`` is conv1x1 (channels -> width) - BN - ReLU - conv3x3 (width ->
    width, with the stride) - BN - ReLU - conv1x1 (width -> out_channels) -
    BN. The 1x1 convolutions shrink the channels before the expensive 3x3
    one and widen them after it. The shortcut is the identity when the shape
    is unchanged, else a strided 1x1 convolution with batch norm, as in
    torchvision (ResNet v1.5, stride on the 3x3 convolution).

    Parameters
    ----------
    channels : int
        Input channels.
    width : int
        Channels of the two inner convolutions.
    out_channels : int, optional
        Defaults to ``4 * width``, ResNet's expansion.
    stride : int
    groups : int, default 1
        Groups of the 3x3 convolution (32 in ResNeXt); divides ``width``.
    rng : numpy.random.Generator
    dtype : numpy dtype

    Shape
    -----
    (N, channels, H, W) -> (N, out_channels, H', W'), with
    ``H' = floor((H - 1) / stride) + 1``.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> block = cnnlib.Bottleneck(16, 4, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((2, 16, 6, 6))).shape
    (2, 16, 6, 6)
    >>> block.num_params()  # 16*4 + 4*4*9 + 4*16 weights, 2*(4+4+16) BN parameters
    320
    """

    def __init__(self, channels, width, out_channels=None, stride=1, groups=1, *, rng,
                 dtype=np.float64):
        super().__init__()
        channels = check_int("Bottleneck: channels", channels)
        width = check_int("Bottleneck: width", width)
        out_channels = (4 * width if out_channels is None
                        else check_int("Bottleneck: out_channels", out_channels))
        stride = check_int("Bottleneck: stride", stride)
        self.channels, self.width, self.out_channels = channels, width, out_channels
        self.stride = stride
        layers = [("conv1", Conv2d(channels, width, 1, bias=False, rng=rng, dtype=dtype)),
                  ("bn1", BatchNorm2d(width, dtype=dtype)), ("relu1", ReLU()),
                  ("conv2", Conv2d(width, width, 3, stride, 1, groups=groups, bias=False,
                                   rng=rng, dtype=dtype)),
                  ("bn2", BatchNorm2d(width, dtype=dtype)), ("relu2", ReLU()),
                  ("conv3", Conv2d(width, out_channels, 1, bias=False, rng=rng, dtype=dtype)),
                  ("bn3", BatchNorm2d(out_channels, dtype=dtype))]
        self._build(layers, channels, out_channels, stride, rng, dtype)

    def extra_repr(self):
        text = f"{self.channels}, {self.width}, {self.out_channels}"
        return text + (f", stride={self.stride}" if self.stride != 1 else "")
