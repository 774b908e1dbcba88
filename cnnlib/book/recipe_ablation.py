"""Measure what each training trick of the recipes chapter buys, over seeds, on a small budget.

Run as ``python -m cnnlib.book.recipe_ablation``. The small CNN
(:func:`~cnnlib.models.small_cnn`) trains on a stratified subset of the
Fashion-MNIST training images for a few epochs with SGD and momentum, once
per seed and configuration: five learning-rate schedules with the same peak
rate, one-cycle with a five times higher peak, and then one trick at a time
added to the warm-up and cosine recipe (label smoothing, an exponential
moving average of the weights, flipped test images, crop and flip, random
erasing), and all of them together. Every configuration of one seed starts
from the same weights and draws its batches from the same generator.

Writes ``recipe_ablation.json``: the settings, and for every configuration
its description and, per seed, the test accuracy and expected calibration
error on all 10,000 test images, the CPU seconds of training and of
evaluation, and the training loss of every epoch; plus the weights of seed
0 of the warm-up and cosine recipe, with and without label smoothing, as
``recipe_base.npz`` and ``recipe_smooth.npz`` beside it.

The configurations are independent, so they can run in parallel processes,
each with its own ``--configs`` and ``--out``, and ``--merge`` then joins
their records into one.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import add_progress_option, fraction, progress_setting, whole
from cnnlib.book.compare_blocks import subset
from cnnlib.data.augment import crop_and_flip, random_erasing
from cnnlib.io import save_weights
from cnnlib.losses import CrossEntropyLoss
from cnnlib.models import small_cnn
from cnnlib.nn.activations import softmax
from cnnlib.optim import SGD
from cnnlib.progress import progress_bar
from cnnlib.schedules import OneCycleLR, WarmupCosine
from cnnlib.tools.calibration import expected_calibration_error
from cnnlib.train import fit, predict, write_json


class StepDecay:
    """A piecewise-constant rate: ``lr``, times ``gamma`` at each milestone passed.

    The milestones are fractions of ``total_steps``; with the defaults the
    rate drops tenfold after half of the run and again after three quarters,
    the classic ResNet recipe in small. Called as ``schedule(step) -> lr``.
    """

    def __init__(self, lr, total_steps, *, milestones=(0.5, 0.75), gamma=0.1):
        self.lr, self.total_steps, self.gamma = lr, total_steps, gamma
        self.milestones = [round(m * total_steps) for m in milestones]

    def __call__(self, step):
        return self.lr * self.gamma ** sum(step >= m for m in self.milestones)

    def lrs(self):
        """Every step's learning rate, shape (total_steps,)."""
        return np.array([self(t) for t in range(self.total_steps)])


def constant(lr, total_steps):
    """The same rate at every step, as a schedule with a ``total_steps``."""
    return StepDecay(lr, total_steps, milestones=())


def warmup_cosine(lr, total_steps):
    """Linear warm-up over the first tenth of the steps, then half a cosine to zero."""
    return WarmupCosine(lr, total_steps, warmup_steps=total_steps // 10)


def one_cycle(lr, total_steps):
    """Smith and Topin's one-cycle with PyTorch's defaults (30% climbing, from lr / 25)."""
    return OneCycleLR(lr, total_steps, pct_start=0.3)


def cosine(lr, total_steps):
    """Half a cosine from ``lr`` to zero over the run, without warm-up."""
    return WarmupCosine(lr, total_steps, warmup_steps=0)


SCHEDULES = {"constant": constant, "step decay": StepDecay, "cosine": cosine,
             "warm-up + cosine": warmup_cosine, "one-cycle": one_cycle}
"""Schedule name -> ``builder(peak_lr, total_steps)``."""


def erase(x, rng):
    """Random erasing with torchvision's defaults (half of the images, 2-33% of the area)."""
    return random_erasing(x, rng=rng)


def crop_flip_erase(x, rng):
    """Crop and flip, then random erasing."""
    return random_erasing(crop_and_flip(x, rng=rng), rng=rng)


def _crop_flip(x, rng):
    return crop_and_flip(x, rng=rng)


CONFIGS = {
    "constant": {"schedule": "constant"},
    "step decay": {"schedule": "step decay"},
    "cosine": {"schedule": "cosine"},
    "warm-up + cosine": {"schedule": "warm-up + cosine"},
    "one-cycle": {"schedule": "one-cycle"},
    "one-cycle, 5x peak": {"schedule": "one-cycle", "peak": 5.0},
    "+ label smoothing": {"label_smoothing": 0.1},
    "+ EMA": {"ema": 0.99},
    "+ hflip TTA": {"tta": "hflip", "reuse": "warm-up + cosine"},
    "+ crop and flip": {"transform": "crop and flip"},
    "+ random erasing": {"transform": "random erasing"},
    "+ crop, flip, erasing": {"transform": "crop, flip, erasing"},
    "all tricks": {"label_smoothing": 0.1, "ema": 0.99, "tta": "hflip",
                   "transform": "crop, flip, erasing"},
}
"""Configuration name -> its changes to the base recipe (warm-up + cosine, nothing else).

``reuse`` names a configuration whose trained models are evaluated again
(flipping test images changes only the evaluation)."""

BASE = {"schedule": "warm-up + cosine", "peak": 1.0, "label_smoothing": 0.0, "ema": None,
        "tta": None, "transform": None}

TRANSFORMS = {"crop and flip": _crop_flip, "random erasing": erase,
              "crop, flip, erasing": crop_flip_erase}


def settings_of(name):
    """The full settings of configuration ``name``: :data:`BASE` updated with its changes."""
    return {**BASE, **{k: v for k, v in CONFIGS[name].items() if k != "reuse"}}


def train_config(config, x, y, *, seed, epochs, batch_size, lr, momentum):
    """Train the small CNN with one configuration's settings; returns (model, History).

    The weights come from ``default_rng([seed, 0])`` and the batches (and
    augmentations) from ``default_rng([seed, 1])``.
    """
    model = small_cnn(10, rng=np.random.default_rng([seed, 0]))
    model[0].needs_input_grad = False
    total_steps = epochs * -(-len(x) // batch_size)
    schedule = SCHEDULES[config["schedule"]](lr * config["peak"], total_steps)
    transform = TRANSFORMS[config["transform"]] if config["transform"] else None
    history = fit(model, CrossEntropyLoss(label_smoothing=config["label_smoothing"]),
                  SGD(model, lr, momentum=momentum), x, y, epochs=epochs,
                  batch_size=batch_size, rng=np.random.default_rng([seed, 1]),
                  step_schedule=schedule, transform=transform, ema=config["ema"],
                  verbose=False)
    return model, history


def test_scores(model, x, y, tta=None):
    """Test accuracy, expected calibration error (15 bins) and CPU seconds of the evaluation."""
    cpu = time.process_time()
    out = predict(model, x, tta=tta)
    probs = out if tta else softmax(out, axis=1)
    seconds = time.process_time() - cpu
    guess = probs.argmax(axis=1)
    ece = expected_calibration_error(probs.max(axis=1), guess == y, bins=15)
    return float(np.mean(guess == y)), ece, seconds


def main(argv=None):
    """Parse the command line and run the ablation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/recipe_ablation.json")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--train", type=whole(10, 50_000), default=6000,
                        help="training images, at least one per class")
    parser.add_argument("--test", type=whole(1, 10_000), default=10_000,
                        help="test images (the first ones)")
    parser.add_argument("--epochs", type=whole(1), default=4)
    parser.add_argument("--seeds", type=whole(1), default=3, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--lr", type=fraction(open_low=True), default=0.02,
                        help="the peak learning rate of every schedule")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        metavar="NAME", help="configurations to run (default: all)")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    parser.add_argument("--merge", nargs="+", metavar="PART",
                        help="instead of training, join the records of runs made with "
                             "disjoint --configs (e.g. in parallel) into --out")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    if args.merge:
        merge(args.merge, args.out)
        return
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every configuration for every seed and write the record to ``args.out``."""
    start, cpu_start = time.perf_counter(), time.process_time()
    x, y, x_test, y_test = subset(args.train, root=args.data)
    x_test, y_test = x_test[:args.test], y_test[:args.test]
    batch_size, momentum = 64, 0.9
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(y)} training images, {len(y_test)} test images, {args.epochs} epochs, "
          f"{args.seeds} seeds", flush=True)
    names = list(args.configs)
    for name in names:  # a reused configuration runs first, whatever the order asked
        reuse = CONFIGS[name].get("reuse")
        if reuse and reuse not in names:
            names.insert(0, reuse)
    names.sort(key=lambda n: "reuse" in CONFIGS[n])
    models, record = {}, {}
    bar = progress_bar(len(names) * args.seeds, "runs", progress=progress_setting(args))
    for name in names:
        config = settings_of(name)
        reuse = CONFIGS[name].get("reuse")
        runs = []
        for seed in range(args.seeds):
            if reuse:
                model, train = models[reuse, seed], record[reuse]["runs"][seed]
                history_loss, cpu_train = train["loss"], train["cpu_seconds"]
            else:
                cpu = time.process_time()
                model, history = train_config(config, x, y, seed=seed, epochs=args.epochs,
                                              batch_size=batch_size, lr=args.lr,
                                              momentum=momentum)
                history_loss, cpu_train = history.loss, time.process_time() - cpu
                models[name, seed] = model
            acc, ece, cpu_eval = test_scores(model, x_test, y_test, config["tta"])
            runs.append({"seed": seed, "test_acc": acc, "ece": ece, "cpu_seconds": cpu_train,
                         "eval_cpu_seconds": cpu_eval, "loss": history_loss})
            bar.update()
            print(f"\n{name:24s} seed {seed}: test accuracy {acc:.4f}  ECE {ece:.4f}  "
                  f"[cpu: {cpu_train:.1f} s + {cpu_eval:.1f} s]", flush=True)
        record[name] = {"settings": config, "runs": runs}
    bar.close()
    for name, path in (("warm-up + cosine", "recipe_base"), ("+ label smoothing", "recipe_smooth")):
        if (name, 0) in models:
            save_weights(models[name, 0], out.parent / path)
    ordered = {n: record[n] for n in CONFIGS if n in record}
    write_json(out, {"settings": {"n_train": len(y), "n_test": len(y_test),
                                  "epochs": args.epochs, "seeds": args.seeds, "lr": args.lr,
                                  "batch_size": batch_size, "momentum": momentum,
                                  "model": "small_cnn", "threads": args.threads,
                                  "ece_bins": 15},
                     "configs": ordered, "total_seconds": time.perf_counter() - start,
                     "total_cpu_seconds": time.process_time() - cpu_start})
    print(f"done: {out}  [time: {time.perf_counter() - start:.1f} s]")


def merge(parts, out):
    """Join records written with the same settings and disjoint configurations.

    The configurations keep the order of :data:`CONFIGS`; the total CPU
    seconds add up, and the wall seconds of each part are kept.
    """
    records = [json.loads(Path(p).read_text()) for p in parts]
    settings = records[0]["settings"]
    if any(r["settings"] != settings for r in records):
        raise SystemExit("recipe_ablation --merge: the parts were run with different settings")
    configs = {}
    for r in records:
        shared = set(configs) & set(r["configs"])
        if shared:
            raise SystemExit(f"recipe_ablation --merge: {sorted(shared)[0]!r} is in two parts")
        configs.update(r["configs"])
    write_json(out, {"settings": settings,
                     "configs": {n: configs[n] for n in CONFIGS if n in configs},
                     "total_seconds": max(r["total_seconds"] for r in records),
                     "part_seconds": [r["total_seconds"] for r in records],
                     "total_cpu_seconds": sum(r["total_cpu_seconds"] for r in records)})
    print(f"merged {len(parts)} parts into {out}")


if __name__ == "__main__":
    main()
