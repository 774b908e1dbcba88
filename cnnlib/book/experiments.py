"""Experiments the chapters run: full-batch MSE training of T/L models, side by side, and gradient norms."""

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.losses import MSELoss
from cnnlib.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from cnnlib.nn.module import Module, Sequential
from cnnlib.optim import SGD


def train_mse(model, x, y, *, epochs, lr):
    """Full-batch gradient descent (plain SGD) on the mean squared error to 0/1 targets.

    Parameters
    ----------
    model : Module
        Maps (N, 1, H, W) to (N, 1).
    x : ndarray, shape (N, 1, H, W)
    y : ndarray of int, shape (N,)
        Labels 0 or 1; the targets are ``y`` as floats of shape (N, 1).
    epochs : int
        One epoch is one step on the whole training set.
    lr : float

    Returns
    -------
    losses : ndarray, shape (epochs,)
        The loss before each step.
    """
    target = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    loss_fn, opt = MSELoss(), SGD(model, lr)
    losses = np.empty(epochs)
    with threadpool_limits(limits=1, user_api="blas"):   # tiny matrices: threads only wait
        for epoch in range(epochs):
            losses[epoch] = loss_fn.forward(model.forward(x), target)
            model.backward(loss_fn.backward())
            opt.step()
    return losses


def predict_t(model, x):
    """1 where the model says T (output above 0.5), else 0.

    Parameters
    ----------
    model : Module
    x : ndarray, shape (N, 1, H, W)

    Returns
    -------
    ndarray of int, shape (N,)
    """
    return (model.forward(x)[:, 0] > 0.5).astype(np.int64)


def accuracy(model, x, y):
    """Fraction of images whose predicted letter (:func:`predict_t`) equals ``y``."""
    return float(np.mean(predict_t(model, x) == np.asarray(y)))


class GroupedLinear(Module):
    """``groups`` independent Linear layers applied to consecutive slices of the input.

    Input (N, groups * in_features) -> output (N, groups * out_features);
    ``params["weight"]`` is (groups, out_features, in_features) and
    ``params["bias"]`` is (groups, out_features).
    """

    def __init__(self, linears):
        super().__init__()
        self._params["weight"] = np.stack([l.params["weight"] for l in linears])
        self._params["bias"] = np.stack([l.params["bias"] for l in linears])
        self._grads = {k: np.zeros_like(v) for k, v in self._params.items()}

    def _forward(self, x):
        g, _, k = self._params["weight"].shape
        self._x = x.reshape(len(x), g, k).copy()
        y = np.einsum("ngi,goi->ngo", self._x, self._params["weight"]) + self._params["bias"]
        return y.reshape(len(x), -1)

    def _backward(self, dy):
        g, o, k = self._params["weight"].shape
        dy = dy.reshape(len(dy), g, o)
        self._grads["weight"] = np.einsum("ngo,ngi->goi", dy, self._x)
        self._grads["bias"] = dy.sum(axis=0)
        return np.einsum("ngo,goi->ngi", dy, self._params["weight"]).reshape(len(dy), g * k)


def _side_by_side(models):
    """One wide network that computes every model in ``models`` at once.

    The first layer with parameters sees the shared input, so the models'
    kernels (or weight rows) are concatenated; every later Linear becomes a
    GroupedLinear. ReLU, max-pool and flatten act on each channel alone.
    """
    n, wide, shared_input = len(models), [], True
    for layers in zip(*models):
        layer = layers[0]
        if isinstance(layer, (Conv2d, Linear)) and shared_input:
            if isinstance(layer, Conv2d):
                stacked = Conv2d(layer.in_channels, layer.out_channels * n, layer.kernel_size,
                                 layer.stride, layer.padding, rng=np.random.default_rng(0))
            else:
                stacked = Linear(layer.in_features, layer.out_features * n,
                                 rng=np.random.default_rng(0))
            for key in stacked.params:             # overwrite the throwaway initial weights
                stacked.params[key][...] = np.concatenate([l.params[key] for l in layers])
            wide.append(stacked)
            shared_input = False
        elif isinstance(layer, Linear):
            wide.append(GroupedLinear(layers))
        elif isinstance(layer, MaxPool2d):
            wide.append(MaxPool2d(layer.kernel_size, layer.stride, ceil_mode=layer.ceil_mode))
        elif isinstance(layer, (ReLU, Flatten)):
            wide.append(type(layer)())
        else:
            raise TypeError(f"train_side_by_side: cannot stack a {type(layer).__name__}")
    return Sequential(*wide)


def train_side_by_side(models, x, y, *, epochs, lr):
    """Train several independent models at once; the same as :func:`train_mse` on each.

    The models (built by :func:`cnnlib.models.tl_cnn` or :func:`cnnlib.models.tl_dense` with different
    seeds and the same sizes) are stacked into one wide network whose parts
    share no weights, trained with one full-batch SGD step per epoch, and
    the trained weights are copied back into ``models``.

    Parameters
    ----------
    models : list of Sequential
        Same architecture, each mapping (N, 1, H, W) to (N, 1). Updated in place.
    x : ndarray, shape (N, 1, H, W)
    y : ndarray of int, shape (N,)
    epochs : int
    lr : float

    Returns
    -------
    losses : ndarray, shape (epochs, len(models))
        Each model's mean squared error before each step.
    """
    wide = _side_by_side(models)
    target = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    opt = SGD(wide, lr)
    losses = np.empty((epochs, len(models)))
    with threadpool_limits(limits=1, user_api="blas"):   # tiny matrices: threads only wait
        for epoch in range(epochs):
            diff = wide.forward(x) - target                 # (N, models)
            losses[epoch] = np.mean(diff ** 2, axis=0)
            wide.backward(2 * diff / len(x))                # each model's own MSE gradient
            opt.step()
    _copy_back(wide, models)
    return losses


def _copy_back(wide, models):
    """Write the wide network's trained weights into each of ``models``."""
    for wide_layer, layers in zip(wide, zip(*models)):
        for key, value in wide_layer.params.items():
            if isinstance(wide_layer, GroupedLinear):
                parts = value
            else:
                parts = np.split(value, len(models))
            for layer, part in zip(layers, parts):
                layer.params[key][...] = part


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
