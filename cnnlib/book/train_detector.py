"""Train the small detector and three segmenters on Fashion-MNIST scenes, over several seeds.

Run as ``python -m cnnlib.book.train_detector --out book/results`` (about
15 minutes of CPU in all, one BLAS thread per process; ``--jobs 3`` runs
the seeds side by side). The scenes are the same for every seed: training
scenes from Fashion-MNIST training images, test scenes from its test
images, so no item is seen in both. Each seed sets the networks' initial
weights and the order of the batches.

Per seed the detector trains with Adam for ``--steps`` steps; its learning
rate drops tenfold for the last ``--decay-steps``; COCO numbers of the test
scenes are recorded at each checkpoint, the first one (``--baseline-steps``)
being the baseline. Then an FCN and a U-Net without and with skip
connections are trained for ``--seg-steps`` steps each and scored by mean
IoU. Writes ``detector_run.json`` and ``segmentation_run.json`` (settings,
histories, metrics, times) and the weights of every detector and of the
first seed's segmenters (``.npz``) to ``--out``, each atomically;
``--parts`` runs one of the two.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.data import fashion_mnist, make_scenes
from cnnlib.detection import detect, fit_detector, small_detector
from cnnlib.io import save_weights
from cnnlib.optim import Adam
from cnnlib.progress import progress_bar
from cnnlib.segmentation import (boundary_pixels, fit_segmenter, mean_iou, predict_masks,
                                 small_fcn, small_unet)
from cnnlib.tools.boxes import mean_average_precision
from cnnlib.train import write_json

SPLIT = 50000
"""Training scenes use Fashion-MNIST training images [0, SPLIT)."""

SCENE_SEED = 2024
"""Seed of the scenes, the same for every training seed."""

SEGMENTERS = {"fcn": (small_fcn, {}), "unet_noskip": (small_unet, {"skips": False}),
              "unet": (small_unet, {"skips": True})}
"""Name -> (builder, keyword arguments) of the three segmenters compared."""


def scenes(train_scenes, test_scenes, root=None):
    """(train, test) :class:`~cnnlib.data.Scenes`, made from :data:`SCENE_SEED`."""
    rng = np.random.default_rng(SCENE_SEED)
    x, y, x_test, y_test = fashion_mnist(root)
    train = make_scenes(x, y, train_scenes, rng=rng, indices=np.arange(SPLIT))
    test = make_scenes(x_test, y_test, test_scenes, rng=rng)
    return train, test


def coco_numbers(model, test):
    """The float entries of :func:`mean_average_precision` of ``model`` on ``test``."""
    metrics = mean_average_precision(detect(model, test.images), test.targets())
    return {k: v for k, v in metrics.items() if isinstance(v, float)}


def segmentation_numbers(model, test):
    """Mean IoU (11 classes), foreground IoU and accuracy on the pixels at object boundaries."""
    pred = predict_masks(model, test.images)
    miou, per_class = mean_iou(pred, test.masks, 11)
    fg = mean_iou(pred > 0, test.masks > 0, 2)[1][1]
    edge = boundary_pixels(test.masks)
    return {"miou": miou, "foreground_iou": float(fg),
            "boundary_accuracy": float(np.mean(pred[edge] == test.masks[edge])),
            "iou_per_class": [None if np.isnan(v) else float(v) for v in per_class]}


def train_detector_seed(seed, settings, out=None):
    """Train and score the detector for one seed; returns a JSON-able dict."""
    s = settings
    cpu = time.process_time()
    with threadpool_limits(1):
        train, test = scenes(s["train_scenes"], s["test_scenes"], s["data"])
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        model = small_detector(10, rng=rng, width=s["width"])
        optimizer = Adam(model, s["lr"])
        checkpoints = sorted({s["baseline_steps"], s["steps"] - s["decay_steps"], s["steps"]})
        history, evaluations, done = {"loss": [], "classes": [], "boxes": []}, [], 0
        bar = progress_bar(s["steps"], f"seed {seed} detector")
        for point in checkpoints:
            if done == s["steps"] - s["decay_steps"]:
                optimizer.lr = s["lr"] / 10
            part = fit_detector(model, train, optimizer, rng=rng, batch_size=s["batch_size"],
                                steps=point - done)
            for key in history:
                history[key] += part[key]
            bar.update(point - done)
            done = point
            evaluations.append({"steps": point, "seconds": time.perf_counter() - start,
                                **coco_numbers(model, test)})
            bar.set_postfix_str(f"mAP@0.5 {evaluations[-1]['map_50']:.3f}")
        bar.close()
        if out is not None:
            save_weights(model, Path(out) / f"detector_seed{seed}.npz")
    return {"seed": seed, "history": history, "evaluations": evaluations,
            "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


def train_segmenters_seed(seed, settings, out=None):
    """Train and score the three :data:`SEGMENTERS` for one seed; returns a JSON-able dict."""
    s = settings
    cpu = time.process_time()
    result = {"seed": seed}
    with threadpool_limits(1):
        train, test = scenes(s["train_scenes"], s["test_scenes"], s["data"])
        rng = np.random.default_rng(seed)
        for name, (builder, kwargs) in SEGMENTERS.items():
            start = time.perf_counter()
            net = builder(11, rng=rng, width=s["seg_width"], **kwargs)
            with progress_bar(s["seg_steps"], f"seed {seed} {name}") as bar:
                hist = fit_segmenter(net, train.images, train.masks, Adam(net, s["lr"]), rng=rng,
                                     steps=s["seg_steps"], batch_size=s["batch_size"],
                                     progress=bar)
            result[name] = {"loss": hist["loss"], "seconds": time.perf_counter() - start,
                            **segmentation_numbers(net, test)}
            if out is not None and seed == s["seeds"][0]:
                save_weights(net, Path(out) / f"segmenter_{name}.npz")
    result["cpu_seconds"] = time.process_time() - cpu
    return result


PARTS = {"detector": (train_detector_seed, "detector_run.json"),
         "segmenters": (train_segmenters_seed, "segmentation_run.json")}
"""What ``--parts`` can run: the function per seed and the record it writes."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=2000, help="detector steps per seed")
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--decay-steps", type=int, default=500)
    parser.add_argument("--seg-steps", type=int, default=400, help="steps per segmenter")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seg-width", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-scenes", type=int, default=4000)
    parser.add_argument("--test-scenes", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained side by side")
    parser.add_argument("--data", help="folder with the Fashion-MNIST files")
    parser.add_argument("--out", help="folder for detector_run.json and the .npz weights")
    parser.add_argument("--parts", nargs="+", choices=sorted(PARTS), default=sorted(PARTS))
    args = parser.parse_args(argv)
    if not 0 < args.baseline_steps <= args.steps - args.decay_steps < args.steps:
        parser.error("need 0 < --baseline-steps <= --steps - --decay-steps < --steps")
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "jobs", "parts")}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    command = "python -m cnnlib.book.train_detector " + " ".join(
        sys.argv[1:] if argv is None else argv)
    for part in args.parts:
        function, record_name = PARTS[part]
        start, cpu = time.perf_counter(), os.times()
        seeds = args.seeds
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                runs = list(pool.map(function, seeds, [settings] * len(seeds),
                                     [args.out] * len(seeds)))
        else:
            runs = [function(seed, settings, args.out) for seed in seeds]
        times = os.times()
        record = {"command": command, "settings": settings,
                  "wall_seconds": time.perf_counter() - start,
                  "cpu_seconds": sum(getattr(times, k) - getattr(cpu, k) for k in (
                      "user", "system", "children_user", "children_system")),
                  "runs": runs}
        for run in runs:
            if part == "detector":
                last = run["evaluations"][-1]
                print(f"seed {run['seed']}: mAP@0.5 {last['map_50']:.3f}, mAP {last['map']:.3f}")
            else:
                print(f"seed {run['seed']}: mean IoU " + ", ".join(
                    f"{k} {run[k]['miou']:.3f}" for k in SEGMENTERS))
        if args.out:
            write_json(Path(args.out) / record_name, record)

if __name__ == "__main__":
    main()
