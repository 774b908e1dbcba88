"""The model zoo: every named network of the course, one builder each.

Every builder takes ``rng`` (keyword-only, a numpy Generator that draws the
initial weights) and returns a :class:`~cnnlib.Sequential`.

| builder | input | used in |
|---|---|---|
| :func:`tl_cnn`, :func:`tl_dense` | (N, 1, 8, 8) T or L | the first CNN |
| :func:`lenet5` | (N, 1, 32, 32) | architectures |
| :func:`plain_net`, :func:`small_resnet` | (N, 1, 8, 8) digits | architectures |
| :func:`digits_cnn` | (N, 1, 8, 8) digits | training |
| :func:`letters_cnn`, :func:`letters_dense` | (N, 1, 28, 28) letters | training |
| :func:`fashion_cnn`, :func:`fashion_resnet` | (N, 1, 28, 28) clothing | real data |
| :func:`small_convnext`, :func:`small_vit` | (N, 1, 28, 28) clothing | modern ConvNets and ViTs |
| :func:`convnext_tiny`, :func:`vit_b_16` | (N, 3, 224, 224) | modern ConvNets and ViTs |
"""

import numpy as np

from cnnlib.checks import check_int
from cnnlib.init import trunc_normal
from cnnlib.nn.blocks import Bottleneck, ResidualBlock
from cnnlib.nn.convnext import ConvNeXtBlock
from cnnlib.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, GELU, Linear,
                              LogSoftmax, MaxPool2d, ReLU)
from cnnlib.nn.module import Sequential
from cnnlib.nn.norm import BatchNorm2d, Dropout
from cnnlib.nn.normalization import LayerNorm, LayerNorm2d
from cnnlib.nn.transformer import (ClassToken, EncoderBlock, PatchEmbedding, PositionalEmbedding,
                                   SelectToken)


def tl_cnn(kernels=1, hidden=None, *, rng):
    """A CNN for 8x8 images: conv 3x3 + ReLU, max-pool 2, then a small dense head.

    ``kernels=1`` gives the single-kernel model (9 -> 4 -> 1) and
    ``kernels=4`` the four-kernel model (36 -> 8 -> 1).

    Parameters
    ----------
    kernels : int
        Number of 3x3 kernels (output channels of the convolution).
    hidden : int, optional
        Width of the hidden dense layer; 4 for one kernel, else 2 * kernels.
    rng : numpy.random.Generator
        Draws the initial weights.

    Returns
    -------
    Sequential
        Input (N, 1, 8, 8) -> output (N, 1). Layer 0 is the convolution and
        layer 1 its ReLU, so ``model[1](model[0](x))`` are the feature maps,
        shape (N, kernels, 6, 6).
    """
    kernels = check_int("tl_cnn: kernels", kernels)
    if hidden is None:
        hidden = 4 if kernels == 1 else 2 * kernels
    hidden = check_int("tl_cnn: hidden", hidden)
    return Sequential(
        Conv2d(1, kernels, 3, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
        Linear(9 * kernels, hidden, rng=rng), ReLU(), Linear(hidden, 1, rng=rng))


def tl_dense(hidden=16, *, rng, pixels=64):
    """A fully connected network on the raw pixels: pixels -> hidden (ReLU) -> 1.

    Parameters
    ----------
    hidden : int
    rng : numpy.random.Generator
    pixels : int
        Number of input pixels (64 for 8x8 images).

    Returns
    -------
    Sequential
        Input (N, 1, 8, 8) -> output (N, 1).
    """
    return Sequential(Flatten(), Linear(pixels, hidden, rng=rng), ReLU(),
                      Linear(hidden, 1, rng=rng))


def lenet5(num_classes=10, *, rng, dtype=np.float32):
    """LeNet-5 for 32x32 grey images, simplified (see the notes).

    conv5x5 6 -> avgpool 2 -> conv5x5 16 -> avgpool 2 -> 120 -> 84 -> 10,
    with ReLU after every layer except the last.

    Notes
    -----
    Differences from LeCun et al. (1998): every C3 map sees all six S2 maps
    (the paper wires each to a subset), the pooling layers have no trainable
    coefficient and bias, ReLU replaces the scaled tanh, C5 is written as a
    Linear layer on the flattened 16x5x5 maps (the same 48,120 weights), and
    the output is an ordinary Linear layer instead of RBF units.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 32, 32) -> scores (N, num_classes).
    """
    return Sequential(
        Conv2d(1, 6, 5, rng=rng, dtype=dtype), ReLU(), AvgPool2d(2),
        Conv2d(6, 16, 5, rng=rng, dtype=dtype), ReLU(), AvgPool2d(2),
        Flatten(),
        Linear(16 * 5 * 5, 120, rng=rng, dtype=dtype), ReLU(),
        Linear(120, 84, rng=rng, dtype=dtype), ReLU(),
        Linear(84, num_classes, rng=rng, dtype=dtype),
    )


def _blocks(depth):
    if not isinstance(depth, int) or depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even number >= 4 (stem + 2 per block + head), "
                         f"got {depth}")
    return (depth - 2) // 2


def _stem(in_channels, channels, rng, dtype):
    return [Conv2d(in_channels, channels, 3, padding=1, rng=rng, dtype=dtype, bias=False),
            BatchNorm2d(channels, dtype=dtype), ReLU()]


def _head(channels, size, n_classes, rng, dtype):
    return [AvgPool2d(size), Flatten(), Linear(channels, n_classes, rng=rng, dtype=dtype)]


def plain_net(depth, channels, *, rng, in_channels=1, size=8, n_classes=10,
              dtype=np.float64):
    """A deep CNN without shortcuts, built like :func:`resnet` minus the skips.

    Layout: conv3x3-BN-ReLU stem, then ``(depth - 2) // 2`` pairs
    conv3x3-BN-ReLU-conv3x3-BN-ReLU, then global average pooling and a
    Linear layer. ``depth`` counts the layers with weights (convolutions and
    the Linear layer), as the ResNet paper does. Convolutions keep the size
    (padding 1) and have no bias, since BN follows each one.

    Parameters
    ----------
    depth : int
        Even, at least 4; 20 gives 19 convolutions and one Linear layer.
    channels : int
    rng : numpy.random.Generator
    in_channels, size, n_classes : int
        Input channels, input height (= width) and number of classes.
    dtype : numpy dtype

    Returns
    -------
    Sequential
        Input (N, in_channels, size, size) -> scores (N, n_classes).

    With the same ``rng`` state, :func:`plain_net` and :func:`small_resnet` draw
    identical initial weights, so the two differ only in the shortcuts.
    """
    layers = _stem(in_channels, channels, rng, dtype)
    for _ in range(_blocks(depth)):
        for _ in range(2):
            layers += [Conv2d(channels, channels, 3, padding=1, rng=rng, dtype=dtype,
                              bias=False),
                       BatchNorm2d(channels, dtype=dtype), ReLU()]
    return Sequential(*layers, *_head(channels, size, n_classes, rng, dtype))


def small_resnet(depth, channels, *, rng, in_channels=1, size=8, n_classes=10,
                 dtype=np.float64):
    """A small ResNet: :func:`plain_net` with an identity shortcut around every pair.

    Layout: conv3x3-BN-ReLU stem, ``(depth - 2) // 2`` identity
    :class:`~cnnlib.ResidualBlock` s, global average pooling and a Linear
    layer. Parameters and return value as for :func:`plain_net`.
    """
    layers = _stem(in_channels, channels, rng, dtype)
    layers += [ResidualBlock(channels, rng=rng, dtype=dtype) for _ in range(_blocks(depth))]
    return Sequential(*layers, *_head(channels, size, n_classes, rng, dtype))


def digits_cnn(*, rng, channels=(16, 32), dtype=np.float64):
    """A small CNN for 8x8 digits.

    conv3x3 (padding 1) -> ReLU -> maxpool 2, twice (8x8 -> 4x4 -> 2x2), then
    flatten and one Linear layer to 10 scores (use with CrossEntropyLoss).

    Parameters
    ----------
    rng : numpy.random.Generator
    channels : (int, int)
        Output channels of the two convolutions.
    dtype : numpy dtype

    Returns
    -------
    Sequential
        Input (N, 1, 8, 8) -> scores (N, 10).
    """
    c1, c2 = channels
    return Sequential(
        Conv2d(1, c1, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
        Flatten(), Linear(c2 * 2 * 2, 10, rng=rng, dtype=dtype),
    )


def letters_cnn(num_classes=26, *, rng, dtype=np.float32):
    """The letters network: 3 x (conv3x3 -> maxpool 2 -> GELU), then 512-64-128-26.

    Shapes: 28 -> conv 26 -> pool 13 -> conv 11 -> pool (ceil mode) 6 ->
    conv 4 -> pool 2, with 32, 64 and 128 channels, so the flattened vector
    has 128 * 2 * 2 = 512 entries. GELU sits between the Linear layers and
    LogSoftmax at the end (use with NLLLoss). 137,178 parameters.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> log-probabilities (N, num_classes).
    """
    return Sequential(
        Conv2d(1, 32, 3, rng=rng, dtype=dtype), MaxPool2d(2), GELU(),
        Conv2d(32, 64, 3, rng=rng, dtype=dtype), MaxPool2d(2, ceil_mode=True), GELU(),
        Conv2d(64, 128, 3, rng=rng, dtype=dtype), MaxPool2d(2), GELU(),
        Flatten(),
        Linear(512, 64, rng=rng, dtype=dtype), GELU(),
        Linear(64, 128, rng=rng, dtype=dtype), GELU(),
        Linear(128, num_classes, rng=rng, dtype=dtype), LogSoftmax(),
    )


def letters_dense(num_classes=26, *, rng, hidden=(160, 64), dtype=np.float32):
    """A dense network of about the letters CNN's size: 784-160-64-26.

    Flatten, then Linear layers with GELU between them and LogSoftmax at the
    end (use with NLLLoss). With the default ``hidden`` it has 137,594
    parameters, against the CNN's 137,178.

    Parameters
    ----------
    rng : numpy.random.Generator
    hidden : tuple of int
        Widths of the hidden layers.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> log-probabilities (N, 26).
    """
    widths = (28 * 28, *hidden)
    layers = [Flatten()]
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [Linear(n_in, n_out, rng=rng, dtype=dtype), GELU()]
    layers += [Linear(widths[-1], num_classes, rng=rng, dtype=dtype), LogSoftmax()]
    return Sequential(*layers)


def fashion_cnn(num_classes=10, *, rng, channels=(32, 64, 96), dtype=np.float32):
    """A small CNN for 28x28 clothing images: three conv-BN-ReLU-maxpool stages and a Linear head.

    Shapes: 28 -> pool 14 -> pool 7 -> pool 3, so the flattened vector has
    ``channels[2] * 3 * 3`` entries. With the default channels it has
    83,050 parameters, under the 100K of the Fashion-MNIST benchmark's
    small entries. Use with CrossEntropyLoss.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    channels : (int, int, int)
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> scores (N, num_classes).
    """
    c1, c2, c3 = channels
    return Sequential(
        *_conv_bn_relu(1, c1, 3, rng, dtype), MaxPool2d(2),
        *_conv_bn_relu(c1, c2, 3, rng, dtype), MaxPool2d(2),
        *_conv_bn_relu(c2, c3, 3, rng, dtype), MaxPool2d(2),
        Flatten(), Linear(c3 * 3 * 3, num_classes, rng=rng, dtype=dtype))


def fashion_resnet(num_classes=10, *, rng, channels=(24, 48, 96), dtype=np.float32):
    """A small ResNet for 28x28 images, built from the course's ResidualBlock.

    A conv-BN-ReLU stem with ``channels[0]`` maps at 28x28, then one residual
    block per further entry of ``channels``, each halving the size and
    changing the channels (with a 1x1 projection shortcut): with the default
    three entries 28 -> 14 -> 7, with five 28 -> 14 -> 7 -> 4 -> 2. Global
    average pooling and a Linear layer make the head. Use with
    CrossEntropyLoss.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    channels : sequence of int
        The stem's width, then each block's; 2 to 6 entries.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> scores (N, num_classes).
    """
    if not isinstance(channels, (list, tuple)) or not 2 <= len(channels) <= 6:
        raise ValueError(f"fashion_resnet: channels must be a list of 2 to 6 widths, "
                         f"got {channels!r}")
    channels = [check_int("fashion_resnet: channels", c) for c in channels]
    layers, size = list(_conv_bn_relu(1, channels[0], 3, rng, dtype)), 28
    for c_in, c_out in zip(channels, channels[1:]):
        layers.append(ResidualBlock(c_in, c_out, stride=2, rng=rng, dtype=dtype))
        size = (size - 1) // 2 + 1
    return Sequential(*layers, AvgPool2d(size), Flatten(),
                      Linear(channels[-1], num_classes, rng=rng, dtype=dtype))


def alexnet(num_classes=1000, *, rng, dtype=np.float32, dropout=0.5):
    """AlexNet as torchvision builds it, one tower (64-192-384-256-256): 61,100,840 parameters.

    conv11x11/4 - maxpool - conv5x5 - maxpool - three conv3x3 - maxpool, then
    adaptive average pooling to 6x6 and three Linear layers with dropout
    before the first two. Krizhevsky et al. (2012) split the network over two
    GPUs with 96-256-384-384-256 channels; torchvision's single-tower variant,
    from Krizhevsky's "one weird trick" paper (2014), is the one counted here.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
        Draws the initial weights and, later, the dropout masks.
    dtype : numpy dtype, default float32
    dropout : float
        Dropout probability of the classifier.

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes).
    """
    num_classes = check_int("alexnet: num_classes", num_classes)

    def conv(c_in, c_out, k, stride=1, padding=0):
        return [Conv2d(c_in, c_out, k, stride, padding, rng=rng, dtype=dtype), ReLU()]

    return Sequential(
        *conv(3, 64, 11, 4, 2), MaxPool2d(3, 2),
        *conv(64, 192, 5, padding=2), MaxPool2d(3, 2),
        *conv(192, 384, 3, padding=1), *conv(384, 256, 3, padding=1),
        *conv(256, 256, 3, padding=1), MaxPool2d(3, 2),
        AdaptiveAvgPool2d(6), Flatten(),
        Dropout(dropout, rng=rng), Linear(256 * 6 * 6, 4096, rng=rng, dtype=dtype), ReLU(),
        Dropout(dropout, rng=rng), Linear(4096, 4096, rng=rng, dtype=dtype), ReLU(),
        Linear(4096, num_classes, rng=rng, dtype=dtype),
    )


VGG16_CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M")
"""VGG-16's configuration D: conv3x3 output channels, "M" for a 2x2 max-pool."""


def vgg16(num_classes=1000, *, rng, dtype=np.float32, dropout=0.5):
    """VGG-16 (Simonyan and Zisserman, 2015, configuration D): 138,357,544 parameters.

    Thirteen conv3x3 layers (padding 1, each followed by ReLU) in five stages
    that end in a 2x2 max-pool, then adaptive average pooling to 7x7 (the
    identity at 224x224, as in torchvision) and three Linear layers, with
    dropout after the first two.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32
    dropout : float

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes).
    """
    num_classes = check_int("vgg16: num_classes", num_classes)
    layers, c_in = [], 3
    for item in VGG16_CHANNELS:
        if item == "M":
            layers.append(MaxPool2d(2))
        else:
            layers += [Conv2d(c_in, item, 3, padding=1, rng=rng, dtype=dtype), ReLU()]
            c_in = item
    return Sequential(
        *layers, AdaptiveAvgPool2d(7), Flatten(),
        Linear(512 * 7 * 7, 4096, rng=rng, dtype=dtype), ReLU(), Dropout(dropout, rng=rng),
        Linear(4096, 4096, rng=rng, dtype=dtype), ReLU(), Dropout(dropout, rng=rng),
        Linear(4096, num_classes, rng=rng, dtype=dtype),
    )


def _imagenet_stem(rng, dtype):
    """conv7x7/2 (3 -> 64, no bias) - BN - ReLU - maxpool 3x3/2 padded by 1: 224 -> 56."""
    return [Conv2d(3, 64, 7, 2, 3, bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(64, dtype=dtype), ReLU(), MaxPool2d(3, 2, 1)]


def resnet18(num_classes=1000, *, rng, dtype=np.float32):
    """ResNet-18 (He et al., 2016) as in torchvision: 11,689,512 parameters.

    The stem, then four stages of two :class:`~cnnlib.ResidualBlock` s with
    64, 128, 256 and 512 channels (the first block of the last three stages
    halves the size, with a 1x1 projection shortcut), global average pooling
    and one Linear layer.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes); the blocks are its
        items, so :func:`~cnnlib.summary` gives one row per block.
    """
    num_classes = check_int("resnet18: num_classes", num_classes)
    layers, c_in = _imagenet_stem(rng, dtype), 64
    for stage, channels in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(ResidualBlock(c_in, channels, stride, rng=rng, dtype=dtype))
            c_in = channels
    return Sequential(*layers, AdaptiveAvgPool2d(1), Flatten(),
                      Linear(512, num_classes, rng=rng, dtype=dtype))


def resnet50(num_classes=1000, *, rng, dtype=np.float32):
    """ResNet-50 as in torchvision (v1.5, stride on the 3x3 convolution): 25,557,032 parameters.

    The stem, then 3, 4, 6 and 3 :class:`~cnnlib.Bottleneck` blocks of widths
    64, 128, 256 and 512 (outputs four times as wide), global average pooling
    and one Linear layer.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes), one item per block.
    """
    num_classes = check_int("resnet50: num_classes", num_classes)
    layers, c_in = _imagenet_stem(rng, dtype), 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Bottleneck(c_in, width, stride=stride, rng=rng, dtype=dtype))
            c_in = 4 * width
    return Sequential(*layers, AdaptiveAvgPool2d(1), Flatten(),
                      Linear(2048, num_classes, rng=rng, dtype=dtype))


def _conv_bn_relu(c_in, c_out, k, rng, dtype, stride=1, groups=1):
    return [Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False, rng=rng,
                   dtype=dtype),
            BatchNorm2d(c_out, dtype=dtype), ReLU()]


def small_cnn(num_classes=10, *, rng, in_channels=1, width=16, dtype=np.float32):
    """The plain baseline of the modern-blocks comparison, for 28x28 images.

    Two stages of conv3x3-BN-ReLU and a 2x2 max-pool (28 -> 14 -> 7), with
    ``width`` and ``2 * width`` channels, then Flatten and a Linear layer on
    the 7x7 maps: the head holds most of the parameters.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    in_channels, width : int
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, in_channels, 28, 28) -> scores (N, num_classes).
    """
    return Sequential(
        *_conv_bn_relu(in_channels, width, 3, rng, dtype), MaxPool2d(2),
        *_conv_bn_relu(width, 2 * width, 3, rng, dtype), MaxPool2d(2),
        Flatten(), Linear(2 * width * 7 * 7, num_classes, rng=rng, dtype=dtype))


def small_gap_net(num_classes=10, *, rng, in_channels=1, width=16, dtype=np.float32):
    """:func:`small_cnn` with a global-average-pooling head, as in Network in Network.

    The same two stages, then a 1x1 convolution to one map per class and
    global average pooling: each score is the mean of its map, and the head
    has ``2 * width * num_classes + num_classes`` parameters instead of
    ``98 * width * num_classes + num_classes``. Works on any input size.

    Parameters and return value as for :func:`small_cnn`.
    """
    return Sequential(
        *_conv_bn_relu(in_channels, width, 3, rng, dtype), MaxPool2d(2),
        *_conv_bn_relu(width, 2 * width, 3, rng, dtype), MaxPool2d(2),
        Conv2d(2 * width, num_classes, 1, rng=rng, dtype=dtype), AdaptiveAvgPool2d(1),
        Flatten())


def small_bottleneck_resnet(num_classes=10, *, rng, in_channels=1, width=8, blocks=(1, 1),
                            dtype=np.float32):
    """A small ResNet of :class:`~cnnlib.Bottleneck` blocks, for 28x28 images.

    A conv3x3-BN-ReLU stem to ``4 * width`` channels, then stages of
    bottleneck blocks (1x1 down to ``width``, 3x3, 1x1 back up); each stage
    after the first starts with a stride-2 block and doubles the widths
    (28 -> 14 -> ...). Global average pooling and a Linear layer.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    in_channels, width : int
    blocks : tuple of int
        Bottleneck blocks per stage.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, in_channels, H, W) -> scores (N, num_classes).
    """
    layers = _conv_bn_relu(in_channels, 4 * width, 3, rng, dtype)
    c_in = 4 * width
    for stage, count in enumerate(blocks):
        w = width * 2 ** stage
        for block in range(check_int("small_bottleneck_resnet: blocks", count)):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Bottleneck(c_in, w, stride=stride, rng=rng, dtype=dtype))
            c_in = 4 * w
    return Sequential(*layers, AdaptiveAvgPool2d(1), Flatten(),
                      Linear(c_in, num_classes, rng=rng, dtype=dtype))


def small_separable_net(num_classes=10, *, rng, in_channels=1, width=16, dtype=np.float32):
    """A MobileNet-style network of depthwise-separable convolutions, for 28x28 images.

    A conv3x3-BN-ReLU stem, then three depthwise-separable blocks: a
    depthwise 3x3 convolution (``groups`` = channels, stride 2 in the last
    two) and a pointwise 1x1 convolution, each with BN and ReLU, doubling
    the channels from ``width`` to ``8 * width`` (28 -> 14 -> 7). Global
    average pooling and a Linear layer. A separable block costs
    ``1 / C_out + 1 / 9`` of a full 3x3 convolution's MACs.

    Parameters and return value as for :func:`small_cnn`.
    """
    layers, c = _conv_bn_relu(in_channels, width, 3, rng, dtype), width
    for stride in (1, 2, 2):
        layers += _conv_bn_relu(c, c, 3, rng, dtype, stride=stride, groups=c)
        layers += _conv_bn_relu(c, 2 * c, 1, rng, dtype)
        c *= 2
    return Sequential(*layers, AdaptiveAvgPool2d(1), Flatten(),
                      Linear(c, num_classes, rng=rng, dtype=dtype))


def _trunc_normal_init(layers, rng):
    """torchvision's ConvNeXt initialisation: weights N(0, 0.02^2) truncated, biases zero."""
    for layer in layers:
        w = layer.params["weight"]
        w[...] = trunc_normal(w.shape, rng=rng, std=0.02, dtype=w.dtype)
        if "bias" in layer.params:
            layer.params["bias"][...] = 0
    return layers


def _convnext(stages, num_classes, rng, dtype, *, in_channels, stem, approximate,
              layer_scale=1e-6):
    """Patchify stem (conv stem x stem, stride stem, then LayerNorm2d), stages of ConvNeXt
    blocks with a LayerNorm2d + conv 2x2/2 between them, then global average pooling,
    LayerNorm2d, Flatten and a Linear head: torchvision's ConvNeXt layout."""
    first = stages[0][0]
    stem_conv = Conv2d(in_channels, first, stem, stem, rng=rng, dtype=dtype)
    layers = [*_trunc_normal_init([stem_conv], rng), LayerNorm2d(first, dtype=dtype)]
    previous = first
    for channels, blocks in stages:
        if channels != previous:
            down = Conv2d(previous, channels, 2, 2, rng=rng, dtype=dtype)
            layers += [LayerNorm2d(previous, dtype=dtype), *_trunc_normal_init([down], rng)]
        layers += [ConvNeXtBlock(channels, layer_scale, rng=rng, dtype=dtype,
                                 approximate=approximate) for _ in range(blocks)]
        previous = channels
    head = Linear(previous, num_classes, rng=rng, dtype=dtype)
    return Sequential(*layers, AdaptiveAvgPool2d(1), LayerNorm2d(previous, dtype=dtype),
                      Flatten(), *_trunc_normal_init([head], rng))


def convnext_tiny(num_classes=1000, *, rng, dtype=np.float32):
    """ConvNeXt-T (Liu et al., 2022) as in torchvision: 28,589,128 parameters.

    A 4x4 stride-4 "patchify" stem with a channels-first layer norm (224 ->
    56), then stages of 3, 3, 9 and 3 :class:`~cnnlib.ConvNeXtBlock` s with
    96, 192, 384 and 768 channels, each stage after the first entered
    through a layer norm and a 2x2 stride-2 convolution. Global average
    pooling, a layer norm and one Linear layer make the head. Exact GELU, as
    in torchvision; no stochastic depth.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes), one item per block.
    """
    num_classes = check_int("convnext_tiny: num_classes", num_classes)
    return _convnext(((96, 3), (192, 3), (384, 9), (768, 3)), num_classes, rng, dtype,
                     in_channels=3, stem=4, approximate="none")


def small_convnext(num_classes=10, *, rng, in_channels=1, widths=(32, 64), depths=(1, 2),
                   stem=2, layer_scale=1e-6, approximate="tanh", dtype=np.float32):
    """A small ConvNeXt for 28x28 images: :func:`convnext_tiny`'s layout, two narrow stages.

    A ``stem`` x ``stem`` patchify stem (28 -> 14 with the default 2), then
    ``depths[i]`` :class:`~cnnlib.ConvNeXtBlock` s of ``widths[i]`` channels
    per stage, halving the size between stages (14 -> 7), and the same head.
    With the defaults it has 92,330 parameters. The GELU is the tanh form,
    which NumPy computes much faster than the exact one.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    in_channels : int
    widths, depths : tuple of int, one entry per stage
    stem : int
        Patch size of the stem; divides the input size.
    layer_scale : float
        Initial value of the blocks' layer scale; ConvNeXt's 1e-6 makes every
        block start as the identity.
    approximate : {"tanh", "none"}
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, in_channels, 28, 28) -> scores (N, num_classes).
    """
    num_classes = check_int("small_convnext: num_classes", num_classes)
    widths, depths = tuple(widths), tuple(depths)
    if not widths or len(widths) != len(depths):
        raise ValueError(f"small_convnext: widths and depths need one entry per stage, got "
                         f"{widths} and {depths}")
    stages = [(check_int("small_convnext: widths", w), check_int("small_convnext: depths", d))
              for w, d in zip(widths, depths)]
    return _convnext(stages, num_classes, rng, dtype, in_channels=in_channels,
                     stem=check_int("small_convnext: stem", stem), approximate=approximate,
                     layer_scale=layer_scale)


def _vit(num_classes, rng, dtype, *, image_size, patch_size, num_layers, num_heads, hidden_dim,
         mlp_dim, in_channels, approximate, name):
    """torchvision's VisionTransformer as a Sequential: patches, class token, positions,
    encoder blocks, final LayerNorm, the class token's state, a Linear head (zeros at first)."""
    num_classes = check_int(f"{name}: num_classes", num_classes)
    image_size = check_int(f"{name}: image_size", image_size)
    patch_size = check_int(f"{name}: patch_size", patch_size)
    if image_size % patch_size:
        raise ValueError(f"{name}: image_size {image_size} is not divisible by patch_size "
                         f"{patch_size}")
    seq_length = (image_size // patch_size) ** 2 + 1
    layers = [PatchEmbedding(in_channels, hidden_dim, patch_size, rng=rng, dtype=dtype),
              ClassToken(hidden_dim, dtype=dtype),
              PositionalEmbedding(seq_length, hidden_dim, rng=rng, dtype=dtype)]
    layers += [EncoderBlock(num_heads, hidden_dim, mlp_dim, rng=rng, dtype=dtype,
                            approximate=approximate) for _ in range(num_layers)]
    head = Linear(hidden_dim, num_classes, rng=rng, dtype=dtype)
    head.params["weight"][...] = 0
    return Sequential(*layers, LayerNorm(hidden_dim, eps=1e-6, dtype=dtype), SelectToken(0),
                      head)


def vit_b_16(num_classes=1000, *, rng, dtype=np.float32):
    """ViT-B/16 (Dosovitskiy et al., 2021) as in torchvision: 86,567,656 parameters.

    224x224 images cut into 196 patches of 16x16, embedded to 768 features,
    a class token and learned positional embeddings (197 tokens), 12
    :class:`~cnnlib.EncoderBlock` s with 12 heads and an MLP of 3072, a final
    layer norm and a Linear head on the class token. Exact GELU, as in
    torchvision.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 3, 224, 224) -> scores (N, num_classes).
    """
    return _vit(num_classes, rng, dtype, image_size=224, patch_size=16, num_layers=12,
                num_heads=12, hidden_dim=768, mlp_dim=3072, in_channels=3, approximate="none",
                name="vit_b_16")


def small_vit(num_classes=10, *, rng, in_channels=1, image_size=28, patch_size=4, hidden_dim=64,
              num_layers=3, num_heads=4, mlp_dim=128, approximate="tanh", dtype=np.float32):
    """A small vision transformer for 28x28 images: :func:`vit_b_16`'s layout, scaled down.

    4x4 patches give 49 tokens plus the class token; three encoder blocks
    of width 64 with 4 heads and an MLP of 128. With the defaults it has
    105,546 parameters. The GELU is the tanh form, which NumPy computes
    much faster than the exact one.

    Parameters
    ----------
    num_classes : int
    rng : numpy.random.Generator
    in_channels, image_size, patch_size : int
        ``patch_size`` divides ``image_size``.
    hidden_dim, num_layers, num_heads, mlp_dim : int
    approximate : {"tanh", "none"}
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, in_channels, image_size, image_size) -> scores (N, num_classes).
    """
    return _vit(num_classes, rng, dtype, image_size=image_size, patch_size=patch_size,
                num_layers=check_int("small_vit: num_layers", num_layers), num_heads=num_heads,
                hidden_dim=hidden_dim, mlp_dim=mlp_dim, in_channels=in_channels,
                approximate=approximate, name="small_vit")
