"""Which boxes survive: an explorer over the score and NMS IoU thresholds of a detector's output."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from cnnlib.book.viewer import Control, StaticViewer
from cnnlib.book.widgets.sliders import SliderExplorer
from cnnlib.tools.average_precision import match_detections
from cnnlib.tools.boxes import batched_nms

STATIC_GRID = {"score": (10, 20, 30, 40, 50, 70), "iou": (30, 50, 70, 100)}
"""Thresholds in hundredths that the static explorer precomputes (IoU 1.00 keeps every box)."""

MATCH_IOU = 0.5
"""A kept box is correct when it overlaps an unclaimed object of its class this much."""

SHOWN = 3
"""Scenes drawn in the picture; the counts and the precision-recall point use all of them."""


def candidates_of(detections, *, keep=20):
    """The ``keep`` most confident boxes of each image, before any suppression, as plain lists.

    Parameters
    ----------
    detections : list of dict
        From :func:`cnnlib.detection.detect` with ``iou_threshold=1`` (no
        suppression) and a low score threshold.
    keep : int

    Returns
    -------
    list of dict
        ``"boxes"``, ``"scores"``, ``"labels"`` as JSON-serialisable lists,
        highest score first; the boxes rounded to 0.01 pixel and the scores
        to 1e-4, so the page's inputs are small and exactly what the frames
        were computed from.
    """
    out = []
    for d in detections:
        order = np.argsort(-np.asarray(d["scores"]), kind="stable")[:keep]
        out.append({"boxes": np.round(np.asarray(d["boxes"])[order], 2).tolist(),
                    "scores": np.round(np.asarray(d["scores"])[order], 4).tolist(),
                    "labels": np.asarray(d["labels"])[order].astype(int).tolist()})
    return out


def survivors(candidate, score, iou):
    """Indices of one image's candidates kept at a score threshold and a class-wise NMS threshold.

    Boxes scoring at least ``score`` go into :func:`~cnnlib.tools.boxes.batched_nms`
    with IoU threshold ``iou``; returns indices into the candidate lists,
    highest score first.
    """
    scores = np.asarray(candidate["scores"], np.float64)
    above = np.flatnonzero(scores >= score)
    if not len(above):
        return np.zeros(0, np.int64)
    boxes = np.asarray(candidate["boxes"], np.float64).reshape(-1, 4)[above]
    labels = np.asarray(candidate["labels"], np.int64)[above]
    return above[batched_nms(boxes, scores[above], labels, iou)]


def operating_point(candidates, targets, score, iou):
    """Kept boxes, their matches and the precision-recall point at one setting.

    Parameters
    ----------
    candidates : list of dict
        From :func:`candidates_of`.
    targets : list of dict
        ``"boxes"`` and ``"labels"`` lists, one per image.
    score, iou : float
        The score threshold and the NMS IoU threshold.

    Returns
    -------
    dict
        ``"kept"`` (indices per image), ``"matched"`` (per kept box: the
        object it found, or -1), ``"tp"``, ``"fp"``, ``"objects"``,
        ``"precision"`` (1 when nothing is kept) and ``"recall"``.
    """
    kept, matched, tp, fp, objects = [], [], 0, 0, 0
    for c, t in zip(candidates, targets):
        keep = survivors(c, score, iou)
        m = match_detections(np.asarray(c["boxes"], np.float64).reshape(-1, 4)[keep],
                             np.asarray(c["scores"])[keep], np.asarray(c["labels"])[keep],
                             np.asarray(t["boxes"], np.float64).reshape(-1, 4),
                             np.asarray(t["labels"], np.int64), MATCH_IOU)
        kept.append(keep.tolist())
        matched.append(m.tolist())
        tp += int((m >= 0).sum())
        fp += int((m < 0).sum())
        objects += len(t["labels"])
    return {"kept": kept, "matched": matched, "tp": tp, "fp": fp, "objects": objects,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / objects if objects else 0.0}


def curve(candidates, targets, iou=0.5, scores=np.linspace(0.05, 0.95, 19)):
    """(recall, precision) arrays over score thresholds at one NMS threshold."""
    points = [operating_point(candidates, targets, s, iou) for s in scores]
    return np.array([p["recall"] for p in points]), np.array([p["precision"] for p in points])


class DetectionExplorer(SliderExplorer):
    """Score and NMS IoU sliders over a detector's boxes on a few test scenes.

    The picture shows :data:`SHOWN` scenes with the kept boxes (green: found
    an object; red: a false alarm), the objects nobody found (dashed yellow)
    and the boxes NMS removed (thin grey), and below them where the setting
    puts precision and recall, over all the scenes given, on the curve
    traced by the score threshold at NMS IoU 0.5. Live in a notebook;
    precomputed over :data:`STATIC_GRID` on a web page.

    Parameters
    ----------
    images : ndarray (S, 1, H, W)
        At least :data:`SHOWN` scenes.
    candidates : list of S dicts
        From :func:`candidates_of`.
    targets : list of S dicts
        ``"boxes"`` and ``"labels"`` as lists.
    class_names : sequence of str
    score, iou : int
        First setting, in hundredths.
    """

    SLIDERS = {"score": ("score threshold (%)", 5, 95),
               "iou": ("NMS IoU threshold (%)", 10, 100)}
    STATIC_GRID = STATIC_GRID
    ALT = "Detections on test scenes. "

    def __init__(self, images, candidates, targets, class_names, score=30, iou=50):
        if len(images) < SHOWN or len(candidates) != len(images) or len(targets) != len(images):
            raise ValueError(f"DetectionExplorer: give at least {SHOWN} images with one "
                             f"candidate dict and one target dict each")
        self.images, self.candidates, self.targets = images, candidates, targets
        self.class_names = list(class_names)
        self.reference = curve(candidates, targets)
        super().__init__(score=score, iou=iou)

    def describe(self, score, iou):
        p = operating_point(self.candidates, self.targets, score / 100, iou / 100)
        nms = "NMS off" if iou == 100 else f"NMS IoU {iou / 100:.2f}"
        text = (f"Score ≥ {score / 100:.2f}, {nms}: {p['tp'] + p['fp']} boxes kept on "
                f"{len(self.images)} scenes, {p['tp']} correct, {p['fp']} false alarms, "
                f"{p['objects'] - p['tp']} of {p['objects']} objects missed. Precision "
                f"{p['precision']:.2f}, recall {p['recall']:.2f}.")
        return text, p

    def figure(self, score, iou):
        p = self.describe(score, iou)[1]
        fig = plt.figure(figsize=(5.0, 3.9), dpi=100)
        for i in range(SHOWN):
            ax = fig.add_axes([0.01 + i * 0.33, 0.59, 0.31, 0.40])
            self._scene(ax, i, score / 100, iou / 100, p)
        ax = fig.add_axes([0.16, 0.13, 0.8, 0.4])
        ax.plot(*self.reference, color="0.6", lw=2, label="NMS 0.5, all scores")
        ax.plot(p["recall"], p["precision"], "o", color="C3", ms=10, label="this setting")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall", fontsize=11, labelpad=1)
        ax.set_ylabel("precision", fontsize=11)
        ax.tick_params(labelsize=11)
        ax.legend(fontsize=11, loc="lower left", frameon=False)
        return fig

    def _scene(self, ax, i, score, iou, point):
        c, t = self.candidates[i], self.targets[i]
        ax.imshow(self.images[i, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        boxes = np.asarray(c["boxes"], np.float64).reshape(-1, 4)
        kept = point["kept"][i]
        above = [j for j in range(len(boxes)) if c["scores"][j] >= score and j not in kept]
        for j in above:
            self._box(ax, boxes[j], "0.55", "-", 1)
        found = {g for g in point["matched"][i] if g >= 0}
        for g, box in enumerate(np.asarray(t["boxes"], np.float64).reshape(-1, 4)):
            if g not in found:
                self._box(ax, box, "#d4a000", "--", 2.5)
        for j, g in zip(kept, point["matched"][i]):
            self._box(ax, boxes[j], "#1a9e3a" if g >= 0 else "#d62728", "-", 2.5)

    @staticmethod
    def _box(ax, box, colour, style, width):
        x1, y1, x2, y2 = box - 0.5        # pixel edges to imshow's coordinates
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, ls=style,
                               lw=width))

    def static(self):
        """The web page's form: a viewer over every setting of :data:`STATIC_GRID`."""
        controls = [Control(name, values, label=self.SLIDERS[name][0].replace(" (%)", ""),
                            labels=[f"{v / 100:.2f}" for v in values],
                            initial=self.initial[name] if self.initial[name] in values else None)
                    for name, values in self.STATIC_GRID.items()]
        inputs = {"candidates": self.candidates, "targets": self.targets,
                  "match_iou": MATCH_IOU}
        return StaticViewer(controls, self._frame, inputs=inputs)
