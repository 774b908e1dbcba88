"""Train the course's networks on Fashion-MNIST and record what they reach and what it cost.

Run as ``python -m cnnlib.book.train_fashion`` (``make train-fashion``). For
each model NAME it writes ``fashion_NAME.npz`` (weights) and
``fashion_NAME.json`` (a :class:`cnnlib.train.History`) to the output folder,
and adds to ``fashion_run.json`` each model's settings, parameter count, test
accuracy, wall time and CPU time, with the split sizes and the machine. A
model trained by one worker (one BLAS thread) uses one core, so its CPU time
is the wall time it takes on an otherwise idle machine; one trained by two
workers (:class:`cnnlib.parallel.DataParallel`) uses two cores, and its CPU
time is up to twice its wall time.

Each model trains with Adam for a fixed number of epochs while the learning
rate falls from ``--lr`` along a cosine, and keeps the weights of the epoch
with the lowest loss on a validation split held out from the 60,000
training images.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import whole
from cnnlib.data import crop_and_flip, fashion_mnist
from cnnlib.io import save_weights
from cnnlib.losses import CrossEntropyLoss, NLLLoss
from cnnlib.models import fashion_cnn, fashion_resnet, letters_cnn
from cnnlib.optim import Adam
from cnnlib.train import cosine_schedule, evaluate, fit, write_json

MODELS = {
    "small_cnn": (fashion_cnn, CrossEntropyLoss, True, 24, 1),
    "letters_cnn": (letters_cnn, NLLLoss, False, 12, 1),
    "resnet": (fashion_resnet, CrossEntropyLoss, True, 29, 2),
}
"""Model name -> (builder, loss, trained with random crops and flips, epochs, workers)."""


def workers_for(name, args):
    """Worker threads for model ``name``: ``--workers``, else its own in :data:`MODELS`."""
    return args.workers or MODELS[name][4]


def train_one(name, d, args):
    """Train model ``name`` of :data:`MODELS` on the split ``d``; returns (model, History)."""
    builder, loss_cls, augmented, epochs, _ = MODELS[name]
    epochs, workers = args.epochs or epochs, workers_for(name, args)
    rng = np.random.default_rng([args.seed, list(MODELS).index(name)])
    model = builder(10, rng=rng)
    model[0].needs_input_grad = False
    opt = Adam(model, lr=args.lr)

    def augment(xb, rng):
        return crop_and_flip(xb, rng=rng, padding=2)

    print(f"--- {name}: {model.num_params():,} parameters, {epochs} epochs, {workers} "
          f"worker{'s' if workers > 1 else ''}{', random crops and flips' if augmented else ''}",
          flush=True)
    history = fit(model, loss_cls(), opt, d["x_train"], d["y_train"], epochs=epochs,
                  batch_size=args.batch_size, rng=rng, x_val=d["x_val"], y_val=d["y_val"],
                  patience=epochs, transform=augment if augmented else None,
                  lr_schedule=cosine_schedule(args.lr, epochs), workers=workers)
    return model, history


def split(args):
    """Fashion-MNIST with a stratified validation split taken from the training images."""
    x_train, y_train, x_test, y_test = fashion_mnist(args.data)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_tr, x_val, y_tr, y_val = train_test_split(
        x_train, y_train, test_size=args.val, stratify=y_train, random_state=args.seed)
    return {"x_train": x_tr, "y_train": y_tr, "x_val": x_val, "y_val": y_val,
            "x_test": x_test, "y_test": y_test}


def main(argv=None):
    """Parse the command line and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results", help="output folder")
    parser.add_argument("--data", default=None,
                        help="folder with the four Fashion-MNIST files (default: the search "
                             "order of cnnlib.data.fashion_mnist)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--epochs", type=whole(0), default=0,
                        help="epochs for every model (default: each model's own, see MODELS)")
    parser.add_argument("--batch-size", type=whole(1), default=128)
    parser.add_argument("--lr", type=float, default=2e-3,
                        help="Adam's learning rate at the start of the cosine")
    parser.add_argument("--val", type=whole(10), default=5000, help="validation images")
    parser.add_argument("--limit", type=whole(0), default=0,
                        help="use only the first N training images (for quick checks)")
    parser.add_argument("--seed", type=whole(0), default=0)
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    parser.add_argument("--workers", type=whole(0, 64), default=0,
                        help="threads that share each batch (cnnlib.parallel.DataParallel, "
                             "one BLAS thread each; default: each model's own, see MODELS)")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every model in ``args.models`` and write the results to ``args.out``."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    d = split(args)
    print(f"Fashion-MNIST: {len(d['y_train'])} training, {len(d['y_val'])} validation, "
          f"{len(d['y_test'])} test images", flush=True)
    record_path = out / "fashion_run.json"
    record = {"models": {}}
    if record_path.exists():  # a run of some models keeps the others' results
        with open(record_path) as f:
            record = json.load(f)
    record.update(n_train=len(d["y_train"]), n_val=len(d["y_val"]), n_test=len(d["y_test"]),
                  machine={"cpus": os.cpu_count(), "processor": platform.processor(),
                           "python": platform.python_version(), "numpy": np.__version__})
    for name in args.models:
        start, cpu_start = time.perf_counter(), time.process_time()
        model, history = train_one(name, d, args)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        save_weights(model, out / f"fashion_{name}.npz")
        history.to_json(out / f"fashion_{name}.json")
        acc = evaluate(model, d["x_test"], d["y_test"])
        record["models"][name] = {"params": model.num_params(), "test_acc": acc,
                                  "workers": workers_for(name, args),
                                  "seconds": seconds, "cpu_seconds": cpu_seconds,
                                  "epochs": len(history.loss),
                                  "best_epoch": history.best_epoch, "settings": vars(args)}
        write_json(record_path, record)
        print(f"{name}: test accuracy {acc:.4f}, {cpu_seconds / 60:.1f} CPU minutes  "
              f"[time: {seconds:.1f} s]", flush=True)
    print(f"done: results in {out}")


if __name__ == "__main__":
    main()
