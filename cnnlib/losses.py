"""Losses: ``forward(pred, target) -> float``, ``backward() -> dpred``; focal and smooth L1 functions."""

import numpy as np

from cnnlib.checks import check_finite, check_ndim, check_number, check_real
from cnnlib.nn.activations import as_float, log_softmax


def _check_scores(name, scores, target):
    """Validate (N, K) scores and N integer labels; return both as arrays."""
    scores = as_float(scores, name)
    check_ndim(name, scores, 2, "(N, classes)")
    check_finite(name, scores)
    if scores.shape[1] < 1:
        raise ValueError(f"{name}: scores have no classes (shape {scores.shape})")
    return scores, check_labels(name, target, *scores.shape)


def check_labels(name, target, n, k):
    """Return ``target`` as N integer labels in [0, K), refusing floats, one-hot and (N, 1)."""
    target = check_real(name, target, "labels")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: labels must be integers, got dtype {target.dtype}")
    if target.shape != (n,):
        hint = (" (one-hot or (N, 1) labels: pass integer class indices, e.g. y.argmax(1) "
                "or y.ravel())" if target.ndim == 2 else "")
        raise ValueError(f"{name}: expected {n} labels of shape ({n},), got shape "
                         f"{target.shape}{hint}")
    if n and (target.min() < 0 or target.max() >= k):
        raise ValueError(
            f"{name}: labels must lie in [0, {k - 1}] for {k} classes, got values from "
            f"{target.min()} to {target.max()}")
    return target.astype(np.int64, copy=False)


def _mean(total, n):
    """``total / n`` as a float; nan for an empty batch (n = 0), as PyTorch's mean, silently."""
    return float(total / n) if n else float("nan")


class _Loss:
    name = "loss"

    def backward(self):
        if not hasattr(self, "_grad_parts"):
            raise RuntimeError(f"{self.name}.backward called before forward")
        return self._gradient()


class NLLLoss(_Loss):
    """Mean negative log-likelihood of integer labels under log-probabilities.

    ``forward(log_probs, target)``: ``log_probs`` (N, K) must be
    log-probabilities, such as the output of :class:`~cnnlib.LogSoftmax`:
    every row must exponentiate to a distribution, and a row that does not
    (raw scores passed by mistake) is refused. ``target`` (N,) holds ints in
    [0, K). An empty batch (N = 0) gives a loss of nan, as in PyTorch (without
    a warning), and an empty gradient.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> round(cnnlib.NLLLoss().forward(np.log([[0.5, 0.5]]), np.array([0])), 4)
    0.6931
    """

    name = "NLLLoss"

    def forward(self, log_probs, target):
        log_probs, target = _check_scores(self.name, log_probs, target)
        if len(target):
            totals = np.exp(log_probs).sum(axis=1)
            bad = np.flatnonzero(np.abs(totals - 1) > 1e-3)
            if bad.size:
                raise ValueError(
                    f"{self.name}: expects log-probabilities, but row {bad[0]} exponentiates "
                    f"to a total of {totals[bad[0]]:.4g}, not 1; apply LogSoftmax first, or "
                    f"use CrossEntropyLoss on raw scores")
        self._grad_parts = (log_probs.shape, log_probs.dtype, target)
        n = len(target)
        return _mean(-log_probs[np.arange(n), target].sum(), n)

    def _gradient(self):
        shape, dtype, target = self._grad_parts
        n = shape[0]
        grad = np.zeros(shape, dtype=dtype)
        grad[np.arange(n), target] = -1.0 / max(n, 1)
        return grad


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits with integer labels, averaged over the batch.

    ``forward(logits, target)``: logits (N, K), target (N,) ints in [0, K).
    With label smoothing ``eps`` the target distribution is
    ``q = (1 - eps) onehot(target) + eps / K``, as in PyTorch, so the loss of
    example n is ``(1 - eps) (-log p[n, target]) + eps mean_k(-log p[n, k])``
    and the gradient is ``(softmax(logits) - q) / N``. An empty batch (N = 0)
    gives a loss of nan, as PyTorch's mean does (without a warning), and an
    empty gradient.

    Parameters
    ----------
    label_smoothing : float in [0, 1], keyword or positional
        0 gives the plain cross-entropy; 1 gives a uniform target.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> round(cnnlib.CrossEntropyLoss().forward(np.zeros((1, 4)), np.array([2])), 4)
    1.3863
    >>> smooth = cnnlib.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(smooth.forward(np.array([[2.0, 0.0]]), np.array([0])), 4)
    0.2269
    """

    name = "CrossEntropyLoss"

    def __init__(self, label_smoothing=0.0):
        self.label_smoothing = check_number("CrossEntropyLoss: label_smoothing",
                                            label_smoothing, low=0, high=1)

    def forward(self, logits, target):
        logits, target = _check_scores(self.name, logits, target)
        log_p = log_softmax(logits, axis=1)
        self._grad_parts = (log_p, target)
        n, eps = len(target), self.label_smoothing
        nll = -log_p[np.arange(n), target].sum()
        if eps:
            nll = (1 - eps) * nll - eps * log_p.mean(axis=1).sum()
        return _mean(nll, n)

    def _gradient(self):
        log_p, target = self._grad_parts
        n, k = log_p.shape
        eps = self.label_smoothing
        grad = np.exp(log_p)
        if eps:
            grad -= grad.dtype.type(eps / k)
        grad[np.arange(n), target] -= grad.dtype.type(1 - eps)
        return grad / grad.dtype.type(max(n, 1))

    def __repr__(self):
        return f"CrossEntropyLoss(label_smoothing={self.label_smoothing})"


class MSELoss(_Loss):
    """Mean squared error over all elements; ``pred`` and ``target`` have the same shape.

    An empty prediction gives a loss of nan, as PyTorch's mean does (without a warning).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.MSELoss().forward(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    """

    name = "MSELoss"

    def forward(self, pred, target):
        pred = as_float(pred, f"{self.name} prediction")
        target = check_real(self.name, target, "target")
        if pred.shape != target.shape:
            raise ValueError(
                f"{self.name}: prediction has shape {pred.shape} but target has shape "
                f"{target.shape}")
        check_finite(self.name, pred, "prediction")
        check_finite(self.name, target, "target")
        diff = pred - target.astype(pred.dtype)
        self._grad_parts = diff
        return _mean(np.sum(diff ** 2), diff.size)

    def _gradient(self):
        diff = self._grad_parts
        return 2 * diff / diff.dtype.type(max(diff.size, 1))


_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(name, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def _pair(name, pred, target, what="input"):
    """``pred`` as a float array and ``target`` in its dtype; same shape, both finite."""
    pred = as_float(pred, f"{name} {what}")
    target = check_real(name, target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: {what} has shape {pred.shape} but target has shape "
                         f"{target.shape}; they must match")
    check_finite(name, pred, what)
    check_finite(name, target, "target")
    return pred, target.astype(pred.dtype, copy=False)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    return total / loss.dtype.type(max(loss.size, 1)) if reduction == "mean" else total


def _unreduce(name, dy, shape, dtype, reduction):
    """The upstream gradient spread over the elements, as ``reduction`` spread the loss."""
    dy = check_real(f"{name}_backward", dy, "gradient")
    if reduction == "none":
        if dy.shape != shape:
            raise ValueError(f"{name}_backward: gradient has shape {dy.shape} but the loss had "
                             f"{shape}")
        return dy.astype(dtype, copy=False)
    if dy.size != 1:
        raise ValueError(f"{name}_backward: with reduction={reduction!r} the loss is a scalar, "
                         f"so the gradient must be one number, got shape {dy.shape}")
    scale = dtype.type(dy.item())
    if reduction == "mean":
        scale /= dtype.type(max(int(np.prod(shape)), 1))
    return np.full(shape, scale, dtype=dtype)


def _focal_args(name, inputs, targets, alpha, gamma, reduction):
    inputs, targets = _pair(name, inputs, targets, "inputs")
    if targets.size and (targets.min() < 0 or targets.max() > 1):
        raise ValueError(f"{name}: targets must lie in [0, 1] (1 for the positive class), got "
                         f"values from {targets.min()} to {targets.max()}")
    alpha = check_number(f"{name}: alpha", alpha, high=1)
    gamma = check_number(f"{name}: gamma", gamma, low=0)
    return inputs, targets, alpha, gamma, _check_reduction(name, reduction)


def _focal_parts(x, t, alpha):
    """Per element: sigmoid p, cross-entropy, 1 - p_t, and the alpha weight."""
    p = np.exp(-np.logaddexp(x.dtype.type(0), -x))
    ce = np.logaddexp(x.dtype.type(0), x) - x * t
    miss = p * (1 - t) + (1 - p) * t  # 1 - p_t, written so that it is never negative
    weight = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else np.ones_like(x)
    return p, ce, miss, weight


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Focal loss of Lin et al. (2017) on logits, as ``torchvision.ops.sigmoid_focal_loss``.

    Per element, with ``p = sigmoid(inputs)`` and ``p_t = p t + (1 - p)(1 - t)``::

        loss = alpha_t (1 - p_t)^gamma BCE(inputs, t),  alpha_t = alpha t + (1 - alpha)(1 - t)

    The factor ``(1 - p_t)^gamma`` shrinks the loss of the many easy
    examples (background, in detection), so that the few hard ones dominate.

    Parameters
    ----------
    inputs : array_like, any shape
        Logits, one per (location, class), for instance.
    targets : array_like, same shape
        1 for the positive class and 0 for the negative (values in between
        are allowed, as soft targets).
    alpha : float <= 1, default 0.25
        Weight of the positives; a negative value turns the weighting off.
    gamma : float >= 0, default 2
        ``gamma = 0`` and ``alpha < 0`` give plain binary cross-entropy.
    reduction : {"none", "mean", "sum"}, default "none"
        The mean of an empty input is 0 (PyTorch gives NaN).

    Returns
    -------
    loss : ndarray of the inputs' shape, or a 0-d array for "mean" and "sum"

    Examples
    --------
    >>> from cnnlib.losses import sigmoid_focal_loss
    >>> float(sigmoid_focal_loss([0.0], [1.0], alpha=-1, gamma=0)[0])  # log 2
    0.6931471805599453
    """
    x, t, alpha, gamma, reduction = _focal_args("sigmoid_focal_loss", inputs, targets, alpha,
                                                gamma, reduction)
    _, ce, miss, weight = _focal_parts(x, t, alpha)
    return _reduce(weight * ce * miss ** gamma, reduction)


def sigmoid_focal_loss_backward(dy, inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Gradient of :func:`sigmoid_focal_loss` with respect to ``inputs``.

    ``dy`` is the gradient of the (reduced) loss: the inputs' shape for
    "none", one number for "mean" and "sum". Returns the inputs' shape.
    With ``m = 1 - p_t``, ``dm/dx = (1 - 2t) p (1 - p)`` and
    ``d loss / dx = alpha_t ((p - t) m^gamma + gamma m^(gamma - 1) dm/dx BCE)``.
    """
    x, t, alpha, gamma, reduction = _focal_args("sigmoid_focal_loss_backward", inputs, targets,
                                                alpha, gamma, reduction)
    dy = _unreduce("sigmoid_focal_loss", dy, x.shape, x.dtype, reduction)
    p, ce, miss, weight = _focal_parts(x, t, alpha)
    grad = (p - t) * miss ** gamma
    if gamma:
        # where m = 0, dm/dx = 0 too (p is 0 or 1 and t equals it), and the term vanishes
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(miss > 0, gamma * miss ** (gamma - 1), 0)
        grad += slope * (1 - 2 * t) * p * (1 - p) * ce
    return (dy * weight * grad).astype(x.dtype, copy=False)


def _smooth_l1_args(name, pred, target, reduction, beta):
    pred, target = _pair(name, pred, target)
    beta = check_number(f"{name}: beta", beta, low=0)
    return pred, target, _check_reduction(name, reduction), beta


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Huber-like loss, as ``torch.nn.functional.smooth_l1_loss``.

    Per element, with ``z = |input - target|``: ``0.5 z^2 / beta`` where
    ``z < beta``, else ``z - 0.5 beta``; ``beta = 0`` is the L1 loss. Box
    regression uses it because a far-off box pulls with a bounded gradient.

    Parameters
    ----------
    input, target : array_like, same shape
    reduction : {"none", "mean", "sum"}, default "mean"
        The mean of an empty input is 0 (PyTorch gives NaN).
    beta : float >= 0, default 1

    Returns
    -------
    loss : ndarray of the input's shape, or a 0-d array for "mean" and "sum"

    Examples
    --------
    >>> from cnnlib.losses import smooth_l1_loss
    >>> smooth_l1_loss([0.5, 3.0], [0.0, 0.0], reduction="none").tolist()
    [0.125, 2.5]
    """
    x, t, reduction, beta = _smooth_l1_args("smooth_l1_loss", input, target, reduction, beta)
    z = np.abs(x - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(z < beta, 0.5 * z * z / beta if beta else z, z - 0.5 * beta)
    return _reduce(loss.astype(x.dtype, copy=False), reduction)


def smooth_l1_loss_backward(dy, input, target, reduction="mean", beta=1.0):
    """Gradient of :func:`smooth_l1_loss` with respect to ``input``, PyTorch's rule.

    ``(input - target) / beta`` inside the quadratic zone, the sign outside
    it (0 where ``input == target`` and ``beta == 0``). ``dy`` is the
    gradient of the reduced loss, as for :func:`sigmoid_focal_loss_backward`.
    """
    x, t, reduction, beta = _smooth_l1_args("smooth_l1_loss_backward", input, target,
                                            reduction, beta)
    dy = _unreduce("smooth_l1_loss", dy, x.shape, x.dtype, reduction)
    d = x - t
    grad = np.sign(d) if beta == 0 else np.where(np.abs(d) < beta, d / beta, np.sign(d))
    return (dy * grad).astype(x.dtype, copy=False)


class SigmoidFocalLoss(_Loss):
    """:func:`sigmoid_focal_loss` as a loss object, reduced to one number.

    ``forward(inputs, targets) -> float``; ``backward() -> dinputs``.

    Parameters
    ----------
    alpha : float <= 1, default 0.25 (negative: no weighting)
    gamma : float >= 0, default 2
    reduction : {"mean", "sum"}, default "mean"
        Detectors usually take "sum" and divide by the number of objects.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> loss = cnnlib.SigmoidFocalLoss(reduction="sum")
    >>> round(loss.forward(np.array([[2.0, -1.0]]), np.array([[1.0, 0.0]])), 4)
    0.0174
    >>> loss.backward().shape
    (1, 2)
    """

    name = "SigmoidFocalLoss"

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        self.alpha = check_number(f"{self.name}: alpha", alpha, high=1)
        self.gamma = check_number(f"{self.name}: gamma", gamma, low=0)
        self.reduction = _check_reduction(self.name, reduction, ("mean", "sum"))

    def forward(self, inputs, targets):
        loss = sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)
        self._grad_parts = (np.array(inputs), np.array(targets))  # copies: the caller may edit
        return float(loss)

    def _gradient(self):
        inputs, targets = self._grad_parts
        return sigmoid_focal_loss_backward(1.0, inputs, targets, self.alpha, self.gamma,
                                           self.reduction)


class SmoothL1Loss(_Loss):
    """:func:`smooth_l1_loss` as a loss object, as ``torch.nn.SmoothL1Loss``.

    ``forward(pred, target) -> float``; ``backward() -> dpred``.

    Parameters
    ----------
    reduction : {"mean", "sum"}, default "mean"
    beta : float >= 0, default 1

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.SmoothL1Loss(beta=1.0).forward(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
    1.3125
    """

    name = "SmoothL1Loss"

    def __init__(self, reduction="mean", beta=1.0):
        self.reduction = _check_reduction(self.name, reduction, ("mean", "sum"))
        self.beta = check_number(f"{self.name}: beta", beta, low=0)

    def forward(self, pred, target):
        loss = smooth_l1_loss(pred, target, self.reduction, self.beta)
        self._grad_parts = (np.array(pred), np.array(target))  # copies: the caller may edit
        return float(loss)

    def _gradient(self):
        pred, target = self._grad_parts
        return smooth_l1_loss_backward(1.0, pred, target, self.reduction, self.beta)
