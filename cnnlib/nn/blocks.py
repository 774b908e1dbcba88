"""Blocks built from layers: ResNet's residual and bottleneck blocks, and parallel branches."""

import numpy as np

from cnnlib.checks import check_int
from cnnlib.nn.layers import Conv2d, ReLU
from cnnlib.nn.module import Module, Sequential, _container_repr
from cnnlib.nn.norm import BatchNorm2d
from cnnlib.nn.windows import grow_receptive_field


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


class Branches(Module):
    """Parallel branches on one input, their outputs joined along the channel axis.

    The multi-branch block of Inception (GoogLeNet) and, with an
    :class:`~cnnlib.nn.layers.Identity` branch, U-Net's skip connection
    that stacks the encoder's maps beside the decoder's. ``backward`` splits
    ``dy`` by channels, sends each part back through its branch and adds
    the input gradients.

    Parameters
    ----------
    *branches : Module
        At least one; each maps (N, C, H, W) to (N, C_i, H', W') with the
        same N, H', W'.

    Shape
    -----
    (N, C, H, W) -> (N, sum of C_i, H', W').

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> block = cnnlib.Branches(cnnlib.Conv2d(3, 4, 1, rng=rng),
    ...                         cnnlib.Conv2d(3, 2, 3, padding=1, rng=rng))
    >>> block.forward(np.ones((2, 3, 5, 5))).shape
    (2, 6, 5, 5)
    """

    def __init__(self, *branches):
        super().__init__()
        if not branches:
            raise ValueError("Branches: give at least one branch")
        for i, branch in enumerate(branches):
            self.add(str(i), branch)
        dtypes = {b.dtype for b in self._children.values() if b.dtype is not None}
        if len(dtypes) > 1:
            raise TypeError(f"Branches: the branches mix dtypes {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop() if dtypes else None

    def _forward(self, x):
        outs = [branch.forward(x) for branch in self._children.values()]
        self._check_join([o.shape for o in outs])
        self._split = np.cumsum([o.shape[1] for o in outs])[:-1]
        return np.concatenate(outs, axis=1)

    def _backward(self, dy):
        parts = np.split(dy, self._split, axis=1)
        dx = None
        for branch, part in zip(self._children.values(), parts):
            d = branch.backward(np.ascontiguousarray(part))
            dx = d if dx is None else dx + d
        return dx

    def _check_join(self, shapes):
        if len({(s[0],) + tuple(s[2:]) for s in shapes}) > 1:
            raise ValueError(f"Branches: the branches' outputs {[tuple(s) for s in shapes]} "
                             f"differ in more than the channel axis, so they cannot be joined")

    def out_shape(self, in_shape):
        shapes = [b.out_shape(in_shape) for b in self._children.values()]
        self._check_join(shapes)
        return (shapes[0][0], sum(s[1] for s in shapes)) + tuple(shapes[0][2:])

    def macs(self, in_shape):
        return sum(b.macs(in_shape) for b in self._children.values())

    def windows(self):
        """The windows of the branch that sees furthest: the union of the fields."""
        chains = [b.windows() for b in self._children.values()]
        return max(chains, key=lambda w: grow_receptive_field(w)[-1][0])

    def __repr__(self):
        return _container_repr(self)
