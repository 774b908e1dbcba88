"""Train the letters CNN and a dense network of the same size, with and without augmentation.

Run as ``python -m cnnlib.book.train_letters`` (``make train``). Every model
gets the training chapter's method and the same budget: a short learning-rate
sweep for each network (Adam; the rate one step below the lowest validation
loss, see :func:`cnnlib.book.experiments.pick_rate`), then training with
early stopping on a validation split of the training fonts, up to the same
number of epochs and with the same patience. Writes, for each model NAME,
``NAME.npz`` (weights, see :func:`cnnlib.save_weights`) and ``NAME.json``
(a :class:`cnnlib.train.History`) to the output directory, plus
``letters_run.json`` with the settings, the sweeps, the split sizes, each
model's result and the time taken.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book import datasets
from cnnlib.book.cli import add_progress_option, progress_setting, whole
from cnnlib.book.experiments import lr_sweep, pick_rate
from cnnlib.data import emnist_letters
from cnnlib.data.augment import random_shift
from cnnlib.io import save_weights
from cnnlib.losses import NLLLoss
from cnnlib.models import letters_cnn, letters_dense
from cnnlib.optim import Adam
from cnnlib.train import evaluate, fit, write_json

MODELS = {"letters_cnn": (letters_cnn, False), "letters_dense": (letters_dense, False),
          "letters_cnn_aug": (letters_cnn, True), "letters_dense_aug": (letters_dense, True)}
"""Model name -> (builder, trained with random shifts)."""

RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
"""Adam learning rates of the sweep, spaced by factors of about three."""


def family(name):
    """The network a model name is built from: ``"cnn"`` or ``"dense"``."""
    return "cnn" if MODELS[name][0] is letters_cnn else "dense"


def split_validation(x, y, fraction, rng):
    """Move a random ``fraction`` of (x, y) into a validation set.

    Returns
    -------
    x_train, y_train, x_val, y_val
    """
    order = rng.permutation(len(y))
    n_val = int(round(fraction * len(y)))
    val, tr = order[:n_val], order[n_val:]
    return x[tr], y[tr], x[val], y[val]


def sweep(kind, d, args):
    """The learning-rate sweep of one network on the first ``args.sweep_size`` training images.

    Returns
    -------
    dict with "rates", "val_loss" (one per rate) and "lr", the rate chosen for the long runs
    """
    builder = letters_cnn if kind == "cnn" else letters_dense
    n = min(args.sweep_size, len(d["y_train"]))  # the split is shuffled already
    losses = lr_sweep(lambda: builder(rng=np.random.default_rng([args.seed, 99])), NLLLoss(),
                      d["x_train"][:n], d["y_train"][:n], d["x_val"], d["y_val"], args.rates,
                      epochs=args.sweep_epochs, batch_size=args.batch_size, seed=args.seed)
    return {"rates": list(args.rates), "val_loss": [losses[r] for r in args.rates],
            "lr": pick_rate(losses), "n_images": n, "epochs": args.sweep_epochs}


def train_one(name, d, lr, args):
    """Train model ``name`` from :data:`MODELS` on the split ``d`` at rate ``lr``.

    Early stopping with ``args.patience`` on the validation split, at most
    ``args.epochs`` epochs, the best epoch's weights restored.

    Returns
    -------
    model, History
    """
    builder, augmented = MODELS[name]
    rng = np.random.default_rng([args.seed, list(MODELS).index(name)])
    model = builder(rng=rng)

    def shifted(xb, rng):
        return random_shift(xb, args.max_shift, rng=rng)

    history = fit(model, NLLLoss(), Adam(model, lr=lr), d["x_train"], d["y_train"],
                  epochs=args.epochs, batch_size=args.batch_size, rng=rng, x_val=d["x_val"],
                  y_val=d["y_val"], patience=args.patience,
                  transform=shifted if augmented else None, progress=progress_setting(args))
    return model, history


def main(argv=None):
    """Parse the command line and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results", help="output directory")
    parser.add_argument("--epochs", type=whole(1), default=15,
                        help="most epochs for every model (early stopping usually ends sooner)")
    parser.add_argument("--patience", type=whole(1), default=3,
                        help="stop after this many epochs without a lower validation loss")
    parser.add_argument("--seed", type=whole(0), default=0, help="seeds weights and shuffling")
    parser.add_argument("--per-glyph", type=whole(1), default=12,
                        help="renderings of each training (font, character) pair")
    parser.add_argument("--batch-size", type=whole(1), default=64)
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES),
                        help="Adam learning rates of the sweep")
    parser.add_argument("--sweep-epochs", type=whole(1), default=2, help="epochs of each sweep run")
    parser.add_argument("--sweep-size", type=whole(10), default=3000,
                        help="training images used by the sweep")
    parser.add_argument("--max-shift", type=whole(0), default=2,
                        help="largest random shift (pixels) in the augmented runs")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--threads", type=whole(1), default=1,
                        help="BLAS threads; with these small matrices one is usually fastest")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--emnist", default=None, metavar="DIR",
                        help="train on real handwriting: a folder with the four EMNIST letters "
                             "IDX files (see cnnlib.data.emnist_letters) instead of the "
                             "letters rendered from fonts; write the results somewhere other "
                             "than book/results")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Sweep, train every model in ``args.models`` and write the results to ``args.out``."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.emnist:
        x_train, y_train, x_test, y_test = emnist_letters(args.emnist)
        d = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        source = f"EMNIST letters from {args.emnist}"
    else:
        d = datasets.letters(per_glyph_train=args.per_glyph)
        source = (f"rendered from {len(datasets.LETTER_FONTS_TRAIN)} fonts, tested on "
                  f"{len(datasets.LETTER_FONTS_TEST)} held-out fonts")
    x_tr, y_tr, x_val, y_val = split_validation(
        d["x_train"], d["y_train"], args.val_fraction, np.random.default_rng(args.seed))
    d.update(x_train=x_tr, y_train=y_tr, x_val=x_val, y_val=y_val)
    print(f"letters ({source}): {len(y_tr)} training, {len(y_val)} validation, "
          f"{len(d['y_test'])} test images", flush=True)
    sweeps = {}
    for kind in dict.fromkeys(family(name) for name in args.models):
        t0 = time.perf_counter()
        sweeps[kind] = sweep(kind, d, args)
        sweeps[kind]["seconds"] = time.perf_counter() - t0
        table = "  ".join(f"{r:g}: {v:.3f}" for r, v in zip(args.rates, sweeps[kind]["val_loss"]))
        print(f"sweep {kind}: validation loss {table}; long runs at {sweeps[kind]['lr']:g}  "
              f"[time: {sweeps[kind]['seconds']:.1f} s]", flush=True)
    summary = {}
    for name in args.models:
        lr = sweeps[family(name)]["lr"]
        print(f"--- {name} (Adam, lr {lr:g})", flush=True)
        model, history = train_one(name, d, lr, args)
        save_weights(model, out / f"{name}.npz")
        history.to_json(out / f"{name}.json")
        acc = evaluate(model, d["x_test"], d["y_test"])
        summary[name] = {"test_acc": acc, "seconds": float(sum(history.seconds)), "lr": lr,
                         "epochs_run": len(history.loss), "best_epoch": history.best_epoch + 1}
        kind = "test" if args.emnist else "held-out-font"
        print(f"{name}: {kind} accuracy {acc:.4f}, best epoch {history.best_epoch + 1} "
              f"of {len(history.loss)}  [time: {sum(history.seconds):.1f} s]", flush=True)
    total = time.perf_counter() - start
    record = {"settings": vars(args), "n_train": len(y_tr), "n_val": len(y_val),
              "n_test": len(d["y_test"]), "sweeps": sweeps, "models": summary,
              "total_seconds": total}
    write_json(out / "letters_run.json", record)
    print(f"done: results in {out}  [time: {total:.1f} s]")


if __name__ == "__main__":
    main()
