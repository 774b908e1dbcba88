"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dpred``."""

import numpy as np

from cnnlib.checks import check_finite, check_ndim
from cnnlib.functional import log_softmax


def _check_scores(name, scores, target):
    """Validate (N, K) scores and N integer labels; return both as arrays."""
    scores = np.asarray(scores)
    check_ndim(name, scores, 2, "(N, classes)")
    check_finite(name, scores)
    return scores, _check_labels(name, target, *scores.shape)


def _check_labels(name, target, n, k):
    target = np.asarray(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: labels must be integers, got dtype {target.dtype}")
    if target.shape != (n,):
        raise ValueError(f"{name}: expected {n} labels of shape ({n},), got shape {target.shape}")
    if n and (target.min() < 0 or target.max() >= k):
        raise ValueError(
            f"{name}: labels must lie in [0, {k - 1}] for {k} classes, got values from "
            f"{target.min()} to {target.max()}")
    return target


class NLLLoss:
    """Mean negative log-likelihood of integer labels under log-probabilities.

    ``forward(log_probs, target)``: log_probs (N, K), target (N,) ints in [0, K).
    """

    name = "NLLLoss"

    def forward(self, log_probs, target):
        log_probs, self._target = _check_scores(self.name, log_probs, target)
        self._shape, self._dtype = log_probs.shape, log_probs.dtype
        return float(-log_probs[np.arange(len(log_probs)), self._target].mean())

    def backward(self):
        n = self._shape[0]
        grad = np.zeros(self._shape, dtype=self._dtype)
        grad[np.arange(n), self._target] = -1.0 / n
        return grad


class CrossEntropyLoss:
    """Softmax cross-entropy from logits with integer labels, averaged over the batch.

    ``forward(logits, target)``: logits (N, K), target (N,) ints in [0, K).
    The gradient is ``(softmax(logits) - onehot(target)) / N``.
    """

    name = "CrossEntropyLoss"

    def forward(self, logits, target):
        logits, self._target = _check_scores(self.name, logits, target)
        self._log_p = log_softmax(logits, axis=1)
        return float(-self._log_p[np.arange(len(logits)), self._target].mean())

    def backward(self):
        n = self._log_p.shape[0]
        grad = np.exp(self._log_p)
        grad[np.arange(n), self._target] -= 1
        return grad / grad.dtype.type(n)


class MSELoss:
    """Mean squared error over all elements; ``pred`` and ``target`` have the same shape."""

    name = "MSELoss"

    def forward(self, pred, target):
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(
                f"{self.name}: prediction has shape {pred.shape} but target has shape "
                f"{target.shape}")
        check_finite(self.name, pred, "prediction")
        check_finite(self.name, target, "target")
        self._diff = pred - target.astype(pred.dtype)
        return float(np.mean(self._diff ** 2))

    def backward(self):
        return 2 * self._diff / self._diff.dtype.type(self._diff.size)
