"""Looking inside a trained CNN: every layer's output, receptive boxes, most exciting patches."""

from contextlib import contextmanager

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_real, pair
from cnnlib.losses import check_labels
from cnnlib.nn.activations import as_float
from cnnlib.nn.module import Sequential


@contextmanager
def _evaluating(model):
    """Evaluation mode for the duration of the block; the previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _images(name, x, *, floating=False):
    x = as_float(x, name) if floating else check_real(name, x)
    check_ndim(name, x, 4, "(N, C, H, W)")
    return x


def _sequential(name, model):
    if not isinstance(model, Sequential):
        raise TypeError(f"{name}: model must be a Sequential (its layers are indexed), "
                        f"got {type(model).__name__}")
    return model


def _layer_index(name, model, layer):
    if (isinstance(layer, bool) or not isinstance(layer, (int, np.integer))
            or not -len(model) <= layer < len(model)):
        raise ValueError(f"{name}: layer must be an int index into the model's "
                         f"{len(model)} layers, got {layer!r}")
    return int(layer) % len(model)


def _targets(name, target, n, k):
    """``target`` as n class indices in [0, k); a single int applies to every image."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        target = np.full(n, target, dtype=np.int64)
    return check_labels(f"{name}: target", target, n, k)


def _batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, start + batch_size)


def layer_outputs(model, x):
    """The output of every layer of a Sequential, as PyTorch's forward hooks would record.

    Parameters
    ----------
    model : Sequential
    x : ndarray, shape (N, C, H, W)

    Returns
    -------
    list of ndarray
        ``outputs[k]`` is the output of ``model[k]``, so ``outputs[-1]`` is the
        model's output. Computed in evaluation mode.
    """
    model = _sequential("layer_outputs", model)
    y = _images("layer_outputs", x)
    outputs = []
    with _evaluating(model):
        for layer in model:
            y = layer.forward(y)
            outputs.append(y)
    return outputs


def receptive_box(model, layer, row, col):
    """The input pixels that can influence unit (row, col) of a layer's output.

    Walks the windows of ``model[0]`` to ``model[layer]``: a window of size
    k, stride s, dilation d and padding p moves the box's start by
    ``-p * jump`` and grows it by ``d (k - 1) jump``, and the jump (the
    input distance between neighbouring units) becomes ``jump * s``. The
    windows are taken to be square, as in :func:`cnnlib.receptive_field`.

    Parameters
    ----------
    model : Sequential
    layer : int
        Index of the layer whose output holds the unit.
    row, col : int
        The unit's position in that output.

    Returns
    -------
    top, left, size : int
        The box is ``x[..., top:top + size, left:left + size]``; with padding
        or ceil-mode pooling it can reach past the image's edges.
    """
    name = "receptive_box"
    model = _sequential(name, model)
    layer = _layer_index(name, model, layer)
    row = check_int(f"{name}: row", row, minimum=0)
    col = check_int(f"{name}: col", col, minimum=0)
    start, size, jump = 0, 1, 1
    for i, part in enumerate(model[:layer + 1]):
        windows = part.windows()
        if not windows:
            continue
        if len(windows) > 1:
            raise ValueError(f"{name}: layer {i} ({part.name}) holds {len(windows)} windows "
                             f"of its own; only single-window layers are supported")
        kernel, stride, dilation = windows[0]
        padding = pair(getattr(part, "padding", 0), f"{name}: padding", minimum=0)[0]
        start -= padding * jump
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return start + row * jump, start + col * jump, size


def top_patches(model, x, layer, channels, *, k=8):
    """The input patches that excite given channels of a layer the most, one per image.

    For each channel, every image's strongest response anywhere in the map
    is found; the ``k`` images with the largest such responses give their
    receptive boxes (:func:`receptive_box`) as patches, padded with zeros
    where a box reaches past the image.

    Parameters
    ----------
    model : Sequential
    x : ndarray, shape (N, C, H, W)
    layer : int
        Index of the layer whose output is examined; it must be (N, F, h, w).
    channels : sequence of int
        Channels of that output.
    k : int
        Patches per channel; at most N.

    Returns
    -------
    patches : ndarray, shape (len(channels), k, C, size, size)
    values : ndarray, shape (len(channels), k)
        The responses, largest first.
    where : ndarray of int, shape (len(channels), k, 3)
        (image, row, col) of each response in the layer's output.
    """
    name = "top_patches"
    model = _sequential(name, model)
    layer = _layer_index(name, model, layer)
    x = _images(name, x)
    k = check_int(f"{name}: k", k)
    if k > len(x):
        raise ValueError(f"{name}: k = {k} patches need at least {k} images, got {len(x)}")
    maps = layer_outputs(model[:layer + 1], x)[-1]
    if maps.ndim != 4:
        raise ValueError(f"{name}: layer {layer} ({model[layer].name}) gives outputs of "
                         f"shape {maps.shape}; expected feature maps (N, F, h, w)")
    channels = np.asarray(channels)
    if channels.dtype.kind not in "iu" or channels.ndim != 1 or (
            channels.size and not (0 <= channels.min() and channels.max() < maps.shape[1])):
        raise ValueError(f"{name}: channels must be a list of ints in [0, {maps.shape[1]}), "
                         f"got {channels.tolist()}")
    size = receptive_box(model, layer, 0, 0)[2]
    padded = np.pad(x, ((0, 0), (0, 0), (size, size), (size, size)))
    n, _, h, w = maps.shape
    patches = np.zeros((len(channels), k, x.shape[1], size, size), dtype=x.dtype)
    values = np.zeros((len(channels), k), dtype=maps.dtype)
    where = np.zeros((len(channels), k, 3), dtype=np.int64)
    for c, channel in enumerate(channels):
        flat = maps[:, channel].reshape(n, h * w)
        best = flat.argmax(axis=1)                          # each image's strongest unit
        images = np.argsort(-flat[np.arange(n), best], kind="stable")[:k]
        for j, image in enumerate(images):
            row, col = divmod(int(best[image]), w)
            top, left, _ = receptive_box(model, layer, row, col)
            patches[c, j] = padded[image, :, top + size: top + 2 * size,
                                   left + size: left + 2 * size]
            values[c, j] = flat[image, best[image]]
            where[c, j] = image, row, col
    return patches, values, where
