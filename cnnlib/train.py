"""The training loop: ``train_step``, ``fit`` with early stopping, ``predict`` and ``evaluate``."""

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnnlib.checks import check_int, check_number, check_real, check_rng, readable_by_all
from cnnlib.losses import check_labels
from cnnlib.nn.module import no_grad
from cnnlib.parallel import DataParallel


@dataclass
class History:
    """What happened in each epoch of :func:`fit`."""

    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = -1

    def to_json(self, path):
        """Write the history to a JSON file, atomically."""
        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path):
        """Read a history written by :meth:`to_json`."""
        with open(path) as f:
            return cls(**json.load(f))


def write_json(path, obj):
    """Write ``obj`` as JSON to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        readable_by_all(fd)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def batches(n, batch_size, *, rng=None):
    """Index arrays covering range(n) in chunks; shuffled when ``rng`` is given."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start: start + batch_size]


def train_step(model, loss_fn, optimizer, x, y):
    """One forward, loss, backward and optimiser step on a batch; returns (loss, output).

    Parameters
    ----------
    model : Module
    loss_fn : a loss with ``forward(out, y) -> float`` and ``backward() -> dout``
    optimizer : SGD or Adam built on ``model``
    x : ndarray, shape (N, ...)
    y : targets for ``loss_fn``

    Returns
    -------
    loss : float
    out : ndarray, the model's output for ``x``
    """
    out = model.forward(x)
    loss = loss_fn.forward(out, y)
    model.backward(loss_fn.backward())
    optimizer.step()
    return loss, out


def _check_batch_size(name, batch_size):
    return check_int(f"{name}: batch_size", batch_size)


def predict(model, x, *, batch_size=256):
    """Model outputs for ``x`` in evaluation mode, batch by batch; the mode is restored.

    The forward passes run under :func:`cnnlib.nn.module.no_grad`, so the
    layers keep nothing for a backward pass (no copies of their inputs).

    Parameters
    ----------
    x : ndarray, shape (N, ...)

    Returns
    -------
    ndarray, shape (N, ...) of the model's outputs
    """
    batch_size = _check_batch_size("predict", batch_size)
    x = check_real("predict", x)
    if x.ndim < 1:
        raise ValueError("predict: x must have a batch axis, shape (N, ...); got a scalar")
    was_training = model.training
    model.eval()
    try:
        with no_grad():  # nothing is kept for a backward pass
            parts = [model.forward(x[idx]) for idx in batches(len(x), batch_size)]
            if not parts:
                return model.forward(x)
        return np.concatenate(parts)
    finally:
        model.train(was_training)


def evaluate(model, x, y, *, batch_size=256):
    """Classification accuracy: the fraction of ``argmax(model(x)) == y``.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    y : ndarray of int, shape (N,); (N, 1) and one-hot labels are refused
    """
    scores = predict(model, x, batch_size=batch_size)
    if scores.ndim != 2:
        raise ValueError(f"evaluate: the model's output has shape {scores.shape}; "
                         f"expected (N, classes)")
    y = check_labels("evaluate", y, len(x), scores.shape[1])
    return float(np.mean(scores.argmax(axis=1) == y)) if len(y) else 0.0


def _check_fit_data(x, y, x_val, y_val):
    x = check_real("fit", x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"fit: x must hold at least one example, shape (N, ...); got "
                         f"shape {x.shape}")
    y = np.asarray(y)
    if y.ndim < 1:
        raise ValueError(f"fit: y must hold one label per example, shape (N,); got {y!r}")
    if len(y) != len(x):
        raise ValueError(f"fit: x has {len(x)} examples but y has {len(y)} labels")
    if (x_val is None) != (y_val is None):
        raise ValueError("fit: give both x_val and y_val, or neither")
    if x_val is not None:
        x_val = check_real("fit", x_val, "x_val")
        y_val = np.asarray(y_val)
        if x_val.ndim < 2 or y_val.ndim < 1:
            raise ValueError(f"fit: x_val (N, ...) and y_val (N,) need a batch axis; got shapes "
                             f"{x_val.shape} and {y_val.shape}")
        if len(x_val) != len(y_val):
            raise ValueError(f"fit: x_val has {len(x_val)} examples but y_val has "
                             f"{len(y_val)} labels")
        if x_val.shape[1:] != x.shape[1:]:
            raise ValueError(f"fit: x_val examples have shape {x_val.shape[1:]} but x "
                             f"examples have {x.shape[1:]}")
    return x, y, x_val, y_val


def fit(model, loss_fn, optimizer, x, y, *, epochs, batch_size, rng, x_val=None,
        y_val=None, patience=None, transform=None, lr_schedule=None, workers=1, verbose=True):
    """Train a classifier with shuffled minibatches, one :func:`train_step` per batch.

    Everything is validated before the first update: the data's lengths,
    the labels' type and range (against the model's number of outputs),
    ``batch_size > 0`` and ``epochs >= 0``.

    Parameters
    ----------
    model : Module producing (N, K) scores
    loss_fn : CrossEntropyLoss or NLLLoss (anything with forward/backward)
    optimizer : SGD or Adam built on ``model``
    x : ndarray, shape (N, ...); y : ndarray of int, shape (N,)
    epochs, batch_size : int
    rng : numpy.random.Generator
        Shuffles the batches, and is passed to ``transform``.
    x_val, y_val : optional validation set, evaluated after every epoch
        in batches of ``batch_size``.
    patience : int, optional
        Early stopping: stop when validation loss has not improved for this
        many epochs, and restore the weights of the best epoch.
    transform : callable, optional
        ``transform(x_batch, rng) -> x_batch``, applied to every training
        batch (augmentation, e.g. random shifts); never to validation data.
    lr_schedule : callable, optional
        ``lr_schedule(epoch) -> lr``, the optimiser's learning rate for each
        epoch (counted from 0); e.g. :func:`cosine_schedule`.
    workers : int
        Threads that share each batch (:class:`cnnlib.parallel.DataParallel`,
        which needs threadpoolctl); 1 runs :func:`train_step`.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    History
    """
    epochs = check_int("fit: epochs", epochs, minimum=0)
    batch_size = _check_batch_size("fit", batch_size)
    workers = check_int("fit: workers", workers)
    check_rng("fit", rng)
    if patience is not None:
        patience = check_int("fit: patience", patience)
        if x_val is None:
            raise ValueError("fit: patience (early stopping) needs x_val and y_val")
    x, y, x_val, y_val = _check_fit_data(x, y, x_val, y_val)
    k = model.out_shape((1, *x.shape[1:]))[-1]
    y = check_labels("fit", y, len(x), k)
    if x_val is not None:
        y_val = check_labels("fit", y_val, len(x_val), k)
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError("fit: lr_schedule must be a function of the epoch")
    parallel = DataParallel(model, workers) if workers > 1 else None
    history = History()
    best, best_state = np.inf, None
    for epoch in range(epochs):
        start = time.perf_counter()
        if lr_schedule is not None:
            optimizer.lr = check_number("fit: lr_schedule(epoch)", lr_schedule(epoch), low=0,
                                        low_open=True)
        model.train()
        total, correct = 0.0, 0
        for idx in batches(len(x), batch_size, rng=rng):
            xb = x[idx] if transform is None else transform(x[idx], rng)
            if parallel is None:
                loss, out = train_step(model, loss_fn, optimizer, xb, y[idx])
            else:
                loss, out = parallel(loss_fn, optimizer, xb, y[idx])
            total += loss * len(idx)
            correct += int(np.sum(out.argmax(axis=1) == y[idx]))
        history.loss.append(total / len(x))
        history.train_acc.append(correct / len(x))
        line = (f"epoch {epoch + 1:>3}/{epochs}  loss {history.loss[-1]:.4f}  "
                f"acc {history.train_acc[-1]:.3f}")
        if x_val is not None:
            out = predict(model, x_val, batch_size=batch_size)
            val_loss = loss_fn.forward(out, y_val)
            val_acc = float(np.mean(out.argmax(axis=1) == y_val))
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            line += f"  val_loss {val_loss:.4f}  val_acc {val_acc:.3f}"
            if val_loss < best:
                best, history.best_epoch = val_loss, epoch
                if patience is not None:
                    best_state = _snapshot(model)
        history.seconds.append(time.perf_counter() - start)
        if verbose:
            print(f"{line}  [time: {history.seconds[-1]:.1f} s]", flush=True)
        if patience is not None and epoch - history.best_epoch >= patience:
            if verbose:
                print(f"stopping early: no improvement for {patience} epochs; "
                      f"best was epoch {history.best_epoch + 1}")
            break
    if best_state is not None:
        _restore(model, best_state)
    return history


def cosine_schedule(lr, epochs, *, final=0.02):
    """Learning rates that fall from ``lr`` to ``final * lr`` along half a cosine.

    ``lr_t = lr (final + (1 - final) (1 + cos(pi t / (epochs - 1))) / 2)`` for
    epoch ``t``: slow at first, fastest in the middle, gentle at the end
    (Loshchilov and Hutter's SGDR, without restarts).

    Returns
    -------
    callable
        ``schedule(epoch) -> float``, for :func:`fit`'s ``lr_schedule``.
    """
    lr = check_number("cosine_schedule: lr", lr, low=0, low_open=True)
    epochs = check_int("cosine_schedule: epochs", epochs)
    final = check_number("cosine_schedule: final", final, low=0, high=1)

    def schedule(epoch):
        t = min(epoch, epochs - 1) / max(epochs - 1, 1)
        return lr * (final + (1 - final) * (1 + np.cos(np.pi * t)) / 2)

    return schedule


def _snapshot(model):
    state = {**model.params, **model.buffers}
    return {k: v.copy() for k, v in state.items()}


def _restore(model, snapshot):
    for k, v in {**model.params, **model.buffers}.items():
        v[...] = snapshot[k]
