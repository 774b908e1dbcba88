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

A recipe can be chosen on the command line: the schedule (``--schedule``
one-cycle, or a linear warm-up then a cosine, per step), label smoothing,
an exponential moving average of the weights (``--ema``, whose weights are
the ones saved), gradient clipping, the augmentation (random crops and
flips, random erasing) and hflip test-time augmentation for the test
accuracy. Each model's record keeps what rebuilds and evaluates it:
``builder`` and ``builder_kwargs`` (a function of :mod:`cnnlib.models`),
``weights`` (a file beside the record), ``tta`` and ``test_acc``, with
``seconds`` (training), ``test_seconds`` (testing, mirrored images
included) and every setting. ``--test-only`` evaluates saved weights again.
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

from cnnlib import models
from cnnlib.book.cli import add_progress_option, fraction, progress_setting, whole
from cnnlib.data import crop_and_flip, fashion_mnist
from cnnlib.data.augment import random_erasing
from cnnlib.io import load_weights, save_weights
from cnnlib.losses import CrossEntropyLoss, NLLLoss
from cnnlib.models import fashion_cnn, fashion_resnet, letters_cnn
from cnnlib.optim import Adam
from cnnlib.schedules import OneCycleLR, WarmupCosine
from cnnlib.train import cosine_schedule, evaluate, fit, write_json

MODELS = {
    "small_cnn": (fashion_cnn, {}, CrossEntropyLoss, True, 30, 2),
    "letters_cnn": (letters_cnn, {}, NLLLoss, False, 12, 1),
    "resnet": (fashion_resnet, {"channels": [16, 32, 64, 128, 256]}, CrossEntropyLoss, True,
               25, 2),
}
"""Model name -> (builder, its keyword arguments, loss, trained with random crops and flips,
epochs, workers)."""


def workers_for(name, args):
    """Worker threads for model ``name``: ``--workers``, else its own in :data:`MODELS`."""
    return args.workers or MODELS[name][5]


def augmentation(name, args):
    """The ``transform`` for ``fit``: crops and flips as ``--augment`` says, then random erasing."""
    crops = MODELS[name][3] if args.augment == "model" else args.augment == "cropflip"
    if not crops and not args.erase:
        return None

    def augment(xb, rng):
        if crops:
            xb = crop_and_flip(xb, rng=rng, padding=2)
        if args.erase:
            xb = random_erasing(xb, rng=rng, p=args.erase)
        return xb

    return augment


def schedules(args, epochs, steps_per_epoch):
    """``fit``'s keyword arguments for the ``--schedule`` chosen, peaking at ``--lr``."""
    total = max(epochs * steps_per_epoch, 2)
    if args.schedule == "onecycle":
        return {"step_schedule": OneCycleLR(args.lr, total, pct_start=args.pct_start)}
    if args.schedule == "warmup":
        warmup = min(round(args.warmup_epochs * steps_per_epoch), total - 1)
        return {"step_schedule": WarmupCosine(args.lr, total, warmup_steps=warmup)}
    return {"lr_schedule": cosine_schedule(args.lr, epochs)}


def train_one(name, d, args):
    """Train model ``name`` of :data:`MODELS` on the split ``d``; returns (model, History)."""
    builder, kwargs, loss_cls, _, epochs, _ = MODELS[name]
    epochs, workers = args.epochs or epochs, workers_for(name, args)
    rng = np.random.default_rng([args.seed, list(MODELS).index(name)])
    model = builder(10, rng=rng, **kwargs)
    model[0].needs_input_grad = False
    opt = Adam(model, lr=args.lr)
    loss_fn = (CrossEntropyLoss(label_smoothing=args.label_smoothing)
               if loss_cls is CrossEntropyLoss else loss_cls())
    transform = augmentation(name, args)
    steps_per_epoch = -(-len(d["y_train"]) // args.batch_size)
    extras = [f"{args.schedule} schedule"]
    extras += ["augmented"] if transform else []
    extras += [f"label smoothing {args.label_smoothing}"] if args.label_smoothing else []
    extras += [f"EMA {args.ema}"] if args.ema else []
    print(f"--- {name}: {model.num_params():,} parameters, {epochs} epochs, {workers} "
          f"worker{'s' if workers > 1 else ''}, {', '.join(extras)}", flush=True)
    history = fit(model, loss_fn, opt, d["x_train"], d["y_train"], epochs=epochs,
                  batch_size=args.batch_size, rng=rng, x_val=d["x_val"], y_val=d["y_val"],
                  patience=epochs, transform=transform, workers=workers,
                  ema=args.ema or None, clip_grad_norm=args.clip or None,
                  progress=progress_setting(args), **schedules(args, epochs, steps_per_epoch))
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
                        help="Adam's peak learning rate: the start of the cosine, the top of "
                             "the one-cycle, the end of the warm-up")
    parser.add_argument("--val", type=whole(10), default=5000, help="validation images")
    parser.add_argument("--limit", type=whole(0), default=0,
                        help="use only the first N training images (for quick checks)")
    parser.add_argument("--seed", type=whole(0), default=0)
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    parser.add_argument("--workers", type=whole(0, 64), default=0,
                        help="threads that share each batch (cnnlib.parallel.DataParallel, "
                             "one BLAS thread each; default: each model's own, see MODELS)")
    recipe = parser.add_argument_group("recipe")
    recipe.add_argument("--schedule", choices=["cosine", "onecycle", "warmup"],
                        default="cosine", help="cosine: per epoch, from --lr (the default); "
                        "onecycle: per step, up to --lr and down (OneCycleLR); warmup: per step, "
                        "a linear warm-up to --lr, then a cosine (WarmupCosine)")
    recipe.add_argument("--pct-start", type=fraction(open_low=True, open_high=True),
                        default=0.3, help="one-cycle: the fraction of steps that climb")
    recipe.add_argument("--warmup-epochs", type=float, default=1.0,
                        help="warmup: epochs of linear warm-up")
    recipe.add_argument("--label-smoothing", type=fraction(), default=0.0,
                        help="CrossEntropyLoss's label_smoothing (not for letters_cnn, whose "
                             "NLLLoss has none)")
    recipe.add_argument("--ema", type=fraction(open_high=True), default=0.0,
                        help="decay of an exponential moving average of the weights, which "
                             "are validated and saved (0: none)")
    recipe.add_argument("--clip", type=float, default=0.0,
                        help="clip the gradients' global norm to this (0: no clipping)")
    recipe.add_argument("--augment", choices=["model", "none", "cropflip"], default="model",
                        help="random crops and flips: each model's own (see MODELS), never, "
                             "or always")
    recipe.add_argument("--erase", type=fraction(), default=0.0,
                        help="random erasing: the probability that an image loses a box")
    recipe.add_argument("--tta", choices=["none", "hflip"], default="none",
                        help="test-time augmentation for the test accuracy")
    parser.add_argument("--test-only", action="store_true",
                        help="train nothing: evaluate the saved weights of --models in --out "
                             "again (with --tta) and update their test accuracy and its time")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    if args.label_smoothing and "letters_cnn" in args.models:
        parser.error("--label-smoothing needs CrossEntropyLoss, and letters_cnn is trained "
                     "with NLLLoss (it ends with LogSoftmax); leave it out of --models")
    if not args.clip >= 0:
        parser.error(f"--clip must be 0 (off) or a positive norm, got {args.clip}")
    if not args.warmup_epochs >= 0:
        parser.error(f"--warmup-epochs must be 0 or more, got {args.warmup_epochs}")
    with threadpool_limits(args.threads, user_api="blas"):
        (retest if args.test_only else run)(args)


def test(name, entry, model, d, args):
    """Set ``entry``'s ``test_acc``, ``tta`` (``--tta``) and ``test_seconds`` from ``model``."""
    tta = None if args.tta == "none" else args.tta
    start = time.perf_counter()
    acc = evaluate(model, d["x_test"], d["y_test"], tta=tta, progress=progress_setting(args))
    entry.update(test_acc=acc, tta=tta, test_seconds=time.perf_counter() - start)
    print(f"{name}: test accuracy {acc:.4f}{' with ' + tta if tta else ''}  "
          f"[time: {entry['test_seconds']:.1f} s]", flush=True)


def retest(args):
    """Evaluate the saved weights of ``args.models`` again and update their test results."""
    record_path = Path(args.out) / "fashion_run.json"
    if not record_path.is_file():
        raise SystemExit(f"train_fashion: --test-only: there is no {record_path} to test again")
    with open(record_path) as f:
        record = json.load(f)
    missing = [name for name in args.models if name not in record["models"]]
    if missing:
        raise SystemExit(f"train_fashion: --test-only: {record_path} has no run of {missing}")
    builders = {name: record["models"][name].get("builder") for name in args.models}
    unknown = [b for b in builders.values() if not callable(getattr(models, str(b), None))]
    if unknown:
        raise SystemExit(f"train_fashion: --test-only: {record_path} names builders that "
                         f"cnnlib.models does not have: {unknown}")
    d = split(args)
    for name in args.models:
        entry = record["models"][name]  # the record names the builder and its arguments
        model = getattr(models, builders[name])(rng=np.random.default_rng(0),
                                                **entry["builder_kwargs"])
        load_weights(model, Path(args.out) / entry["weights"])
        test(name, entry, model, d, args)
    write_json(record_path, record)


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
        record["models"][name] = {"builder": MODELS[name][0].__name__,
                                  "builder_kwargs": {"num_classes": 10, **MODELS[name][1]},
                                  "weights": f"fashion_{name}.npz",
                                  "params": model.num_params(),
                                  "workers": workers_for(name, args),
                                  "seconds": seconds, "cpu_seconds": cpu_seconds,
                                  "epochs": len(history.loss),
                                  "best_epoch": history.best_epoch, "settings": vars(args)}
        test(name, record["models"][name], model, d, args)
        write_json(record_path, record)
        print(f"{name}: {cpu_seconds / 60:.1f} CPU minutes  [time: {seconds:.1f} s]",
              flush=True)
    print(f"done: results in {out}")


if __name__ == "__main__":
    main()
