"""Train the letters CNN and a dense network of the same size, with and without augmentation.

Run as ``python -m cnnlib.book.train_letters`` (``make train``). Writes, for each
model NAME, ``NAME.npz`` (weights, see :func:`cnnlib.save_weights`) and
``NAME.json`` (a :class:`cnnlib.train.History`) to the output directory, plus
``letters_run.json`` with the settings, the split sizes and the time taken.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book import datasets
from cnnlib.data.augment import random_shift
from cnnlib.io import save_weights
from cnnlib.losses import NLLLoss
from cnnlib.models import letters_cnn, letters_dense
from cnnlib.optim import Adam
from cnnlib.train import evaluate, fit, write_json

MODELS = {"letters_cnn": (letters_cnn, False), "letters_dense": (letters_dense, False),
          "letters_cnn_aug": (letters_cnn, True), "letters_dense_aug": (letters_dense, True)}
"""Model name -> (builder, trained with random shifts)."""


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


def train_one(name, d, args):
    """Train model ``name`` from :data:`MODELS` on the split ``d``; returns (model, History)."""
    builder, augmented = MODELS[name]
    rng = np.random.default_rng([args.seed, list(MODELS).index(name)])
    model = builder(rng=rng)
    epochs = args.epochs if "cnn" in name else args.dense_epochs

    def shifted(xb, rng):
        return random_shift(xb, args.max_shift, rng=rng)

    history = fit(model, NLLLoss(), Adam(model, lr=args.lr), d["x_train"], d["y_train"],
                  epochs=epochs, batch_size=args.batch_size, rng=rng, x_val=d["x_val"],
                  y_val=d["y_val"], transform=shifted if augmented else None)
    return model, history


def main(argv=None):
    """Parse the command line and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results", help="output directory")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for the CNNs")
    parser.add_argument("--dense-epochs", type=int, default=20,
                        help="epochs for the dense networks (they are much cheaper)")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and shuffling")
    parser.add_argument("--per-glyph", type=int, default=12,
                        help="renderings of each training (font, character) pair")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--max-shift", type=int, default=2,
                        help="largest random shift (pixels) in the augmented runs")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads; with these small matrices one is usually fastest")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every model in ``args.models`` and write the results to ``args.out``."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    d = datasets.letters(per_glyph_train=args.per_glyph)
    x_tr, y_tr, x_val, y_val = split_validation(
        d["x_train"], d["y_train"], args.val_fraction, np.random.default_rng(args.seed))
    d.update(x_train=x_tr, y_train=y_tr, x_val=x_val, y_val=y_val)
    print(f"letters: {len(y_tr)} training, {len(y_val)} validation images "
          f"({len(datasets.LETTER_FONTS_TRAIN)} fonts); {len(d['y_test'])} test images from "
          f"{len(datasets.LETTER_FONTS_TEST)} held-out fonts", flush=True)
    summary = {}
    for name in args.models:
        print(f"--- {name}", flush=True)
        model, history = train_one(name, d, args)
        save_weights(model, out / f"{name}.npz")
        history.to_json(out / f"{name}.json")
        acc = evaluate(model, d["x_test"], d["y_test"])
        summary[name] = {"test_acc": acc, "seconds": float(sum(history.seconds))}
        print(f"{name}: held-out-font accuracy {acc:.4f}  "
              f"[time: {sum(history.seconds):.1f} s]", flush=True)
    total = time.perf_counter() - start
    record = {"settings": vars(args), "n_train": len(y_tr), "n_val": len(y_val),
              "n_test": len(d["y_test"]), "models": summary, "total_seconds": total}
    write_json(out / "letters_run.json", record)
    print(f"done: results in {out}  [time: {total:.1f} s]")


if __name__ == "__main__":
    main()
