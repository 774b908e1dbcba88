"""Minibatch training and evaluation loops with a compact progress line per epoch."""

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np


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
        """Write the history to a JSON file."""
        with open(path, "w") as f:
            json.dump(asdict(self), f, indent=1)

    @classmethod
    def from_json(cls, path):
        """Read a history written by :meth:`to_json`."""
        with open(path) as f:
            return cls(**json.load(f))


def batches(n, batch_size, rng=None):
    """Index arrays covering range(n) in chunks; shuffled when ``rng`` is given."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start: start + batch_size]


def predict(model, x, *, batch_size=256):
    """Model outputs for ``x`` in evaluation mode, batch by batch."""
    was_training = model.training
    model.eval()
    out = np.concatenate([model.forward(x[idx]) for idx in batches(len(x), batch_size)])
    model.train(was_training)
    return out


def evaluate(model, x, y, *, batch_size=256):
    """Classification accuracy: the fraction of ``argmax(model(x)) == y``."""
    return float(np.mean(predict(model, x, batch_size=batch_size).argmax(axis=1) == y))


def _loss_of(model, loss_fn, x, y, batch_size):
    out = predict(model, x, batch_size=batch_size)
    return loss_fn.forward(out, y), float(np.mean(out.argmax(axis=1) == y))


def fit(model, loss_fn, optimizer, x, y, *, epochs, batch_size, rng, x_val=None,
        y_val=None, patience=None, verbose=True):
    """Train a classifier with shuffled minibatches.

    Parameters
    ----------
    model : Module producing (N, K) scores
    loss_fn : CrossEntropyLoss or NLLLoss (anything with forward/backward)
    optimizer : SGD or Adam built on ``model``
    x : ndarray, shape (N, ...); y : ndarray of int, shape (N,)
    epochs, batch_size : int
    rng : numpy.random.Generator
        Shuffles the batches.
    x_val, y_val : optional validation set, evaluated after every epoch.
    patience : int, optional
        Early stopping: stop when validation loss has not improved for this
        many epochs, and restore the weights of the best epoch.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    History
    """
    history = History()
    best, best_state = np.inf, None
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        total, correct = 0.0, 0
        for idx in batches(len(x), batch_size, rng):
            out = model.forward(x[idx])
            total += loss_fn.forward(out, y[idx]) * len(idx)
            correct += int(np.sum(out.argmax(axis=1) == y[idx]))
            model.backward(loss_fn.backward())
            optimizer.step()
        history.loss.append(total / len(x))
        history.train_acc.append(correct / len(x))
        line = (f"epoch {epoch + 1:>3}/{epochs}  loss {history.loss[-1]:.4f}  "
                f"acc {history.train_acc[-1]:.3f}")
        if x_val is not None:
            val_loss, val_acc = _loss_of(model, loss_fn, x_val, y_val, 256)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            line += f"  val_loss {val_loss:.4f}  val_acc {val_acc:.3f}"
            if val_loss < best:
                best, history.best_epoch = val_loss, epoch
                best_state = _snapshot(model)
        history.seconds.append(time.perf_counter() - start)
        if verbose:
            print(f"{line}  [time: {history.seconds[-1]:.1f} s]", flush=True)
        if patience is not None and x_val is not None and epoch - history.best_epoch >= patience:
            if verbose:
                print(f"stopping early: no improvement for {patience} epochs; "
                      f"best was epoch {history.best_epoch + 1}")
            break
    if patience is not None and history.best_epoch >= 0:
        _restore(model, best_state)
    return history


def _snapshot(model):
    state = {**model.params, **model.buffers}
    return {k: v.copy() for k, v in state.items()}


def _restore(model, snapshot):
    for k, v in {**model.params, **model.buffers}.items():
        v[...] = snapshot[k]
