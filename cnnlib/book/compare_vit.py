"""Train a small CNN, a small ConvNeXt and a small vision transformer on Fashion-MNIST, same CPU time.

Run as ``python -m cnnlib.book.compare_vit``. The three networks
(:func:`~cnnlib.models.fashion_cnn`, :func:`~cnnlib.models.small_convnext`,
:func:`~cnnlib.models.small_vit`, each near 100K parameters) train on the
same stratified fraction of the training images, with Adam and the same
minibatch order, for the same budget of CPU seconds each, once per seed.
The learning rate warms up linearly over the first 5% of the budget and
then follows a cosine to 2% of its peak, both measured in CPU time, so
every network finishes its schedule whatever its speed. The record
(settings, and per network its parameters, MACs per image and per seed
the test accuracy, steps, epochs, CPU seconds per epoch and the loss of
every 50 steps), with the whole run's CPU and wall-clock seconds, is
written to a JSON file atomically; the CPU seconds include the worker
processes of ``--jobs``. With ``--save-weights`` the weights of
each network's seed-0 run are written beside it, as ``OUT_STEM_LABEL.npz``.
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import whole
from cnnlib.book.parallel_runs import cpu_seconds, run_tasks
from cnnlib.data import fashion_mnist
from cnnlib.io import save_weights
from cnnlib.losses import CrossEntropyLoss
from cnnlib.models import fashion_cnn, small_convnext, small_vit
from cnnlib.optim import Adam
from cnnlib.tools.shapes import summary
from cnnlib.train import batches, evaluate, train_step, write_json

NETWORKS = {"CNN": fashion_cnn, "ConvNeXt": small_convnext, "ViT": small_vit}
"""Label -> builder ``(num_classes, *, rng)``."""

LOG_EVERY = 50
"""Steps between the losses kept in the record."""


def stratified(y, fraction, rng):
    """Indices of ``fraction`` of each class of ``y``, in a random order."""
    picks = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        picks.append(rng.choice(members, size=max(1, round(fraction * len(members))),
                                replace=False))
    return rng.permutation(np.concatenate(picks))


def learning_rate(peak, used, budget, *, warmup=0.05, final=0.02):
    """The rate after ``used`` of ``budget`` CPU seconds: linear warm-up, then a cosine."""
    t = min(used / budget, 1.0)
    if t < warmup:
        return peak * max(t / warmup, 0.01)
    progress = (t - warmup) / (1 - warmup)
    return peak * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))


def train_for(build, x, y, *, seed, budget, batch_size, lr):
    """Train ``build(10, rng=...)`` until ``budget`` CPU seconds are spent; returns (model, run).

    The weights come from ``default_rng([seed, 0])`` and the minibatch order
    from ``default_rng([seed, 1])``, so the networks of one seed see the same
    batches. CPU time is this process's (all threads), checked after every step.
    """
    model = build(10, rng=np.random.default_rng([seed, 0]))
    model[0].needs_input_grad = False
    loss_fn, optimizer = CrossEntropyLoss(), Adam(model, lr=lr)
    order_rng = np.random.default_rng([seed, 1])
    losses, steps, epochs, used = [], 0, 0.0, 0.0
    start = time.process_time()
    while used < budget:
        for index in batches(len(y), batch_size, rng=order_rng):
            optimizer.lr = learning_rate(lr, used, budget)
            loss, _ = train_step(model, loss_fn, optimizer, x[index], y[index])
            steps += 1
            epochs += len(index) / len(y)
            if steps % LOG_EVERY == 0:
                losses.append(loss)
            used = time.process_time() - start
            if used >= budget:
                break
    return model, {"steps": steps, "epochs": epochs, "cpu_seconds": used,
                   "cpu_seconds_per_epoch": used / epochs, "loss": losses}


def main(argv=None):
    """Parse the command line and run the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/vit_comparison.json",
                        help="output file (default: %(default)s)")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="CPU seconds of training per network and seed (default: 600)")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="fraction of each class of the training set to use, in (0, 1]")
    parser.add_argument("--test", type=whole(1, 10_000), default=10_000,
                        help="test images to evaluate on (the first ones)")
    parser.add_argument("--seeds", type=whole(1), default=1, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--batch-size", type=whole(1), default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of Adam")
    parser.add_argument("--layer-scale", type=float, default=1e-6,
                        help="initial layer scale of the ConvNeXt blocks (default: %(default)g, "
                             "ConvNeXt's; larger values learn faster in a short budget)")
    parser.add_argument("--save-weights", action="store_true",
                        help="write each network's seed-0 weights beside the record")
    parser.add_argument("--jobs", type=whole(1), default=1,
                        help="runs trained at once, in separate processes (default: 1)")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error(f"argument --fraction: {args.fraction} is not in (0, 1]")
    if not args.budget > 0 or not args.lr > 0 or not args.layer_scale > 0:
        parser.error("arguments --budget, --lr and --layer-scale must be positive")
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def _builder(label, layer_scale):
    """(builder, kwargs, build) of network ``label``; ``build(num_classes, *, rng)``."""
    builder = NETWORKS[label]
    kwargs = {"layer_scale": layer_scale} if builder is small_convnext else {}

    def build(num_classes, *, rng):
        return builder(num_classes, rng=rng, **kwargs)

    return builder, kwargs, build


def run(args):
    """Train every network for every seed and write the record to ``args.out``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    x_train, y_train, x_test, y_test = fashion_mnist(args.data)
    index = stratified(y_train, args.fraction, np.random.default_rng(0))
    x, y = x_train[index], y_train[index]
    x_test, y_test = x_test[:args.test], y_test[:args.test]
    print(f"{len(y)} training images, {len(y_test)} test images, {args.budget:g} CPU s per "
          f"network and seed, {args.seeds} seeds", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"settings": {k: v for k, v in vars(args).items()
                           if k not in ("out", "save_weights", "jobs")}, "networks": {}}
    for label in NETWORKS:
        builder, kwargs, build = _builder(label, args.layer_scale)
        probe = build(10, rng=np.random.default_rng(0))
        record["networks"][label] = {
            "builder": builder.__name__, "builder_kwargs": kwargs, "params": probe.num_params(),
            "macs": summary(probe, (1, 28, 28), print_table=False).total_macs, "runs": []}

    def work(task):
        label, seed = task
        model, run_record = train_for(_builder(label, args.layer_scale)[2], x, y, seed=seed,
                                      budget=args.budget, batch_size=args.batch_size,
                                      lr=args.lr)
        run_record = {"seed": seed, "test_acc": evaluate(model, x_test, y_test), **run_record}
        if args.save_weights and seed == 0:
            save_weights(model, out.with_name(f"{out.stem}_{label}.npz"))
        return run_record

    tasks = [(label, seed) for label in NETWORKS for seed in range(args.seeds)]
    # the results come first, so that the pool is joined once they are all in
    for run_record, (label, seed) in zip(run_tasks(work, tasks, args.jobs), tasks):
        entry = record["networks"][label]
        entry["runs"].append(run_record)
        if args.save_weights and seed == 0:
            entry["weights"] = f"{out.stem}_{label}.npz"
        print(f"{label:9s} seed {seed}: test accuracy {run_record['test_acc']:.4f} after "
              f"{run_record['epochs']:.2f} epochs ({run_record['steps']} steps, "
              f"{run_record['cpu_seconds_per_epoch']:.1f} CPU s per epoch)", flush=True)
    record["cpu_seconds"] = cpu_seconds() - cpu
    record["wall_seconds"] = time.perf_counter() - wall
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
