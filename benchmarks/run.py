"""cnnlib against the naive loops and PyTorch CPU: the letters network, an epoch, and conv scaling.

Run with ``make bench`` (or ``python benchmarks/run.py``); it takes a few
minutes. ``--part letters``, ``--part scaling`` or ``--part inference`` runs one part, and
``--threads`` sets the threads of NumPy's BLAS and of PyTorch (2 unless
given). PyTorch is optional (``pip install -e ".[reference]"``, which pins
the tested version): without it the PyTorch columns are left empty.

Each library is timed in a process of its own, and the processes alternate
(cnnlib, PyTorch, cnnlib, ... for ``--rounds`` rounds; see :mod:`harness`):
the two libraries' thread pools never share a process, and a change in the
machine's load hits both alike. Every time is the median of repeated runs
within a process and then over the rounds; every ratio is the median of the
per-round ratios. The naive loops are timed on a few images and scaled to
the batch, since they take seconds per batch.

The letters part prints each convolution and pooling layer of the letters
network, one SGD training step, and an epoch of a Fashion-MNIST-sized set
(60,000 images of 28x28, batch 64) estimated from consecutive steps on fresh
batches. The step and the epoch run once as one Python thread (BLAS with
``--threads`` threads), and once split over ``--threads`` workers by
:class:`cnnlib.parallel.DataParallel` (one BLAS thread each). The scaling
part is :mod:`conv_scaling`, and the inference part :mod:`inference` (see
there).
"""

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np

import conv_scaling
import harness
import inference

BATCH = 64
NAIVE_IMAGES = 2  # the naive loops run on this many images, then are scaled to BATCH
REPEAT = 20
STEP_REPEAT = 30
EPOCH_IMAGES = 60_000  # Fashion-MNIST's training set
EPOCH_STEPS_TIMED = 30  # consecutive steps timed, then scaled to the epoch


def ms(seconds):
    return "" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(r):
    return "" if r is None else f"{r:.2f}"


def letters_model(num_classes=26):
    """The float32 letters network with its first layer skipping the data's gradient."""
    from cnnlib.models import letters_cnn
    model = letters_cnn(num_classes, rng=np.random.default_rng(0), dtype=np.float32)
    model[0].needs_input_grad = False  # the data needs no gradient (PyTorch skips it too)
    return model


def torch_twin(model, num_classes=26):
    """The letters network in PyTorch, with cnnlib's weights copied in."""
    import torch
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
    kh, kw = layer.kernel_size
    if type(layer).__name__ == "Conv2d":
        return f"conv {layer.in_channels}->{layer.out_channels} {kh}x{kw}"
    return f"maxpool {kh}x{kw}" + (" ceil" if layer.ceil_mode else "")


def epoch_batches(rng):
    n = EPOCH_STEPS_TIMED * BATCH
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n), rng.permutation(n)


def time_epoch(step, x_all, y_all, order):
    """Seconds for ``ceil(60000 / 64)`` steps, from ``EPOCH_STEPS_TIMED`` consecutive ones.

    Each step takes the next batch of a shuffled float32 training set, so the
    copies of a real loader are counted.
    """
    step(x_all[:BATCH], y_all[:BATCH])  # warm up
    start = time.perf_counter()
    for k in range(EPOCH_STEPS_TIMED):
        idx = order[k * BATCH: (k + 1) * BATCH]
        step(x_all[idx], y_all[idx])
    return (time.perf_counter() - start) / EPOCH_STEPS_TIMED * math.ceil(EPOCH_IMAGES / BATCH)


def cnnlib_letters(threads):
    """The letters part for cnnlib: per-layer times, steps and epochs, and the naive loops."""
    import cnnlib
    from cnnlib.book.reference import conv2d_naive
    from cnnlib.parallel import DataParallel

    rng = np.random.default_rng(0)
    model = letters_model()
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 26, BATCH)
    layers, h = {}, x
    for i, layer in enumerate(model):
        y = layer.forward(h)
        dy = np.ones_like(y)
        name = type(layer).__name__
        if name in ("Conv2d", "MaxPool2d"):
            def both(layer=layer, h=h, dy=dy):
                layer.forward(h)
                layer.backward(dy)

            fwd = naive = None
            if name == "Conv2d":
                fwd = harness.median_time(lambda: layer.forward(h), REPEAT)
                start = time.perf_counter()
                conv2d_naive(h[:NAIVE_IMAGES], layer.params["weight"], layer.params["bias"])
                naive = (time.perf_counter() - start) * BATCH / NAIVE_IMAGES
            label = f"{i} {describe(layer)}, input {h.shape[2]}x{h.shape[3]}"
            layers[label] = [fwd, harness.median_time(both, REPEAT), naive]
        h = y

    def sgd_step(net):
        loss, opt = cnnlib.NLLLoss(), cnnlib.SGD(net, lr=0.01)

        def step(xb, yb):
            loss.forward(net.forward(xb), yb)
            net.backward(loss.backward())
            opt.step()
        return step

    def split_step(net):
        loss, opt = cnnlib.NLLLoss(), cnnlib.SGD(net, lr=0.01)
        parallel = DataParallel(net, threads)
        return lambda xb, yb: parallel(loss, opt, xb, yb)

    step = sgd_step(model)
    result = {"layers": layers, "step": harness.median_time(lambda: step(x, labels), STEP_REPEAT),
              "conv2_flops": 3 * 2 * model[3].macs((BATCH, 32, 13, 13))}
    x_all, y_all, order = epoch_batches(rng)
    result["epoch"] = time_epoch(sgd_step(letters_model(10)), x_all, y_all, order)
    if threads > 1:
        split = split_step(model)
        result["split"] = harness.median_time(lambda: split(x, labels), STEP_REPEAT)
        result["split_epoch"] = time_epoch(split_step(letters_model(10)), x_all, y_all, order)
    return result


def torch_letters():
    """The letters part for PyTorch: per-layer times, one step and an epoch."""
    import torch

    rng = np.random.default_rng(0)
    model = letters_model()
    twin = torch_twin(model)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 26, BATCH)
    layers, h = {}, torch.from_numpy(x)
    for i, (layer, t_layer) in enumerate(zip(model, twin)):
        with torch.no_grad():
            y = t_layer(h)
        if type(layer).__name__ in ("Conv2d", "MaxPool2d"):
            t_x = h.clone().requires_grad_(i > 0)
            dy = torch.ones_like(y)

            def both(t_layer=t_layer, t_x=t_x, dy=dy):
                t_layer.zero_grad(set_to_none=True)
                t_layer(t_x).backward(dy)

            label = f"{i} {describe(layer)}, input {h.shape[2]}x{h.shape[3]}"
            layers[label] = [harness.median_time(both, REPEAT)]
        h = y

    def sgd_step(net):
        loss, opt = torch.nn.NLLLoss(), torch.optim.SGD(net.parameters(), lr=0.01)

        def step(xb, yb):
            opt.zero_grad(set_to_none=True)
            loss(net(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
            opt.step()
        return step

    step = sgd_step(twin)
    x_all, y_all, order = epoch_batches(rng)
    return {"layers": layers, "step": harness.median_time(lambda: step(x, labels), STEP_REPEAT),
            "epoch": time_epoch(sgd_step(torch_twin(letters_model(10), 10)), x_all, y_all, order)}


def report_letters(results, threads):
    ours, theirs = results["cnnlib"], results.get("torch", [])

    def pick(side, *keys):
        values = []
        for r in side:
            for key in keys:
                r = None if r is None else r.get(key) if isinstance(r, dict) else r[key]
            values.append(r)
        return values

    print(f"letters network, float32, batch {BATCH}")
    head = (f"{'layer (median ms)':34s} {'fwd':>7s} {'fwd+bwd':>8s} {'naive fwd':>10s} "
            f"{'torch f+b':>10s} {'naive/fwd':>10s} {'vs torch':>9s}")
    print(head)
    print("-" * len(head))
    labels = next(r["layers"] for r in ours if r)
    for label in labels:
        fwd = statistics.median(v for v in pick(ours, "layers", label, 0) if v is not None) \
            if labels[label][0] is not None else None
        naive = labels[label][2]
        both, t_both, r = harness.paired(pick(ours, "layers", label, 1),
                                         pick(theirs, "layers", label, 0))
        speedup = "" if naive is None else f"{naive / fwd:.0f}x"
        print(f"{label:34s} {ms(fwd):>7s} {ms(both):>8s} {ms(naive):>10s} {ms(t_both):>10s} "
              f"{speedup:>10s} {ratio(r):>9s}")
    print("-" * len(head))
    rows = [("training step (with SGD update)", "step", "step", ms),
            (f"  the same, {threads} workers", "split", "step", ms),
            ("Fashion-MNIST-sized epoch", "epoch", "epoch", lambda t: "" if t is None else
             f"{t:.1f} s"),
            (f"  the same, {threads} workers", "split_epoch", "epoch", lambda t: "" if t is None
             else f"{t:.1f} s")]
    for label, key, their_key, fmt in rows:
        a, b, r = harness.paired(pick(ours, key), pick(theirs, their_key))
        if a is not None:
            print(f"{label:34s} {'':>7s} {fmt(a):>8s} {'':>10s} {fmt(b):>10s} {'':>10s} "
                  f"{ratio(r):>9s}")
    conv2 = next(label for label in labels if label.startswith("3 "))
    both = harness.paired(pick(ours, "layers", conv2, 1), [])[0]
    flops = next(r["conv2_flops"] for r in ours if r)
    print(f"\nconv2 (32->64, 3x3, 13x13, batch {BATCH}): {flops / 1e6:.0f} MFLOP forward+backward, "
          f"{flops / both / 1e9:.1f} GFLOP/s")
    print(f"naive fwd: cnnlib.book.reference.conv2d_naive on {NAIVE_IMAGES} images, scaled to "
          f"{BATCH}; 'naive/fwd' is its time over cnnlib's forward;")
    print("'vs torch' is cnnlib's time over PyTorch's (below 1 means cnnlib is faster). "
          "The first convolution skips its input gradient in both libraries.")
    if threads > 1:
        print(f"'{threads} workers': cnnlib.parallel.DataParallel splits each batch over "
              f"{threads} threads, one replica and one BLAS thread each; PyTorch uses "
              f"{threads} threads.")
    print(f"The epoch rows: {EPOCH_STEPS_TIMED} consecutive SGD steps on shuffled batches of a "
          f"float32 set, scaled to {math.ceil(EPOCH_IMAGES / BATCH)} steps (10 classes).\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "letters", "scaling", "inference"],
                        default="all")
    parser.add_argument("--threads", type=int, default=2,
                        help="BLAS and PyTorch threads in each library's process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="processes per library, alternating with the other library's")
    parser.add_argument(harness.WORKER, choices=["cnnlib", "torch"])
    args = parser.parse_args(argv)
    if args.worker:
        harness.set_threads(args.worker, args.threads)
        if args.worker == "cnnlib":
            harness.emit(cnnlib_letters(args.threads))
        else:
            harness.emit(torch_letters())
        return
    libraries = harness.libraries()
    print(f"cnnlib benchmark: numpy {np.__version__}, "
          + ("PyTorch in its own processes" if "torch" in libraries else
             "PyTorch not installed: its columns are empty (pip install torch to fill them)")
          + f", {args.threads} threads per library, {os.cpu_count()} CPUs "
          + f"({platform.machine()}), load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()) + "\n")
    if args.part in ("all", "letters"):
        results = harness.run_rounds(__file__, ["--threads", str(args.threads)], libraries,
                                     args.rounds, args.threads)
        report_letters(results, args.threads)
    if args.part in ("all", "scaling"):
        conv_scaling.main(["--threads", str(args.threads), "--rounds", str(args.rounds)])
    if args.part in ("all", "inference"):
        print()
        inference.main(["--threads", str(args.threads), "--rounds", str(args.rounds)])


if __name__ == "__main__":
    main()
