"""Smith's learning-rate range test (``lr_find``) and a rate suggested from its curve."""

import copy

import numpy as np

from cnnlib.checks import check_int, check_number, check_real, check_rng
from cnnlib.losses import check_labels
from cnnlib.nn.module import Module


def lr_find(model, loss_fn, optimizer, x, y, *, batch_size, rng, start_lr=1e-7, end_lr=10.0,
            steps=100, beta=0.98, diverge=4.0):
    """Train briefly while the learning rate grows exponentially; return the loss curve.

    Step ``i`` of ``steps`` uses ``lr_i = start_lr (end_lr / start_lr)^(i / (steps - 1))``
    on a fresh minibatch of ``batch_size`` examples (shuffled passes over
    ``x``, a partial last batch skipped) in training mode. The recorded loss
    is the batch's loss before that step's update, smoothed as fast.ai does:
    an exponential moving average with factor ``beta``, divided by
    ``1 - beta^(i+1)`` to remove its bias towards the start (``beta=0``
    gives the raw losses). The test stops early when the loss diverges:
    when the smoothed loss exceeds ``diverge`` times the smallest so far (that
    point is kept), or when the loss, the output, a gradient or an
    intermediate value overflows or turns NaN (that point is dropped).

    Afterwards everything is as it was, bit for bit, also when an exception
    (or Ctrl-C) interrupts the test: the model's parameters, gradients,
    buffers, BatchNorm counters, caches, training modes and the states of
    its random generators (Dropout's), the optimiser's learning rate and
    state (momentum buffers, Adam's moments and step count), and the loss
    function's cache. Only ``rng``, which draws the batches, has moved on.

    Parameters
    ----------
    model : Module
    loss_fn : a loss with ``forward(out, y) -> float`` and ``backward() -> dout``
    optimizer : SGD or Adam built on ``model``
    x : ndarray, shape (N, ...); y : targets for ``loss_fn``, N of them
    batch_size : int in [1, N], keyword-only
    rng : numpy.random.Generator, keyword-only
    start_lr, end_lr : float, 0 < start_lr < end_lr, keyword-only
    steps : int, >= 2, keyword-only
    beta : float in [0, 1), keyword-only
    diverge : float, > 1, keyword-only

    Returns
    -------
    lrs : ndarray, shape (S,), S <= steps
        The learning rates tried, increasing.
    losses : ndarray, shape (S,)
        The smoothed losses at those rates.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> net = cnnlib.Sequential(cnnlib.Linear(2, 2, rng=rng))
    >>> x, y = rng.standard_normal((64, 2)), rng.integers(0, 2, 64)
    >>> lrs, losses = lr_find(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y,
    ...                       batch_size=16, rng=rng, steps=20)
    >>> len(lrs) == len(losses) <= 20
    True
    """
    name = "lr_find"
    if not isinstance(model, Module):
        raise TypeError(f"{name}: model must be a cnnlib Module, got {type(model).__name__}")
    if getattr(optimizer, "model", None) is not model:
        raise ValueError(f"{name}: the optimiser was built on another model")
    check_rng(name, rng)
    steps = check_int(f"{name}: steps", steps, minimum=2)
    start_lr = check_number(f"{name}: start_lr", start_lr, low=0, low_open=True)
    end_lr = check_number(f"{name}: end_lr", end_lr, low=0, low_open=True)
    if start_lr >= end_lr:
        raise ValueError(f"{name}: start_lr ({start_lr}) must be less than end_lr ({end_lr})")
    beta = check_number(f"{name}: beta", beta, low=0, high=1, high_open=True)
    diverge = check_number(f"{name}: diverge", diverge, low=1, low_open=True)
    x = check_real(name, x)
    y = np.asarray(y)
    if x.ndim < 2 or y.ndim < 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name}: x (N, ...) and y (N,) need the same number of examples, at "
                         f"least one; got shapes {x.shape} and {y.shape}")
    batch_size = check_int(f"{name}: batch_size", batch_size)
    if batch_size > len(x):
        raise ValueError(f"{name}: batch_size {batch_size} is more than the {len(x)} examples")
    if y.dtype.kind in "iub":
        y = check_labels(name, y, len(x), model.out_shape((1, *x.shape[1:]))[-1])

    lrs = start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))
    saved = _save(model, optimizer, loss_fn)
    tried, losses = [], []
    try:
        model.train()
        avg, best = 0.0, np.inf
        batches = _batches(len(x), batch_size, rng)
        for i, lr in enumerate(lrs):
            optimizer.lr = float(lr)
            idx = next(batches)
            loss = _step(model, loss_fn, optimizer, x[idx], y[idx])
            if loss is None:
                break
            avg = beta * avg + (1 - beta) * loss
            smooth = avg / (1 - beta ** (i + 1))
            tried.append(float(lr))
            losses.append(smooth)
            if smooth > diverge * best:
                break
            best = min(best, smooth)
    finally:
        _load(model, optimizer, loss_fn, saved)
    return np.array(tried), np.array(losses)


def _batches(n, batch_size, rng):
    """Endless minibatches of exactly ``batch_size`` indices from shuffled passes."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start: start + batch_size]


def _step(model, loss_fn, optimizer, xb, yb):
    """One training step; the loss, or None when a value overflowed or turned NaN."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = model.forward(xb)
            if not np.all(np.isfinite(out)):
                return None
            loss = loss_fn.forward(out, yb)
            if not np.isfinite(loss):
                return None
            model.backward(loss_fn.backward())
            if not all(np.all(np.isfinite(g)) for g in model.grads.values()):
                return None
            optimizer.step()
    except FloatingPointError:
        return None
    if not all(np.all(np.isfinite(p)) for p in model.params.values()):
        return None
    return float(loss)


def _generator_states(obj):
    return {k: v.bit_generator.state for k, v in vars(obj).items()
            if isinstance(v, np.random.Generator)}


def _save(model, optimizer, loss_fn):
    """Copies of everything a training step can change, for :func:`_load`."""
    modules = []
    for m in model.modules():
        other = {k: copy.deepcopy(v) for k, v in vars(m).items()
                 if k not in ("_params", "_buffers", "_children")
                 and not isinstance(v, np.random.Generator)}
        modules.append((m, other, _generator_states(m)))
    arrays = {k: v.copy() for k, v in {**model.params, **model.buffers}.items()}
    opt = {k: copy.deepcopy(v) for k, v in vars(optimizer).items() if k != "model"}
    loss = copy.deepcopy(vars(loss_fn))
    return modules, arrays, opt, loss


def _restore_attrs(obj, saved, keep=()):
    for k in [k for k in vars(obj) if k not in saved and k not in keep]:
        delattr(obj, k)
    for k, v in saved.items():
        setattr(obj, k, v)


def _load(model, optimizer, loss_fn, saved):
    modules, arrays, opt, loss = saved
    for k, v in {**model.params, **model.buffers}.items():
        np.copyto(v, arrays[k])  # in place: replicas and optimisers may hold these arrays
    for m, other, generators in modules:
        _restore_attrs(m, other, keep=("_params", "_buffers", "_children", *generators))
        for k, state in generators.items():
            getattr(m, k).bit_generator.state = state
    _restore_attrs(optimizer, opt, keep=("model",))
    _restore_attrs(loss_fn, loss)


def suggest_lr(lrs, losses, *, method="steepest"):
    """A learning rate read off the curve of :func:`lr_find`.

    "steepest": the rate where the (smoothed) loss falls fastest against
    ``log10(lr)`` (the most negative slope by ``np.gradient`` over the whole
    curve), searched among the rates below the one of the lowest loss; the
    usual choice, a little before the valley.
    "minimum": the rate of the lowest loss divided by 10, the older
    rule of thumb (the minimum itself is already too fast).

    Parameters
    ----------
    lrs, losses : ndarray, shape (S,), S >= 2
    method : "steepest" or "minimum", keyword-only

    Returns
    -------
    float

    Examples
    --------
    >>> suggest_lr([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.9, 1.0, 5.0])
    0.01
    >>> suggest_lr([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.9, 1.0, 5.0], method="minimum")
    0.01
    """
    if method not in ("steepest", "minimum"):
        raise ValueError(f"suggest_lr: method must be 'steepest' or 'minimum', got {method!r}")
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if lrs.ndim != 1 or lrs.shape != losses.shape or len(lrs) < 2:
        raise ValueError(f"suggest_lr: lrs and losses must be 1-D, of the same length, at "
                         f"least 2; got shapes {lrs.shape} and {losses.shape}")
    if not (np.all(np.isfinite(lrs)) and np.all(lrs > 0) and np.all(np.isfinite(losses))):
        raise ValueError("suggest_lr: lrs must be positive and finite, losses finite")
    low = int(np.argmin(losses))
    if method == "minimum":
        return float(lrs[low] / 10)
    if low == 0:
        return float(lrs[0])
    slope = np.gradient(losses, np.log10(lrs))
    return float(lrs[int(np.argmin(slope[:low]))])
