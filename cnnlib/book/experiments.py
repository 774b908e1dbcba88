"""Experiments the chapters run: T/L training, learning-rate sweeps, plain-versus-residual runs, gradient norms."""

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.losses import CrossEntropyLoss, MSELoss
from cnnlib.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from cnnlib.nn.module import Module, Sequential
from cnnlib.optim import SGD, Adam
from cnnlib.train import evaluate, fit, predict, train_step


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


def predict_t(model, x, threshold=0.5):
    """1 where the model says T (output above ``threshold``), else 0.

    Parameters
    ----------
    model : Module
    x : ndarray, shape (N, 1, H, W)
    threshold : float
        0.5 for models trained on the squared error to 0/1 targets; 0 for
        models trained with cross-entropy (:func:`train_cross_entropy`),
        whose output is the score of T against a fixed 0 for L.

    Returns
    -------
    ndarray of int, shape (N,)
    """
    return (model.forward(x)[:, 0] > threshold).astype(np.int64)


def accuracy(model, x, y, threshold=0.5):
    """Fraction of images whose predicted letter (:func:`predict_t`) equals ``y``."""
    return float(np.mean(predict_t(model, x, threshold) == np.asarray(y)))


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


def train_side_by_side(models, x, y, *, epochs, lr, loss="mse"):
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
    loss : {"mse", "cross_entropy"}
        "mse" trains each model as :func:`train_mse` does; "cross_entropy"
        as :func:`train_cross_entropy` does (softmax over the scores (0, z)).

    Returns
    -------
    losses : ndarray, shape (epochs, len(models))
        Each model's loss (mean squared error or mean cross-entropy) before each step.
    """
    if loss not in ("mse", "cross_entropy"):
        raise ValueError(f"train_side_by_side: loss must be 'mse' or 'cross_entropy', got {loss!r}")
    wide = _side_by_side(models)
    target = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    opt = SGD(wide, lr)
    losses = np.empty((epochs, len(models)))
    with threadpool_limits(limits=1, user_api="blas"):   # tiny matrices: threads only wait
        for epoch in range(epochs):
            z = wide.forward(x)                             # (N, models)
            if loss == "mse":
                diff = z - target
                losses[epoch] = np.mean(diff ** 2, axis=0)
                wide.backward(2 * diff / len(x))            # each model's own MSE gradient
            else:
                # -log p(label) with p(T) = sigmoid(z): log(1 + e^z) - y z, computed stably
                losses[epoch] = np.mean(np.logaddexp(0, z) - target * z, axis=0)
                p_t = 0.5 * (1 + np.tanh(z / 2))            # sigmoid(z) without overflow
                wide.backward((p_t - target) / len(x))      # p - y, as in CrossEntropyLoss
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


def tl_cross_entropy_scores(z):
    """Two-class scores ``(0, z)`` for a model with one output ``z`` per image (N, 1) -> (N, 2).

    A softmax over ``(0, z)`` gives ``p(T) = sigmoid(z)``, so cross-entropy on
    these scores trains the T/L models of :mod:`cnnlib.models` unchanged:
    the gradient with respect to ``z`` is ``sigmoid(z) - y``. Predict T when
    ``z > 0`` (``threshold=0`` in :func:`predict_t`).
    """
    z = np.asarray(z)
    return np.concatenate([np.zeros_like(z), z], axis=1)


def train_cross_entropy(model, x, y, *, epochs, lr):
    """Full-batch plain SGD on the cross-entropy of :func:`tl_cross_entropy_scores`.

    The same loop as :func:`train_mse` with another loss; parameters and
    return value as there (the losses are the mean cross-entropy).
    """
    y = np.asarray(y)
    loss_fn, opt = CrossEntropyLoss(), SGD(model, lr)
    losses = np.empty(epochs)
    with threadpool_limits(limits=1, user_api="blas"):
        for epoch in range(epochs):
            losses[epoch] = loss_fn.forward(tl_cross_entropy_scores(model.forward(x)), y)
            model.backward(loss_fn.backward()[:, 1:])
            opt.step()
    return losses


def lr_sweep(build, loss_fn, x, y, x_val, y_val, rates, *, epochs, batch_size, seed):
    """Validation loss after a short Adam run at each learning rate: the chapters' sweep.

    Every run starts from a fresh ``build()`` (so from the same weights, if
    ``build`` seeds its own generator) and shuffles with the same seed.

    Parameters
    ----------
    build : callable
        ``build() -> Module``.
    loss_fn : CrossEntropyLoss or NLLLoss
    x, y, x_val, y_val : training and validation data
    rates : sequence of float
    epochs, batch_size, seed : int

    Returns
    -------
    dict mapping each rate to the validation loss after ``epochs`` epochs
    """
    results = {}
    for lr in rates:
        model = build()
        fit(model, loss_fn, Adam(model, lr=lr), x, y, epochs=epochs, batch_size=batch_size,
            rng=np.random.default_rng(seed), verbose=False)
        results[lr] = float(loss_fn.forward(predict(model, x_val), y_val))
    return results


def pick_rate(sweep):
    """The rate for a long run: one step below the sweep's lowest validation loss.

    Short runs reward rates that make fast early progress, so a long run is
    steadier at the next smaller rate of the sweep. If the lowest loss is at
    the smallest rate, that rate is returned (and the sweep should go lower).

    Parameters
    ----------
    sweep : dict
        Rate -> validation loss, as returned by :func:`lr_sweep`.
    """
    rates = sorted(sweep)
    best = min(rates, key=sweep.get)
    return rates[max(rates.index(best) - 1, 0)]


def resnet_digits(n_train=1000, seed=2):
    """scikit-learn's 8x8 digits for the plain-versus-residual experiment, standardised.

    The images are shuffled with ``default_rng(seed)``; the first ``n_train``
    are for training and the rest (797 with the defaults) for testing. Pixels
    are standardised with the training mean and standard deviation.

    Returns
    -------
    x_train, y_train, x_test, y_test : float64 images (N, 1, 8, 8), int labels (N,)
    """
    from sklearn.datasets import load_digits   # the book extra; imported only when used

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    images, labels = digits.images[order][:, None], digits.target[order]
    x_train, y_train = images[:n_train], labels[:n_train]
    x_test, y_test = images[n_train:], labels[n_train:]
    mu, sd = x_train.mean(), x_train.std()
    return (x_train - mu) / sd, y_train, (x_test - mu) / sd, y_test


def train_deep(build, x_train, y_train, *, seed, steps, x_test=None, y_test=None,
               eval_at=(), depth=20, channels=8, lr=0.02, momentum=0.9, batch_size=32):
    """One run of the plain-versus-residual experiment, in float32.

    The model is ``build(depth, channels, rng=default_rng(seed), dtype=float32)``;
    each step draws a minibatch of ``batch_size`` distinct images with
    ``default_rng(100 + seed)`` and takes one SGD step (with momentum) on the
    cross-entropy. The same seed therefore gives :func:`cnnlib.models.plain_net`
    and :func:`cnnlib.models.small_resnet` the same initial weights and the
    same batches in the same order.

    Parameters
    ----------
    build : plain_net or small_resnet
    x_train, y_train : training images (N, 1, 8, 8) and labels
    seed, steps : int
    x_test, y_test : optional test set, evaluated after the steps in ``eval_at``
    eval_at : sequence of int
        Step counts after which to record the test accuracy.

    Returns
    -------
    model : the trained Sequential
    losses : ndarray, shape (steps,), the loss of every step
    accuracies : dict mapping each step count in ``eval_at`` to the test accuracy
    """
    model = build(depth, channels, rng=np.random.default_rng(seed), dtype=np.float32)
    batch_rng = np.random.default_rng(100 + seed)
    x32 = np.asarray(x_train, dtype=np.float32)
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(model, lr=lr, momentum=momentum)
    losses, accuracies = np.empty(steps), {}
    for step in range(steps):
        idx = batch_rng.choice(len(x32), batch_size, replace=False)
        losses[step], _ = train_step(model, loss_fn, optimizer, x32[idx], y_train[idx])
        if step + 1 in eval_at:
            accuracies[step + 1] = evaluate(model, np.asarray(x_test, dtype=np.float32), y_test)
    return model, losses, accuracies
