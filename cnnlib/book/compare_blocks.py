"""Compare the modern-blocks chapter's four small networks on the same data and budget.

Run as ``python -m cnnlib.book.compare_blocks`` (``make train-blocks``). A
plain CNN (:func:`~cnnlib.models.small_cnn`), its global-average-pooling
twin (:func:`~cnnlib.models.small_gap_net`), a bottleneck ResNet
(:func:`~cnnlib.models.small_bottleneck_resnet`) and a depthwise-separable
net (:func:`~cnnlib.models.small_separable_net`) each train on the same
stratified subset of the Fashion-MNIST training images, with the same
minibatches, epochs and learning-rate schedule, once per seed. Writes
``blocks_comparison_E_epochs.json`` (E the number of epochs): the
settings, and for every network its parameters, MACs per image, and per
seed the test accuracy on all 10,000 test images, the wall and CPU seconds
of training and the loss of every epoch.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import whole
from cnnlib.data import fashion_mnist
from cnnlib.losses import CrossEntropyLoss
from cnnlib.models import small_bottleneck_resnet, small_cnn, small_gap_net, small_separable_net
from cnnlib.optim import Adam
from cnnlib.tools.shapes import summary
from cnnlib.train import cosine_schedule, evaluate, fit, write_json

NETWORKS = {
    "plain CNN": small_cnn,
    "GAP head": small_gap_net,
    "bottleneck ResNet": small_bottleneck_resnet,
    "depthwise-separable": small_separable_net,
}
"""Label -> builder ``(num_classes, *, rng)``, in the order of the chapter's table."""


def subset(n_train, seed=0, root=None):
    """``n_train`` stratified Fashion-MNIST training images and the full test set."""
    x_train, y_train, x_test, y_test = fashion_mnist(root)
    x, _, y, _ = train_test_split(x_train, y_train, train_size=n_train, stratify=y_train,
                                  random_state=seed)
    return x, y, x_test, y_test


def train_network(build, x, y, *, seed, epochs, batch_size=64, lr=2e-3):
    """Train ``build(10, rng=...)`` with Adam on a cosine schedule; returns (model, History).

    The weights come from ``default_rng([seed, 0])`` and the minibatch order
    from ``default_rng([seed, 1])``, so every network of one seed sees the
    same batches in the same order.
    """
    model = build(10, rng=np.random.default_rng([seed, 0]))
    model[0].needs_input_grad = False
    history = fit(model, CrossEntropyLoss(), Adam(model, lr=lr), x, y, epochs=epochs,
                  batch_size=batch_size, rng=np.random.default_rng([seed, 1]),
                  lr_schedule=cosine_schedule(lr, epochs), verbose=False)
    return model, history


def main(argv=None):
    """Parse the command line and run the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None,
                        help="output file (default: book/results/blocks_comparison_E_epochs.json)")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--train", type=whole(10, 50_000), default=6000,
                        help="training images, at least one per class")
    parser.add_argument("--epochs", type=whole(1), default=4)
    parser.add_argument("--seeds", type=whole(1), default=3, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every network for every seed and write the record to ``args.out``."""
    x, y, x_test, y_test = subset(args.train, root=args.data)
    print(f"{len(y)} training images, {len(y_test)} test images, {args.epochs} epochs, "
          f"{args.seeds} seeds", flush=True)
    record = {"settings": {k: v for k, v in vars(args).items() if k != "out"},
              "networks": {}}
    for label, build in NETWORKS.items():
        probe = build(10, rng=np.random.default_rng(0))
        info = summary(probe, (1, 28, 28), print_table=False)
        entry = {"builder": build.__name__, "params": probe.num_params(),
                 "macs": info.total_macs, "runs": []}
        for seed in range(args.seeds):
            start, cpu_start = time.perf_counter(), time.process_time()
            model, history = train_network(build, x, y, seed=seed, epochs=args.epochs)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            acc = evaluate(model, x_test, y_test)
            entry["runs"].append({"seed": seed, "test_acc": acc, "seconds": seconds,
                                  "cpu_seconds": cpu_seconds, "loss": history.loss})
            print(f"{label:20s} seed {seed}: test accuracy {acc:.4f}  "
                  f"[time: {seconds:.1f} s]", flush=True)
        record["networks"][label] = entry
    out = Path(args.out or f"book/results/blocks_comparison_{args.epochs}_epochs.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
