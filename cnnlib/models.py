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
"""

import numpy as np

from cnnlib.checks import check_int
from cnnlib.nn.blocks import ResidualBlock
from cnnlib.nn.layers import (AvgPool2d, Conv2d, Flatten, GELU, Linear, LogSoftmax, MaxPool2d,
                              ReLU)
from cnnlib.nn.module import Sequential
from cnnlib.nn.norm import BatchNorm2d


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
    if hidden is None:
        hidden = 4 if kernels == 1 else 2 * kernels
    kernels = check_int("tl_cnn: kernels", kernels)
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
