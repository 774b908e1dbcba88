"""Run the plain-versus-residual experiment of the ResNet chapter over many seeds.

Run as ``python -m cnnlib.book.train_resnet_seeds``. For each seed, the
20-layer plain network and the residual network of the same layout start
from the same weights and see the same minibatches
(:func:`cnnlib.book.experiments.train_deep`); the test accuracy is recorded
after each step count in ``--eval-at``. Writes ``resnet_seeds.json``: the
settings, and for every seed and network the loss of every step and the
accuracies.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import add_progress_option, progress_setting, whole
from cnnlib.book.experiments import resnet_digits, train_deep
from cnnlib.models import plain_net, small_resnet
from cnnlib.progress import progress_bar
from cnnlib.train import write_json

NETWORKS = {"plain": plain_net, "residual": small_resnet}


def main(argv=None):
    """Parse the command line and run every seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/resnet_seeds.json")
    parser.add_argument("--seeds", type=whole(1), default=10, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--eval-at", type=whole(1), nargs="+", default=[150, 600],
                        help="step counts at which to measure the test accuracy; the last is "
                             "the length of each run")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train both networks for every seed and write the record to ``args.out``."""
    start = time.perf_counter()
    x_train, y_train, x_test, y_test = resnet_digits()
    eval_at = sorted(args.eval_at)
    runs = []
    bar = progress_bar(args.seeds * len(NETWORKS), "runs", progress=progress_setting(args))
    for seed in range(args.seeds):
        row = {"seed": seed}
        for name, build in NETWORKS.items():
            t0 = time.perf_counter()
            _, losses, accs = train_deep(build, x_train, y_train, seed=seed, steps=eval_at[-1],
                                         x_test=x_test, y_test=y_test, eval_at=eval_at)
            row[name] = {"loss": losses.tolist(), "test_acc": {str(k): v for k, v in accs.items()},
                         "seconds": time.perf_counter() - t0}
            bar.update()
        runs.append(row)
        print(f"seed {seed}: " + "  ".join(
            f"{name} acc " + "/".join(f"{row[name]['test_acc'][str(k)]:.3f}" for k in eval_at)
            for name in NETWORKS) + f"  (after {', '.join(map(str, eval_at))} steps)", flush=True)
    bar.close()
    total = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"settings": {"seeds": args.seeds, "eval_at": eval_at, "depth": 20,
                                  "channels": 8, "lr": 0.02, "momentum": 0.9, "batch_size": 32,
                                  "n_train": len(y_train), "n_test": len(y_test)},
                     "runs": runs, "total_seconds": total})
    print(f"done: {out}  [time: {total:.1f} s]")


if __name__ == "__main__":
    main()
