"""Compare the modern-blocks chapter's four small networks, each at its own best learning rate.

Run as ``python -m cnnlib.book.compare_blocks`` (``make train-blocks``). A
plain CNN (:func:`~cnnlib.models.small_cnn`), its global-average-pooling
twin (:func:`~cnnlib.models.small_gap_net`), a bottleneck ResNet
(:func:`~cnnlib.models.small_bottleneck_resnet`) and a depthwise-separable
net (:func:`~cnnlib.models.small_separable_net`) each train on the same
stratified subset of the Fashion-MNIST training images, with the same
minibatches and epochs, at two sizes: the builder's own width, and the
width whose parameter count comes closest to the plain CNN's.

Every network gets the same learning-rate search: one run (seed 0) at each
rate of ``--lrs``, scored on a validation split of training images outside
the subset. The rate with the best validation accuracy is then run with the
other seeds, and every run is tested on all 10,000 test images. Writes
``blocks_comparison.json``: the settings, and for every network and size
its width, parameters, MACs per image, the search (rate, validation and test
accuracy, CPU seconds, loss per epoch), the chosen rate and the runs at it;
and the whole run's wall and CPU seconds.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import add_progress_option, progress_setting, whole
from cnnlib.book.parallel_runs import cpu_seconds, run_tasks
from cnnlib.data import fashion_mnist
from cnnlib.losses import CrossEntropyLoss
from cnnlib.models import small_bottleneck_resnet, small_cnn, small_gap_net, small_separable_net
from cnnlib.optim import Adam
from cnnlib.progress import progress_bar
from cnnlib.tools.shapes import summary
from cnnlib.train import cosine_schedule, evaluate, fit, write_json

NETWORKS = {
    "plain CNN": small_cnn,
    "GAP head": small_gap_net,
    "bottleneck ResNet": small_bottleneck_resnet,
    "depthwise-separable": small_separable_net,
}
"""Label -> builder ``(num_classes, *, rng, width)``, in the order of the chapter's table."""

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
"""The search's Adam learning rates, half a decade apart: wide enough that every network's
best rate has a worse one on each side."""


def subset(n_train, seed=0, root=None, n_val=0):
    """``n_train`` stratified Fashion-MNIST training images and the full test set.

    With ``n_val`` > 0, also ``n_val`` stratified validation images from the
    training images outside the subset: returns (x, y, x_val, y_val, x_test,
    y_test); otherwise (x, y, x_test, y_test).
    """
    x_train, y_train, x_test, y_test = fashion_mnist(root)
    x, x_rest, y, y_rest = train_test_split(x_train, y_train, train_size=n_train,
                                            stratify=y_train, random_state=seed)
    if not n_val:
        return x, y, x_test, y_test
    x_val, _, y_val, _ = train_test_split(x_rest, y_rest, train_size=n_val, stratify=y_rest,
                                          random_state=seed)
    return x, y, x_val, y_val, x_test, y_test


def matched_width(build, params):
    """The width (1 to 64) at which ``build`` has the parameter count closest to ``params``."""
    def count(width):
        return build(10, rng=np.random.default_rng(0), width=width).num_params()
    return min(range(1, 65), key=lambda width: (abs(count(width) - params), width))


def train_network(build, x, y, *, seed, epochs, batch_size=64, lr=2e-3, width=None):
    """Train ``build(10, rng=..., width=width)`` with Adam on a cosine schedule.

    The weights come from ``default_rng([seed, 0])`` and the minibatch order
    from ``default_rng([seed, 1])``, so every network of one seed sees the
    same batches in the same order. ``width=None`` keeps the builder's own.

    Returns
    -------
    (Sequential, History)
    """
    kwargs = {} if width is None else {"width": width}
    model = build(10, rng=np.random.default_rng([seed, 0]), **kwargs)
    model[0].needs_input_grad = False
    history = fit(model, CrossEntropyLoss(), Adam(model, lr=lr), x, y, epochs=epochs,
                  batch_size=batch_size, rng=np.random.default_rng([seed, 1]),
                  lr_schedule=cosine_schedule(lr, epochs), verbose=False)
    return model, history


def main(argv=None):
    """Parse the command line and run the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/blocks_comparison.json",
                        help="output file")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--train", type=whole(10, 50_000), default=6000,
                        help="training images, at least one per class")
    parser.add_argument("--val", type=whole(10, 10_000), default=2000,
                        help="validation images for the learning-rate search")
    parser.add_argument("--epochs", type=whole(1), default=4)
    parser.add_argument("--seeds", type=whole(1), default=3, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LEARNING_RATES),
                        help="the learning rates searched")
    parser.add_argument("--jobs", type=whole(1), default=2,
                        help="training runs at once, each in its own process")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    if any(not lr > 0 for lr in args.lrs):
        parser.error(f"--lrs must all be positive, got {args.lrs}")
    run(args)


def _sizes():
    """(label, size, width) for every network: its own width, then the matched one."""
    target = small_cnn(10, rng=np.random.default_rng(0)).num_params()
    sizes = [(label, "own", None) for label in NETWORKS]
    sizes += [(label, "matched", matched_width(build, target))
              for label, build in NETWORKS.items() if label != "plain CNN"]
    return target, sizes


def run(args):
    """Search, then train every network and size for every seed; write ``args.out``."""
    start, cpu_start = time.perf_counter(), cpu_seconds()
    x, y, x_val, y_val, x_test, y_test = subset(args.train, root=args.data, n_val=args.val)
    target, sizes = _sizes()
    print(f"{len(y)} training, {len(y_val)} validation, {len(y_test)} test images; "
          f"{args.epochs} epochs; rates {args.lrs}; {args.seeds} seeds; matched size "
          f"{target:,} parameters", flush=True)

    def work(task):
        label, width, lr, seed = task
        with threadpool_limits(1, user_api="blas"):
            begin = cpu_seconds()
            model, history = train_network(NETWORKS[label], x, y, seed=seed, lr=lr,
                                           epochs=args.epochs, width=width)
            spent = cpu_seconds() - begin
            return {"seed": seed, "lr": lr, "val_acc": evaluate(model, x_val, y_val),
                    "test_acc": evaluate(model, x_test, y_test), "cpu_seconds": spent,
                    "loss": history.loss}

    record = {"settings": {k: v for k, v in vars(args).items()
                           if k not in ("out", "jobs", "progress")},
              "matched_params": target, "networks": {}}
    for label, size, width in sizes:
        probe = NETWORKS[label](10, rng=np.random.default_rng(0),
                                **({} if width is None else {"width": width}))
        record["networks"].setdefault(label, {})[size] = {
            "builder": NETWORKS[label].__name__, "width": width,
            "params": probe.num_params(),
            "macs": summary(probe, (1, 28, 28), print_table=False).total_macs}

    def run_all(tasks, what):
        with progress_bar(len(tasks), what, progress=progress_setting(args)) as bar:
            for task, result in zip(tasks, run_tasks(work, tasks, args.jobs)):
                bar.update()
                label, width, lr, seed = task
                print(f"{label}, width {width or 'own'}, lr {lr:g}, seed {seed}: "
                      f"validation {result['val_acc']:.4f}, test {result['test_acc']:.4f}  "
                      f"[CPU: {result['cpu_seconds']:.1f} s]", flush=True)
                yield task, result

    search = [(label, width, lr, 0) for label, _, width in sizes for lr in args.lrs]
    for (label, width, _, _), result in run_all(search, "search"):
        entry = record["networks"][label]["own" if width is None else "matched"]
        entry.setdefault("search", []).append(result)
    for label, size, _ in sizes:
        entry = record["networks"][label][size]
        best = max(entry["search"], key=lambda r: r["val_acc"])
        entry["lr"], entry["runs"] = best["lr"], [best]
    seeds = [(label, width, record["networks"][label][size]["lr"], seed)
             for label, size, width in sizes for seed in range(1, args.seeds)]
    for (label, width, _, _), result in run_all(seeds, "seeds"):
        record["networks"][label]["own" if width is None else "matched"]["runs"].append(result)

    for label, size, _ in sizes:
        entry = record["networks"][label][size]
        accs = [r["test_acc"] for r in entry["runs"]]
        spread = np.std(accs, ddof=1) if len(accs) > 1 else 0.0
        print(f"{label:20s} {size:8s} {entry['params']:>7,} params  lr {entry['lr']:<6g} "
              f"test accuracy {np.mean(accs):.4f} ± {spread:.4f}", flush=True)
    record.update(total_seconds=time.perf_counter() - start,
                  total_cpu_seconds=cpu_seconds() - cpu_start)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
