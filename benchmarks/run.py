"""cnnlib against the naive loops and PyTorch CPU: the letters network, an epoch, and conv scaling.

Run with ``make bench`` (or ``python benchmarks/run.py``); it takes a few
minutes. ``--part letters`` or ``--part scaling`` runs one half, and
``--threads 1`` limits NumPy's BLAS and PyTorch to one thread each. PyTorch is
optional (``pip install -e ".[reference]"``, which pins the tested version):
without it the PyTorch columns are left empty. Every time is a median over
repeated runs, and cnnlib and PyTorch are timed in alternating blocks in this
one process, so that a change in the machine's load hits both alike. The
naive loops are timed on a few images and scaled to the batch, since they
take seconds per batch.

The letters part prints each convolution and pooling layer of the letters
network, one SGD training step, and an epoch of a Fashion-MNIST-sized set
(60,000 images of 28x28, batch 64) estimated from consecutive steps on
fresh batches. The step and the epoch run once as one Python thread (BLAS
with ``--threads`` threads), and once split over ``--threads`` workers by
:class:`cnnlib.parallel.DataParallel` (one BLAS thread each). The scaling part is :mod:`conv_scaling` (see there).
"""

import argparse
import math
import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

import cnnlib
from cnnlib.book.reference import conv2d_naive
from cnnlib.parallel import DataParallel
from cnnlib.models import letters_cnn
from cnnlib.tools.timing import matmul_peak, paired_medians

import conv_scaling

try:
    import torch
except ImportError:
    torch = None

BATCH = 64
NAIVE_IMAGES = 2  # the naive loops run on this many images, then are scaled to BATCH
REPEAT = 30
STEP_REPEAT = 60
EPOCH_IMAGES = 60_000  # Fashion-MNIST's training set
EPOCH_STEPS_TIMED = 40  # consecutive steps timed, then scaled to the epoch
THREADS = os.cpu_count()


def ms(seconds):
    return "" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(a, b):
    return "" if a is None or b is None else f"{a / b:.2f}"


def torch_twin(model, num_classes=26):
    """The letters network in PyTorch, with cnnlib's weights copied in."""
    nn = torch.nn
    gelu = lambda: nn.GELU(approximate="tanh")  # noqa: E731 - cnnlib's GELU is the tanh form
    twin = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), gelu(),
        nn.Conv2d(32, 64, 3), nn.MaxPool2d(2, ceil_mode=True), gelu(),
        nn.Conv2d(64, 128, 3), nn.MaxPool2d(2), gelu(),
        nn.Flatten(), nn.Linear(512, 64), gelu(), nn.Linear(64, 128), gelu(),
        nn.Linear(128, num_classes), nn.LogSoftmax(dim=1))
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.params.items()})
    return twin


def describe(layer):
    """A short name such as ``conv 32->64 3x3`` or ``maxpool 2x2 ceil``."""
    if isinstance(layer, cnnlib.Conv2d):
        kh, kw = layer.kernel_size
        return f"conv {layer.in_channels}->{layer.out_channels} {kh}x{kw}"
    kh, kw = layer.kernel_size
    return f"maxpool {kh}x{kw}" + (" ceil" if layer.ceil_mode else "")


def layer_rows(model, twin, x):
    """Forward+backward of each convolution and pooling layer, cnnlib vs naive vs torch."""
    rows = []
    for i, layer in enumerate(model):
        y = layer.forward(x)
        dy = np.ones_like(y)
        name = type(layer).__name__
        if name in ("Conv2d", "MaxPool2d"):
            layer_in = x  # bind this layer's input for the closures below

            def ours():
                layer.forward(layer_in)
                layer.backward(dy)

            fns = [ours]
            if twin is not None:
                t_layer = twin[i]
                t_x = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(i > 0)
                t_dy = torch.from_numpy(np.ascontiguousarray(dy))

                def theirs():
                    t_layer.zero_grad(set_to_none=True)
                    t_layer(t_x).backward(t_dy)

                fns.append(theirs)
            times = (paired_medians(fns, REPEAT) + [None])[:2]
            naive = None
            if name == "Conv2d":
                w, b = layer.params["weight"], layer.params["bias"]
                start = time.perf_counter()
                conv2d_naive(x[:NAIVE_IMAGES], w, b)
                naive = (time.perf_counter() - start) * BATCH / NAIVE_IMAGES
                t_fwd = paired_medians([lambda: layer.forward(layer_in)], REPEAT)[0]
            else:
                t_fwd = None
            label = f"{i} {describe(layer)}, input {x.shape[2]}x{x.shape[3]}"
            rows.append((label, t_fwd, times[0], naive, times[1]))
        x = y
    return rows


def ours_step(model, lr=0.01):
    """A function ``step(x, labels)``: one SGD step of ``model`` on a batch."""
    loss, opt = cnnlib.NLLLoss(), cnnlib.SGD(model, lr=lr)

    def step(x, labels):
        loss.forward(model.forward(x), labels)
        model.backward(loss.backward())
        opt.step()

    return step


def parallel_step(model, workers, lr=0.01):
    """The same step split over ``workers`` threads by :class:`cnnlib.parallel.DataParallel`."""
    loss, opt = cnnlib.NLLLoss(), cnnlib.SGD(model, lr=lr)
    parallel = DataParallel(model, workers)

    def step(x, labels):
        parallel(loss, opt, x, labels)

    return step


def theirs_step(twin, lr=0.01):
    """The same step in PyTorch, on NumPy arrays."""
    loss, opt = torch.nn.NLLLoss(), torch.optim.SGD(twin.parameters(), lr=lr)

    def step(x, labels):
        opt.zero_grad(set_to_none=True)
        loss(twin(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
        opt.step()

    return step


def our_steps(model, workers):
    """cnnlib's step on one thread, and (with ``workers`` > 1) split over that many threads."""
    return [ours_step(model), parallel_step(model, workers) if workers > 1 else None]


def step_times(model, twin, x, labels, workers):
    """Median times of one SGD step (forward, backward, update) on one batch.

    Returns (cnnlib, cnnlib with ``workers`` threads or None, PyTorch or None).
    """
    steps = our_steps(model, workers) + [theirs_step(twin) if twin is not None else None]
    fns = [lambda step=step: step(x, labels) for step in steps if step is not None]
    times = iter(paired_medians(fns, STEP_REPEAT))
    return [None if step is None else next(times) for step in steps]


def epoch_estimates(rng, workers):
    """Seconds for one epoch of 60,000 28x28 images at batch 64, from consecutive steps.

    Each step takes the next batch of a shuffled float32 training set (so
    the copies of a real loader are counted); the time of
    ``EPOCH_STEPS_TIMED`` steps is scaled to the epoch's
    ``ceil(60000 / 64)`` steps. Ten classes, as in Fashion-MNIST.
    """
    n = EPOCH_STEPS_TIMED * BATCH
    x_all = rng.random((n, 1, 28, 28), dtype=np.float32)
    y_all = rng.integers(0, 10, n)
    model = letters_cnn(10, rng=rng, dtype=np.float32)
    model[0].needs_input_grad = False
    steps = our_steps(model, workers)
    steps.append(theirs_step(torch_twin(model, 10)) if torch is not None else None)
    results = []
    for step in steps:
        if step is None:
            results.append(None)
            continue
        order = rng.permutation(n)
        step(x_all[:BATCH], y_all[:BATCH])  # warm up
        start = time.perf_counter()
        for k in range(EPOCH_STEPS_TIMED):
            idx = order[k * BATCH: (k + 1) * BATCH]
            step(x_all[idx], y_all[idx])
        per_step = (time.perf_counter() - start) / EPOCH_STEPS_TIMED
        results.append(per_step * math.ceil(EPOCH_IMAGES / BATCH))
    return results


def letters(rng, peak, workers):
    model = letters_cnn(rng=rng, dtype=np.float32)
    model[0].needs_input_grad = False  # the data needs no gradient (PyTorch skips it too)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 26, BATCH)
    twin = torch_twin(model) if torch is not None else None
    print(f"letters network, float32, batch {BATCH}")
    rows = layer_rows(model, twin, x)
    head = (f"{'layer (median ms)':34s} {'fwd':>7s} {'fwd+bwd':>8s} {'naive fwd':>10s} "
            f"{'torch f+b':>10s} {'naive/fwd':>10s} {'vs torch':>9s}")
    print(head)
    print("-" * len(head))
    for label, fwd, both, naive, theirs in rows:
        speedup = "" if naive is None else f"{naive / fwd:.0f}x"
        print(f"{label:34s} {ms(fwd):>7s} {ms(both):>8s} {ms(naive):>10s} {ms(theirs):>10s} "
              f"{speedup:>10s} {ratio(both, theirs):>9s}")
    ours, split, theirs = step_times(model, twin, x, labels, workers)
    print("-" * len(head))
    split_label = f"  the same, {workers} workers"
    print(f"{'training step (with SGD update)':34s} {'':>7s} {ms(ours):>8s} {'':>10s} "
          f"{ms(theirs):>10s} {'':>10s} {ratio(ours, theirs):>9s}")
    if split is not None:
        print(f"{split_label:34s} {'':>7s} {ms(split):>8s} {'':>10s} "
              f"{ms(theirs):>10s} {'':>10s} {ratio(split, theirs):>9s}")
    ours_epoch, split_epoch, theirs_epoch = epoch_estimates(rng, workers)
    s = lambda t: "" if t is None else f"{t:.1f} s"  # noqa: E731
    print(f"{'Fashion-MNIST-sized epoch':34s} {'':>7s} {s(ours_epoch):>8s} {'':>10s} "
          f"{s(theirs_epoch):>10s} {'':>10s} {ratio(ours_epoch, theirs_epoch):>9s}")
    if split_epoch is not None:
        print(f"{split_label:34s} {'':>7s} {s(split_epoch):>8s} {'':>10s} "
              f"{s(theirs_epoch):>10s} {'':>10s} {ratio(split_epoch, theirs_epoch):>9s}")

    conv2_in = (BATCH, 32, 13, 13)
    flops = 3 * 2 * model[3].macs(conv2_in)  # forward, weight gradient, input gradient
    both = next(row[2] for row in rows if row[0].startswith("3 "))
    achieved = flops / both / 1e9
    print(f"\nconv2 (32->64, 3x3, 13x13, batch {BATCH}): {flops / 1e6:.0f} MFLOP forward+backward, "
          f"{achieved:.1f} GFLOP/s = {100 * achieved / peak:.0f}% of the matmul peak")
    print("naive fwd: cnnlib.book.reference.conv2d_naive on "
          f"{NAIVE_IMAGES} images, scaled to {BATCH}; 'naive/fwd' is its time over cnnlib's "
          "forward;")
    print("'vs torch' is cnnlib's time over PyTorch's (below 1 means cnnlib is faster). "
          "The first convolution skips its input gradient in both libraries.")
    if workers > 1:
        print(f"'{workers} workers': cnnlib.parallel.DataParallel splits each batch over "
              f"{workers} threads, one replica and one BLAS thread each; PyTorch uses "
              f"{workers} threads.")
    print(f"The epoch row: {EPOCH_STEPS_TIMED} consecutive SGD steps on shuffled batches of a "
          f"float32 set, scaled to {math.ceil(EPOCH_IMAGES / BATCH)} steps (10 classes).\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "letters", "scaling"], default="all")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help="BLAS and PyTorch threads (1 gives steadier ratios on a busy machine)")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    rng = np.random.default_rng(0)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"cnnlib benchmark: numpy {np.__version__}, "
          + (f"torch {torch.__version__} ({args.threads} threads)" if torch else
             "PyTorch not installed: its columns are empty (pip install torch to fill them)")
          + f", {THREADS} CPUs ({platform.machine()}), load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    peaks = {n: matmul_peak(n, repeat=7) for n in (1024, 2048)}
    peak = max(peaks.values())
    print("float32 matmul: " + ", ".join(f"{n}x{n} {g:.1f} GFLOP/s" for n, g in peaks.items())
          + f"; peak taken as {peak:.1f} GFLOP/s\n")
    if args.part in ("all", "letters"):
        letters(rng, peak, args.threads)
    if args.part in ("all", "scaling"):
        conv_scaling.main(torch)


if __name__ == "__main__":
    main()
