"""Batch norm against group norm at batch sizes from 2 to 128, on a Fashion-MNIST subset.

Run as ``python -m cnnlib.book.norm_batch``. One small CNN
(conv3x3-norm-ReLU-maxpool twice, 16 and 32 channels, then a Linear head)
is trained with batch norm or with group norm (4 groups) for one pass over
the same stratified subset, so every run sees the same number of images,
with Adam at a fixed learning rate, at each batch size, once per seed.
Batch norm is evaluated with its running statistics, as it is used after
training. The record (settings, and per norm and batch size the test
accuracy and CPU seconds of every seed, plus the whole run's CPU and wall
seconds) is written to a JSON file atomically.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import whole
from cnnlib.book.compare_vit import stratified
from cnnlib.data import fashion_mnist
from cnnlib.losses import CrossEntropyLoss
from cnnlib.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from cnnlib.nn.module import Sequential
from cnnlib.nn.norm import BatchNorm2d
from cnnlib.nn.normalization import GroupNorm
from cnnlib.optim import Adam
from cnnlib.train import batches, evaluate, train_step, write_json

NORMS = ("batch", "group")
"""The two normalisations compared."""


def norm_cnn(norm, num_classes=10, *, rng, channels=(16, 32), groups=4, dtype=np.float32):
    """Two conv3x3-norm-ReLU-maxpool stages (28 -> 14 -> 7) and a Linear head.

    Parameters
    ----------
    norm : {"batch", "group"}
        ``BatchNorm2d`` or ``GroupNorm(groups, C)`` after each convolution.
    num_classes : int
    rng : numpy.random.Generator
    channels : (int, int)
    groups : int
        Groups of the group norm; divides both channel counts.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> scores (N, num_classes).
    """
    if norm not in NORMS:
        raise ValueError(f"norm_cnn: norm must be one of {NORMS}, got {norm!r}")

    def make(c):
        return BatchNorm2d(c, dtype=dtype) if norm == "batch" else GroupNorm(groups, c,
                                                                              dtype=dtype)
    c1, c2 = channels
    return Sequential(
        Conv2d(1, c1, 3, padding=1, bias=False, rng=rng, dtype=dtype), make(c1), ReLU(),
        MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, bias=False, rng=rng, dtype=dtype), make(c2), ReLU(),
        MaxPool2d(2), Flatten(), Linear(c2 * 7 * 7, num_classes, rng=rng, dtype=dtype))


def main(argv=None):
    """Parse the command line and run every norm, batch size and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/norm_batch.json",
                        help="output file (default: %(default)s)")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--images", type=whole(10, 60_000), default=4_000,
                        help="training images, one pass (default: %(default)s)")
    parser.add_argument("--test", type=whole(1, 10_000), default=5_000,
                        help="test images to evaluate on (the first ones)")
    parser.add_argument("--batch-sizes", type=whole(2), nargs="+", default=[2, 8, 32, 128])
    parser.add_argument("--seeds", type=whole(1), default=3, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate of Adam")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    if not args.lr > 0:
        parser.error("argument --lr must be positive")
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every configuration and write the record to ``args.out``."""
    wall, cpu = time.perf_counter(), time.process_time()
    x_train, y_train, x_test, y_test = fashion_mnist(args.data)
    index = stratified(y_train, args.images / len(y_train), np.random.default_rng(0))
    x, y = x_train[index], y_train[index]
    x_test, y_test = x_test[:args.test], y_test[:args.test]
    record = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "runs": []}
    for norm in NORMS:
        for batch_size in args.batch_sizes:
            for seed in range(args.seeds):
                model = norm_cnn(norm, rng=np.random.default_rng([seed, 0]))
                model[0].needs_input_grad = False
                loss_fn, optimizer = CrossEntropyLoss(), Adam(model, lr=args.lr)
                start = time.process_time()
                for batch in batches(len(y), batch_size, rng=np.random.default_rng([seed, 1])):
                    if len(batch) > 1:  # batch norm cannot normalise a batch of one
                        train_step(model, loss_fn, optimizer, x[batch], y[batch])
                seconds = time.process_time() - start
                acc = evaluate(model, x_test, y_test)
                record["runs"].append({"norm": norm, "batch_size": batch_size, "seed": seed,
                                       "test_acc": acc, "cpu_seconds": seconds})
                print(f"{norm:5s} norm, batch {batch_size:3d}, seed {seed}: test accuracy "
                      f"{acc:.4f} ({seconds:.1f} CPU s)", flush=True)
    record["cpu_seconds"] = time.process_time() - cpu
    record["wall_seconds"] = time.perf_counter() - wall
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
