"""ConvNeXt's steps from a ResNet, one at a time, each trained briefly on a Fashion-MNIST subset.

Run as ``python -m cnnlib.book.convnext_ladder``. Liu et al. (2022) turned a
ResNet into ConvNeXt by a sequence of changes and measured each on
ImageNet. This script climbs a small version of that ladder on 28x28
images: every rung is a two-stage network (a stem, one residual block of
``widths[0]`` channels at 14x14, a 2x2 stride-2 downsampling convolution,
one block of ``widths[1]`` channels at 7x7, global average pooling and a
Linear head) that differs from the rung before it by one step:

0. ``ResNet``: a 3x3 stem with a 2x2 max-pool, and ResNet's basic block
   (conv3x3-norm-act-conv3x3-norm, add the input, act), batch norm and ReLU;
1. ``patchify stem``: the stem becomes one 2x2 stride-2 convolution and a norm;
2. ``depthwise 3x3``: the block becomes depthwise 3x3 then pointwise 1x1 (ResNeXt's
   grouped convolution taken to one channel per group);
3. ``inverted bottleneck``: 1x1 up to 4C, depthwise 3x3, 1x1 down to C (MobileNetV2's order);
4. ``depthwise 7x7 first``: the depthwise convolution moves to the front and grows to 7x7;
5. ``GELU``: every ReLU becomes a GELU;
6. ``fewer norms and activations``: one norm after the depthwise convolution, one activation
   between the two 1x1 convolutions, nothing after the sum;
7. ``layer norm``: batch norm becomes a channels-first layer norm everywhere; the block is
   now ConvNeXt's block without its layer scale.

Every rung trains on the same stratified subset, with the same minibatches,
Adam and a cosine learning rate over the same number of epochs, once per
seed. The record (settings, per rung its parameters, MACs per image and per
seed the test accuracy and CPU seconds, plus the whole run's CPU and wall
seconds, the latter including the worker processes of ``--jobs``) is
written to a JSON file atomically.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import add_progress_option, progress_setting, whole
from cnnlib.book.compare_vit import learning_rate, stratified
from cnnlib.book.parallel_runs import cpu_seconds, run_tasks
from cnnlib.data import fashion_mnist
from cnnlib.losses import CrossEntropyLoss
from cnnlib.nn.layers import AdaptiveAvgPool2d, Conv2d, Flatten, GELU, Linear, MaxPool2d, ReLU
from cnnlib.nn.module import Module, Sequential, _container_repr
from cnnlib.nn.norm import BatchNorm2d
from cnnlib.nn.normalization import LayerNorm2d
from cnnlib.optim import Adam
from cnnlib.progress import progress_bar
from cnnlib.tools.shapes import summary
from cnnlib.train import batches, evaluate, train_step, write_json

RUNGS = ("ResNet", "patchify stem", "depthwise 3x3", "inverted bottleneck",
         "depthwise 7x7 first", "GELU", "fewer norms and activations", "layer norm")
"""The ladder's rungs, in order; rung i has every change of rungs 1..i."""


class Residual(Module):
    """``act(x + branch(x))``, or ``x + branch(x)`` when ``activation`` is None.

    Parameters
    ----------
    branch : Module
        Maps (N, C, H, W) to the same shape.
    activation : Module or None

    Shape
    -----
    (N, C, H, W) -> (N, C, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.nn.layers import Conv2d, ReLU
    >>> block = Residual(Conv2d(2, 2, 3, padding=1, rng=np.random.default_rng(0)), ReLU())
    >>> block.forward(np.ones((1, 2, 4, 4))).shape
    (1, 2, 4, 4)
    """

    def __init__(self, branch, activation=None):
        super().__init__()
        self.branch = self.add("branch", branch)
        self.activation = None if activation is None else self.add("activation", activation)
        self.dtype = branch.dtype

    def _forward(self, x):
        y = x + self.branch.forward(x)
        return y if self.activation is None else self.activation.forward(y)

    def _backward(self, dy):
        d_sum = dy if self.activation is None else self.activation.backward(dy)
        return d_sum + self.branch.backward(d_sum)

    def out_shape(self, in_shape):
        out = self.branch.out_shape(in_shape)
        if tuple(out) != tuple(in_shape):
            raise ValueError(f"Residual: the branch maps {tuple(in_shape)} to {tuple(out)}; "
                             "it must keep the shape")
        return out

    def macs(self, in_shape):
        return self.branch.macs(in_shape)

    def windows(self):
        return self.branch.windows()

    def __repr__(self):
        return _container_repr(self)


def _norm(kind, c, dtype):
    return BatchNorm2d(c, dtype=dtype) if kind == "bn" else LayerNorm2d(c, dtype=dtype)


def _act(kind):
    return ReLU() if kind == "relu" else GELU("tanh")


def _block(rung, c, rng, dtype):
    """The residual block of ``rung`` on ``c`` channels."""
    norm = "ln" if rung >= 7 else "bn"
    act = "gelu" if rung >= 5 else "relu"

    def conv(c_in, c_out, k, groups=1):
        return Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False, rng=rng,
                      dtype=dtype)

    def n(channels):
        return _norm(norm, channels, dtype)

    if rung <= 1:
        layers = [conv(c, c, 3), n(c), _act(act), conv(c, c, 3), n(c)]
    elif rung == 2:
        layers = [conv(c, c, 3, groups=c), n(c), _act(act), conv(c, c, 1), n(c)]
    elif rung == 3:
        layers = [conv(c, 4 * c, 1), n(4 * c), _act(act), conv(4 * c, 4 * c, 3, groups=4 * c),
                  n(4 * c), _act(act), conv(4 * c, c, 1), n(c)]
    elif rung <= 5:
        layers = [conv(c, c, 7, groups=c), n(c), _act(act), conv(c, 4 * c, 1), n(4 * c),
                  _act(act), conv(4 * c, c, 1), n(c)]
    else:
        layers = [Conv2d(c, c, 7, padding=3, groups=c, rng=rng, dtype=dtype), n(c),
                  Conv2d(c, 4 * c, 1, rng=rng, dtype=dtype), _act(act),
                  Conv2d(4 * c, c, 1, rng=rng, dtype=dtype)]
    return Residual(Sequential(*layers), None if rung >= 6 else _act(act))


def ladder_net(rung, num_classes=10, *, rng, widths=(24, 48), dtype=np.float32):
    """The network of rung ``rung`` (0 to 7, see :data:`RUNGS`) for (N, 1, 28, 28) images.

    Returns
    -------
    Sequential
        Input (N, 1, 28, 28) -> scores (N, num_classes).
    """
    if rung not in range(len(RUNGS)):
        raise ValueError(f"ladder_net: rung must be 0 to {len(RUNGS) - 1}, got {rung!r}")
    c1, c2 = widths
    norm = "ln" if rung >= 7 else "bn"
    if rung == 0:
        stem = [Conv2d(1, c1, 3, padding=1, bias=False, rng=rng, dtype=dtype),
                _norm(norm, c1, dtype), ReLU(), MaxPool2d(2)]
    else:
        stem = [Conv2d(1, c1, 2, 2, rng=rng, dtype=dtype), _norm(norm, c1, dtype)]
    return Sequential(*stem, _block(rung, c1, rng, dtype),
                      _norm(norm, c1, dtype), Conv2d(c1, c2, 2, 2, rng=rng, dtype=dtype),
                      _block(rung, c2, rng, dtype),
                      AdaptiveAvgPool2d(1), Flatten(), Linear(c2, num_classes, rng=rng,
                                                              dtype=dtype))


def train_rung(rung, x, y, *, seed, epochs, batch_size, lr, widths):
    """Train rung ``rung`` for ``epochs``; weights from ``default_rng([seed, 0])``, batches from
    ``default_rng([seed, 1])``; cosine learning rate with a 5% warm-up, per step."""
    model = ladder_net(rung, rng=np.random.default_rng([seed, 0]), widths=widths)
    model[0].needs_input_grad = False
    loss_fn, optimizer = CrossEntropyLoss(), Adam(model, lr=lr)
    order_rng = np.random.default_rng([seed, 1])
    per_epoch = -(-len(y) // batch_size)
    total, step, losses = epochs * per_epoch, 0, []
    start = time.process_time()
    for _ in range(epochs):
        epoch_loss = 0.0
        for index in batches(len(y), batch_size, rng=order_rng):
            optimizer.lr = learning_rate(lr, step, total)
            loss, _ = train_step(model, loss_fn, optimizer, x[index], y[index])
            epoch_loss += loss * len(index)
            step += 1
        losses.append(epoch_loss / len(y))
    return model, {"cpu_seconds": time.process_time() - start, "loss": losses}


def main(argv=None):
    """Parse the command line and climb the ladder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/convnext_ladder.json",
                        help="output file (default: %(default)s)")
    parser.add_argument("--data", default=None, help="Fashion-MNIST folder (default: search)")
    parser.add_argument("--fraction", type=float, default=0.05,
                        help="fraction of each class of the training set (default: %(default)g)")
    parser.add_argument("--test", type=whole(1, 10_000), default=5_000,
                        help="test images to evaluate on (the first ones)")
    parser.add_argument("--epochs", type=whole(1), default=3)
    parser.add_argument("--seeds", type=whole(1), default=3, help="seeds 0, 1, ..., SEEDS - 1")
    parser.add_argument("--batch-size", type=whole(1), default=64)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of Adam")
    parser.add_argument("--rungs", type=whole(0, len(RUNGS) - 1), nargs="+",
                        default=list(range(len(RUNGS))), help="rungs to train (default: all)")
    parser.add_argument("--jobs", type=whole(1), default=1,
                        help="runs trained at once, in separate processes (default: 1)")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    add_progress_option(parser)
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error(f"argument --fraction: {args.fraction} is not in (0, 1]")
    if not args.lr > 0:
        parser.error("argument --lr must be positive")
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Train every rung for every seed and write the record to ``args.out``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    widths = (24, 48)
    x_train, y_train, x_test, y_test = fashion_mnist(args.data)
    index = stratified(y_train, args.fraction, np.random.default_rng(0))
    x, y = x_train[index], y_train[index]
    x_test, y_test = x_test[:args.test], y_test[:args.test]
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "progress", "jobs")}
    record = {"settings": {**settings, "widths": list(widths), "train_images": len(y)},
              "rungs": []}
    for rung in args.rungs:
        probe = ladder_net(rung, rng=np.random.default_rng(0), widths=widths)
        record["rungs"].append({"rung": rung, "label": RUNGS[rung], "params": probe.num_params(),
                                "macs": summary(probe, (1, 28, 28), print_table=False).total_macs,
                                "runs": []})

    def work(task):
        rung, seed = task
        model, run_record = train_rung(rung, x, y, seed=seed, epochs=args.epochs,
                                       batch_size=args.batch_size, lr=args.lr, widths=widths)
        return {"seed": seed, "test_acc": evaluate(model, x_test, y_test), **run_record}

    tasks = [(i, rung, seed) for i, rung in enumerate(args.rungs) for seed in range(args.seeds)]
    results = run_tasks(work, [(rung, seed) for _, rung, seed in tasks], args.jobs)
    with progress_bar(len(tasks), "rungs x seeds", progress=progress_setting(args)) as bar:
        for run_record, (i, rung, seed) in zip(results, tasks):  # joins the pool at the end
            entry = record["rungs"][i]
            entry["runs"].append(run_record)
            bar.update()
            bar.set_postfix_str(f"{RUNGS[rung]} seed {seed}: {run_record['test_acc']:.3f}")
            if seed == args.seeds - 1:
                accs = [r["test_acc"] for r in entry["runs"]]
                print(f"{rung} {RUNGS[rung]:28s} {entry['params']:7d} params "
                      f"acc {np.mean(accs):.4f} +- {np.std(accs):.4f}", flush=True)
    record["cpu_seconds"] = cpu_seconds() - cpu
    record["wall_seconds"] = time.perf_counter() - wall
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
