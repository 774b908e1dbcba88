"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dpred``."""

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
