"""Networks for the handwriting chapter: a small digits CNN, the letters CNN and a dense rival."""

import numpy as np

from cnnlib.layers import Conv2d, Flatten, GELU, Linear, LogSoftmax, MaxPool2d, ReLU
from cnnlib.module import Sequential


def digits_cnn(rng, *, channels=(16, 32), dtype=np.float64):
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


def letters_cnn(rng, *, dtype=np.float32):
    """The letters network: 3 x (conv3x3 -> maxpool 2 -> GELU), then 512-64-128-26.

    Shapes: 28 -> conv 26 -> pool 13 -> conv 11 -> pool (ceil mode) 6 ->
    conv 4 -> pool 2, with 32, 64 and 128 channels, so the flattened vector
    has 128 * 2 * 2 = 512 entries. GELU sits between the Linear layers and
    LogSoftmax at the end (use with NLLLoss). 137,178 parameters.

    Parameters
    ----------
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> log-probabilities (N, 26).
    """
    return Sequential(
        Conv2d(1, 32, 3, rng=rng, dtype=dtype), MaxPool2d(2), GELU(),
        Conv2d(32, 64, 3, rng=rng, dtype=dtype), MaxPool2d(2, ceil_mode=True), GELU(),
        Conv2d(64, 128, 3, rng=rng, dtype=dtype), MaxPool2d(2), GELU(),
        Flatten(),
        Linear(512, 64, rng=rng, dtype=dtype), GELU(),
        Linear(64, 128, rng=rng, dtype=dtype), GELU(),
        Linear(128, 26, rng=rng, dtype=dtype), LogSoftmax(),
    )


def letters_dense(rng, *, hidden=(160, 64), dtype=np.float32):
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
    layers += [Linear(widths[-1], 26, rng=rng, dtype=dtype), LogSoftmax()]
    return Sequential(*layers)
