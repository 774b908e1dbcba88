"""Confidence and calibration: top-k accuracy, reliability bins, expected calibration error."""

from dataclasses import dataclass

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_real
from cnnlib.losses import check_labels


def top_k_accuracy(scores, y, k=1):
    """Fraction of examples whose label is among the ``k`` highest scores.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
        Scores, probabilities or log-probabilities (only their order matters).
    y : ndarray of int, shape (N,)
    k : int, at most K

    Returns
    -------
    float
    """
    name = "top_k_accuracy"
    scores = check_real(name, scores, "scores")
    check_ndim(name, scores, 2, "(N, classes)", "scores")
    k = check_int(f"{name}: k", k)
    if k > scores.shape[1]:
        raise ValueError(f"{name}: k = {k} exceeds the {scores.shape[1]} classes")
    y = check_labels(f"{name}: y", y, *scores.shape)
    if not len(y):
        return 0.0
    # the label's rank: how many classes score strictly higher
    higher = (scores > scores[np.arange(len(y)), y][:, None]).sum(axis=1)
    return float(np.mean(higher < k))


@dataclass
class Reliability:
    """Equal-width confidence bins: what a reliability diagram draws.

    Attributes
    ----------
    edges : ndarray, shape (bins + 1,)
        Bin b holds confidences in ``(edges[b], edges[b + 1]]``; the first
        bin also holds 0.
    count : ndarray of int, shape (bins,)
    confidence : ndarray, shape (bins,)
        Mean confidence in each bin (NaN where the bin is empty).
    accuracy : ndarray, shape (bins,)
        Fraction correct in each bin (NaN where the bin is empty).
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self):
        """Expected calibration error: the count-weighted mean of |accuracy - confidence|."""
        full = self.count > 0
        gaps = np.abs(self.accuracy[full] - self.confidence[full])
        return float(np.sum(self.count[full] * gaps) / max(self.count.sum(), 1))


def reliability(confidence, correct, *, bins=10):
    """Sort predictions into equal-width confidence bins (Guo et al., 2017).

    Parameters
    ----------
    confidence : ndarray, shape (N,)
        The probability each prediction was given, in [0, 1].
    correct : ndarray of bool, shape (N,)
        Whether each prediction was right.
    bins : int

    Returns
    -------
    Reliability
    """
    name = "reliability"
    confidence = check_real(name, confidence, "confidence").astype(np.float64)
    correct = np.asarray(correct)
    check_ndim(name, confidence, 1, "(N,)", "confidence")
    bins = check_int(f"{name}: bins", bins)
    if correct.dtype != bool or correct.shape != confidence.shape:
        raise ValueError(f"{name}: correct must be a boolean array of shape "
                         f"{confidence.shape}, got {correct.dtype} of shape {correct.shape}")
    if confidence.size and not (confidence.min() >= 0 and confidence.max() <= 1):
        raise ValueError(f"{name}: confidence must lie in [0, 1] (probabilities, not "
                         f"log-probabilities), got values from {confidence.min():.3g} "
                         f"to {confidence.max():.3g}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct, minlength=bins) / count
    return Reliability(edges, count, mean_conf, accuracy)


def expected_calibration_error(confidence, correct, *, bins=10):
    """ECE of Guo et al. (2017): ``sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|``.

    Parameters as for :func:`reliability`.

    Returns
    -------
    float, in [0, 1]
    """
    return reliability(confidence, correct, bins=bins).ece
