"""Adversarial examples by the fast gradient sign method (FGSM), and accuracy under attack."""

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number, check_real
from cnnlib.losses import check_labels
from cnnlib.nn.activations import as_float
from cnnlib.tools.inspect import _batches, _evaluating


def loss_gradient(model, loss_fn, x, y, *, batch_size=256):
    """Gradient of each image's own loss with respect to that image.

    Parameters
    ----------
    model : Module
        Maps (N, C, H, W) to (N, K).
    loss_fn : a loss such as NLLLoss (for a model ending in LogSoftmax) or
        CrossEntropyLoss (for raw scores), averaged over the batch.
    x : ndarray, shape (N, C, H, W)
    y : ndarray of int, shape (N,)
    batch_size : int

    Returns
    -------
    ndarray, shape (N, C, H, W)
        ``d loss(model(x[n]), y[n]) / d x[n]``, computed in evaluation mode.
    """
    name = "loss_gradient"
    x = check_real(name, x)
    check_ndim(name, x, 4, "(N, C, H, W)")
    batch_size = check_int(f"{name}: batch_size", batch_size)
    k = model.out_shape((1, *x.shape[1:]))[-1]
    y = check_labels(f"{name}: y", y, len(x), k)
    grads = []
    with _evaluating(model):
        for part in _batches(len(x), batch_size):
            loss_fn.forward(model.forward(x[part]), y[part])
            # the loss is a mean over the batch; undo the 1 / batch length
            grads.append(model.backward(loss_fn.backward()) * len(y[part]))
    return np.concatenate(grads) if grads else np.zeros(x.shape, dtype=x.dtype)


def fgsm(model, loss_fn, x, y, epsilon, *, clip=(0.0, 1.0), batch_size=256):
    """The fast gradient sign method of Goodfellow et al. (2015).

    Every pixel moves by ``epsilon`` in the direction that increases the
    loss: ``x + epsilon * sign(d loss / d x)``, then the result is clipped to
    the valid pixel range. No pixel changes by more than ``epsilon``.

    Parameters
    ----------
    model, loss_fn, x, y, batch_size
        As for :func:`loss_gradient`.
    epsilon : float, at least 0
    clip : (float, float) or None
        The range of valid pixel values; None leaves the result unclipped.

    Returns
    -------
    ndarray, shape (N, C, H, W), the dtype of ``x`` (float64 for integer ``x``)
    """
    epsilon = check_number("fgsm: epsilon", epsilon, low=0)
    direction = np.sign(loss_gradient(model, loss_fn, x, y, batch_size=batch_size))
    return _step(x, direction, epsilon, clip)


def _step(x, direction, epsilon, clip):
    x = as_float(x, "fgsm")
    moved = x + x.dtype.type(epsilon) * direction.astype(x.dtype)
    return moved if clip is None else np.clip(moved, *clip).astype(x.dtype)


def fgsm_accuracy(model, loss_fn, x, y, epsilons, *, clip=(0.0, 1.0), batch_size=256):
    """Accuracy on FGSM images for several values of epsilon, from one gradient.

    Parameters
    ----------
    model, loss_fn, x, y, clip, batch_size
        As for :func:`fgsm`; ``model`` must output (N, K) scores whose
        argmax is the prediction.
    epsilons : sequence of float, each at least 0

    Returns
    -------
    accuracy : ndarray, shape (len(epsilons),)
    predictions : ndarray of int, shape (len(epsilons), N)
    """
    epsilons = [check_number("fgsm_accuracy: epsilons", e, low=0) for e in epsilons]
    direction = np.sign(loss_gradient(model, loss_fn, x, y, batch_size=batch_size))
    y = np.asarray(y)
    predictions = np.empty((len(epsilons), len(y)), dtype=np.int64)
    with _evaluating(model):
        for i, epsilon in enumerate(epsilons):
            moved = _step(x, direction, epsilon, clip)
            predictions[i] = np.concatenate(
                [model.forward(moved[part]).argmax(axis=1)
                 for part in _batches(len(y), batch_size)] or [np.zeros(0, np.int64)])
    return (predictions == y).mean(axis=1), predictions
