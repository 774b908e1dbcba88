"""The training loop: ``train_step``, ``fit`` with early stopping, ``predict`` and ``evaluate``.

The range test ``lr_find`` and ``suggest_lr`` live in :mod:`cnnlib.lr_range` and the
schedules in :mod:`cnnlib.schedules`; both are importable from here.
"""

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from cnnlib.averaging import EMA
from cnnlib.checks import check_int, check_number, check_real, check_rng
from cnnlib.io import atomic_write
from cnnlib.losses import check_labels
from cnnlib.lr_range import lr_find, suggest_lr
from cnnlib.monitor import Monitor
from cnnlib.nn.activations import softmax
from cnnlib.nn.module import no_grad
from cnnlib.optim import clip_grad_norm_
from cnnlib.parallel import DataParallel
from cnnlib.progress import check_progress, progress_bar
from cnnlib.schedules import apply_step_schedule, check_step_schedule, cosine_schedule

__all__ = ["History", "batches", "cosine_schedule", "evaluate", "fit", "lr_find", "predict",
           "suggest_lr", "train_step", "write_json"]


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
    atomic_write(path, lambda f: json.dump(obj, f, indent=1), mode="w")


def batches(n, batch_size, *, rng=None):
    """Index arrays covering range(n) in chunks; shuffled when ``rng`` is given."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start: start + batch_size]


def train_step(model, loss_fn, optimizer, x, y, *, clip_grad_norm=None):
    """One forward, loss, backward and optimiser step on a batch; returns (loss, output).

    Parameters
    ----------
    model : Module
    loss_fn : a loss with ``forward(out, y) -> float`` and ``backward() -> dout``
    optimizer : SGD or Adam built on ``model``
    x : ndarray, shape (N, ...)
    y : targets for ``loss_fn``
    clip_grad_norm : float > 0, optional, keyword-only
        Clip the gradients' global norm to this before the step
        (:func:`cnnlib.optim.clip_grad_norm_`).

    Returns
    -------
    loss : float
    out : ndarray, the model's output for ``x``
    """
    _check_optimizer("train_step", model, optimizer)
    if clip_grad_norm is not None:
        clip_grad_norm = check_number("train_step: clip_grad_norm", clip_grad_norm, low=0,
                                      low_open=True)
    out = model.forward(x)
    loss = loss_fn.forward(out, y)
    model.backward(loss_fn.backward())
    if clip_grad_norm is not None:
        clip_grad_norm_(model, clip_grad_norm)
    optimizer.step()
    return loss, out


def _check_optimizer(name, model, optimizer):
    if getattr(optimizer, "model", None) is not model:
        raise ValueError(f"{name}: the optimiser was built on another model, so a step would "
                         f"train nothing; build it on this one, e.g. cnnlib.SGD(model, lr)")


def _check_batch_size(name, batch_size):
    return check_int(f"{name}: batch_size", batch_size)


def _check_tta(name, tta, x):
    if tta not in (None, "hflip"):
        raise ValueError(f"{name}: tta must be None or 'hflip', got {tta!r}")
    if tta and x.ndim != 4:
        raise ValueError(f"{name}: tta='hflip' mirrors images, so x must have shape "
                         f"(N, C, H, W); got {x.shape}")


def predict(model, x, *, batch_size=256, tta=None, progress=False):
    """Model outputs for ``x`` in evaluation mode, batch by batch; the mode is restored.

    The forward passes run under :func:`cnnlib.nn.module.no_grad`, so the
    layers keep nothing for a backward pass (no copies of their inputs).

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    tta : None or "hflip", keyword-only
        Test-time augmentation. "hflip" returns the average of the softmax
        probabilities of each image and of its left-right mirror, instead of
        the raw outputs; it doubles the cost (two forward passes per batch).
    progress : False, True, "text" or "tqdm", keyword-only
        A progress bar over the batches (see :func:`cnnlib.progress.progress_bar`).

    Returns
    -------
    ndarray, shape (N, ...) of the model's outputs, or (N, K) probabilities with ``tta``
    """
    batch_size = _check_batch_size("predict", batch_size)
    x = check_real("predict", x)
    if x.ndim < 1:
        raise ValueError("predict: x must have a batch axis, shape (N, ...); got a scalar")
    _check_tta("predict", tta, x)
    check_progress("predict", progress)

    def run(xb):
        out = model.forward(xb)
        if tta == "hflip":
            out = (softmax(out, axis=1) + softmax(model.forward(xb[..., ::-1]), axis=1)) / 2
        return out

    was_training = model.training
    model.eval()
    try:
        parts = []
        with no_grad(), progress_bar(-(-len(x) // batch_size), "predict",
                                     progress=progress) as bar:  # nothing kept for backward
            for idx in batches(len(x), batch_size):
                parts.append(run(x[idx]))
                bar.update()
            if not parts:
                return run(x)
        return np.concatenate(parts)
    finally:
        model.train(was_training)


def evaluate(model, x, y, *, batch_size=256, tta=None, progress=False):
    """Classification accuracy: the fraction of ``argmax(model(x)) == y``.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    y : ndarray of int, shape (N,); (N, 1) and one-hot labels are refused
    tta : None or "hflip", keyword-only
        "hflip" classifies by the average softmax probabilities of each
        image and its mirror (see :func:`predict`); it doubles the cost.
    progress : False, True, "text" or "tqdm", keyword-only
        A progress bar over the batches.
    """
    scores = predict(model, x, batch_size=batch_size, tta=tta, progress=progress)
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
        y_val=None, patience=None, transform=None, lr_schedule=None, step_schedule=None,
        clip_grad_norm=None, ema=None, monitor=None, workers=1, verbose=True, progress=False):
    """Train a classifier with shuffled minibatches, one :func:`train_step` per batch.

    Everything is validated before the first update: the data's lengths,
    the labels' type and range (against the model's number of outputs),
    ``batch_size > 0``, ``epochs >= 0`` and the options below.

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
    step_schedule : callable, optional
        ``step_schedule(step) -> lr`` for every optimiser step (counted from 0
        over the whole run), e.g. :class:`cnnlib.schedules.OneCycleLR`. One
        with a ``total_steps`` must have enough steps for every epoch; one
        with ``cycle_momentum`` also sets the optimiser's momentum (SGD's
        ``momentum``, Adam's first beta) from ``step_schedule.momentum(step)``.
        Not together with ``lr_schedule``.
    clip_grad_norm : float > 0, optional
        Clip the gradients' global norm before every step
        (:func:`cnnlib.optim.clip_grad_norm_`).
    ema : float in (0, 1) or :class:`cnnlib.averaging.EMA`, optional
        Keep an exponential moving average of the weights, updated after
        every step. Validation (and so early stopping) uses the averaged
        weights. Given a decay, ``fit`` builds the average and, at the end,
        copies it (the best epoch's, with ``patience``) into ``model``; given
        an ``EMA`` built on ``model``, it updates that one and leaves
        ``model`` with its own weights.
    monitor : :class:`cnnlib.monitor.Monitor`, optional
        Records per-layer statistics during training; attached for the
        run and detached at its end.
    workers : int
        Threads that share each batch (:class:`cnnlib.parallel.DataParallel`,
        which needs threadpoolctl); 1 runs :func:`train_step`.
    verbose : bool
        Print one line per epoch.
    progress : False, True, "text" or "tqdm"
        A per-batch progress bar (elapsed and remaining time, running loss)
        for each epoch, on stderr or as a notebook widget (see
        :func:`cnnlib.progress.progress_bar`). Off by default, so that saved
        notebook outputs stay as they are.

    Returns
    -------
    History
    """
    epochs = check_int("fit: epochs", epochs, minimum=0)
    batch_size = _check_batch_size("fit", batch_size)
    workers = check_int("fit: workers", workers)
    check_rng("fit", rng)
    _check_optimizer("fit", model, optimizer)
    check_progress("fit", progress)
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
    n_batches = -(-len(x) // batch_size)
    if step_schedule is not None and lr_schedule is not None:
        raise ValueError("fit: give lr_schedule (per epoch) or step_schedule (per step), "
                         "not both")
    check_step_schedule("fit", step_schedule, optimizer, epochs * n_batches)
    if clip_grad_norm is not None:
        clip_grad_norm = check_number("fit: clip_grad_norm", clip_grad_norm, low=0,
                                      low_open=True)
    if ema is not None and not isinstance(ema, EMA):
        ema = check_number("fit: ema (the decay)", ema, low=0, high=1, low_open=True,
                           high_open=True)
    if monitor is not None and not isinstance(monitor, Monitor):
        raise TypeError(f"fit: monitor must be a cnnlib.monitor.Monitor, got "
                        f"{type(monitor).__name__}")
    parallel = DataParallel(model, workers) if workers > 1 else None
    averager = ema if isinstance(ema, EMA) or ema is None else EMA(model, ema)
    judged = model if averager is None else averager.module  # what validation sees
    history = History()
    best, best_state = np.inf, None
    step = 0
    if monitor is not None:
        monitor.attach(model)  # after the copies above, which must not share its hooks
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            if lr_schedule is not None:
                optimizer.lr = check_number("fit: lr_schedule(epoch)", lr_schedule(epoch),
                                            low=0, low_open=True)
            model.train()
            total, correct = 0.0, 0
            with progress_bar(n_batches, f"epoch {epoch + 1}/{epochs}", progress=progress,
                              leave=False) as bar:
                for idx in batches(len(x), batch_size, rng=rng):
                    if step_schedule is not None:
                        apply_step_schedule("fit", step_schedule, optimizer, step)
                    xb = x[idx] if transform is None else transform(x[idx], rng)
                    if monitor is not None:
                        monitor.begin_step(step)
                    if parallel is None:
                        loss, out = train_step(model, loss_fn, optimizer, xb, y[idx],
                                               clip_grad_norm=clip_grad_norm)
                    else:
                        loss, out = parallel(loss_fn, optimizer, xb, y[idx],
                                             clip_grad_norm=clip_grad_norm)
                    if monitor is not None:
                        monitor.end_step()
                    if averager is not None:
                        averager.update_parameters(model)
                    step += 1
                    total += loss * len(idx)
                    correct += int(np.sum(out.argmax(axis=1) == y[idx]))
                    bar.set_postfix_str(f"loss {loss:.4f}")
                    bar.update()
            history.loss.append(total / len(x))
            history.train_acc.append(correct / len(x))
            line = (f"epoch {epoch + 1:>3}/{epochs}  loss {history.loss[-1]:.4f}  "
                    f"acc {history.train_acc[-1]:.3f}")
            if x_val is not None:
                out = predict(judged, x_val, batch_size=batch_size)
                val_loss = loss_fn.forward(out, y_val)
                val_acc = float(np.mean(out.argmax(axis=1) == y_val))
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                line += f"  val_loss {val_loss:.4f}  val_acc {val_acc:.3f}"
                if val_loss < best:
                    best, history.best_epoch = val_loss, epoch
                    if patience is not None:
                        best_state = _snapshot(judged)
            history.seconds.append(time.perf_counter() - start)
            if verbose:
                print(f"{line}  [time: {history.seconds[-1]:.1f} s]", flush=True)
            if patience is not None and epoch - history.best_epoch >= patience:
                if verbose:
                    print(f"stopping early: no improvement for {patience} epochs; "
                          f"best was epoch {history.best_epoch + 1}")
                break
    finally:
        if monitor is not None:
            monitor.detach()
    if best_state is not None:
        _restore(judged, best_state)
    if averager is not None and not isinstance(ema, EMA) and averager.n_averaged:
        _restore(model, _snapshot(averager.module))
        for mine, avg in zip(model.modules(), averager.module.modules()):
            if hasattr(avg, "num_batches_tracked"):
                mine.num_batches_tracked = avg.num_batches_tracked
    return history


def _snapshot(model):
    state = {**model.params, **model.buffers}
    return {k: v.copy() for k, v in state.items()}


def _restore(model, snapshot):
    for k, v in {**model.params, **model.buffers}.items():
        v[...] = snapshot[k]
