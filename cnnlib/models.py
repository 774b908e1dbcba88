"""Ready-made networks (LeNet-5, a deep plain CNN, a small ResNet) and a gradient-norm probe."""

import numpy as np

from cnnlib.layers import AvgPool2d, Conv2d, Flatten, Linear, ReLU
from cnnlib.module import Sequential
from cnnlib.norm import BatchNorm2d
from cnnlib.residual import ResidualBlock


def lenet5(rng, *, dtype=np.float64):
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
    rng : numpy.random.Generator
    dtype : numpy dtype

    Returns
    -------
    Sequential
        Input (N, 1, 32, 32) -> scores (N, 10).
    """
    return Sequential(
        Conv2d(1, 6, 5, rng=rng, dtype=dtype), ReLU(), AvgPool2d(2),
        Conv2d(6, 16, 5, rng=rng, dtype=dtype), ReLU(), AvgPool2d(2),
        Flatten(),
        Linear(16 * 5 * 5, 120, rng=rng, dtype=dtype), ReLU(),
        Linear(120, 84, rng=rng, dtype=dtype), ReLU(),
        Linear(84, 10, rng=rng, dtype=dtype),
    )


def _blocks(depth):
    if depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even number >= 4 (stem + 2 per block + head), "
                         f"got {depth}")
    return (depth - 2) // 2


def _stem(in_channels, channels, rng, dtype):
    return [Conv2d(in_channels, channels, 3, padding=1, rng=rng, dtype=dtype, bias=False),
            BatchNorm2d(channels, dtype=dtype), ReLU()]


def _head(channels, size, n_classes, rng, dtype):
    return [AvgPool2d(size), Flatten(), Linear(channels, n_classes, rng=rng, dtype=dtype)]


def plain_net(depth, channels, rng, *, in_channels=1, size=8, n_classes=10,
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

    With the same ``rng`` state, :func:`plain_net` and :func:`resnet` draw
    identical initial weights, so the two differ only in the shortcuts.
    """
    layers = _stem(in_channels, channels, rng, dtype)
    for _ in range(_blocks(depth)):
        for _ in range(2):
            layers += [Conv2d(channels, channels, 3, padding=1, rng=rng, dtype=dtype,
                              bias=False),
                       BatchNorm2d(channels, dtype=dtype), ReLU()]
    return Sequential(*layers, *_head(channels, size, n_classes, rng, dtype))


def resnet(depth, channels, rng, *, in_channels=1, size=8, n_classes=10, dtype=np.float64):
    """A small ResNet: :func:`plain_net` with an identity shortcut around every pair.

    Layout: conv3x3-BN-ReLU stem, ``(depth - 2) // 2`` identity
    :class:`~cnnlib.ResidualBlock` s, global average pooling and a Linear
    layer. Parameters and return value as for :func:`plain_net`.
    """
    layers = _stem(in_channels, channels, rng, dtype)
    layers += [ResidualBlock(channels, rng=rng, dtype=dtype) for _ in range(_blocks(depth))]
    return Sequential(*layers, *_head(channels, size, n_classes, rng, dtype))


def conv_grad_norms(model):
    """Euclidean norm of each convolution's weight gradient, from input to output.

    Parameters
    ----------
    model : Module
        After a ``backward`` pass.

    Returns
    -------
    names : list of str
        The dotted parameter names, e.g. ``"3.conv1.weight"``.
    norms : ndarray, shape (number of convolutions,)
    """
    names = [k for k, g in model.grads.items() if k.endswith("weight") and g.ndim == 4]
    grads = model.grads
    return names, np.array([np.linalg.norm(grads[k]) for k in names])
