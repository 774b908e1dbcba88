"""cnnlib against the naive loops and PyTorch CPU on the letters network, in float32.

Run with ``make bench`` (or ``python benchmarks/run.py``); it takes about a
minute. PyTorch is optional (``pip install -e ".[bench]"``, which pins the
tested version): without it the PyTorch columns are left empty. Every time is
a median over repeated runs, and cnnlib and PyTorch are timed in alternating
blocks in this one process, so that a change in the machine's load hits both
alike. The naive loops are timed on a few images and scaled to the batch,
since they take seconds per batch.
"""

import os
import platform
import time

import numpy as np

import cnnlib
from cnnlib.handwriting_models import letters_cnn
from cnnlib.naive import conv2d_naive
from cnnlib.timing import matmul_peak

try:
    import torch
except ImportError:
    torch = None

BATCH = 64
NAIVE_IMAGES = 2  # the naive loops run on this many images, then are scaled to BATCH
REPEAT = 30
STEP_REPEAT = 60
THREADS = os.cpu_count()


def paired_medians(fns, repeat, rounds=5):
    """Median seconds of each function over ``repeat`` calls.

    The functions take turns in ``rounds`` blocks, each block starting with
    an untimed call. Blocks rather than single calls, because after a call
    a library's idle threads keep spinning for a moment and would slow down
    whichever library runs next.
    """
    times = [[] for _ in fns]
    per_round = max(1, repeat // rounds)
    for _ in range(rounds):
        for fn, record in zip(fns, times):
            fn()
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                record.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def ms(seconds):
    return "" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(a, b):
    return "" if a is None or b is None else f"{a / b:.2f}"


def torch_twin(model):
    """The same network in PyTorch, with cnnlib's weights copied in."""
    nn = torch.nn
    gelu = lambda: nn.GELU(approximate="tanh")  # noqa: E731 - cnnlib's GELU is the tanh form
    twin = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), gelu(),
        nn.Conv2d(32, 64, 3), nn.MaxPool2d(2, ceil_mode=True), gelu(),
        nn.Conv2d(64, 128, 3), nn.MaxPool2d(2), gelu(),
        nn.Flatten(), nn.Linear(512, 64), gelu(), nn.Linear(64, 128), gelu(),
        nn.Linear(128, 26), nn.LogSoftmax(dim=1))
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.params.items()})
    return twin


def describe(layer):
    """A short name such as ``conv 32->64 3x3`` or ``maxpool 2x2 ceil``."""
    if isinstance(layer, cnnlib.Conv2d):
        kh, kw = layer.kernel_size
        return f"conv {layer.in_channels}->{layer.out_channels} {kh}x{kw}"
    kh, kw = layer.size
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
                few = x[:NAIVE_IMAGES]
                start = time.perf_counter()
                conv2d_naive(few, w, b)
                naive = (time.perf_counter() - start) * BATCH / NAIVE_IMAGES
                t_fwd = paired_medians([lambda: layer.forward(layer_in)], REPEAT)[0]
            else:
                t_fwd = None
            label = f"{i} {describe(layer)}, input {x.shape[2]}x{x.shape[3]}"
            rows.append((label, t_fwd, times[0], naive, times[1]))
        x = y
    return rows


def step_times(model, twin, x, labels):
    """Median time of one SGD training step (forward, backward, update)."""
    loss, opt = cnnlib.NLLLoss(), cnnlib.SGD(model, lr=0.01)

    def ours():
        loss.forward(model.forward(x), labels)
        model.backward(loss.backward())
        opt.step()

    fns = [ours]
    if twin is not None:
        t_x, t_labels = torch.from_numpy(x), torch.from_numpy(labels)
        t_loss, t_opt = torch.nn.NLLLoss(), torch.optim.SGD(twin.parameters(), lr=0.01)

        def theirs():
            t_opt.zero_grad(set_to_none=True)
            t_loss(twin(t_x), t_labels).backward()
            t_opt.step()

        fns.append(theirs)
    return (paired_medians(fns, STEP_REPEAT) + [None])[:2]


def main():
    rng = np.random.default_rng(0)
    model = letters_cnn(rng, dtype=np.float32)
    model[0].needs_input_grad = False  # the data needs no gradient (PyTorch skips it too)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 26, BATCH)
    twin = None
    if torch is not None:
        torch.set_num_threads(THREADS)
        twin = torch_twin(model)

    print(f"cnnlib benchmark: letters network, float32, batch {BATCH}")
    print(f"numpy {np.__version__}, "
          + (f"torch {torch.__version__} ({THREADS} threads)" if torch else
             "PyTorch not installed: its columns are empty (pip install torch to fill them)")
          + f", {THREADS} CPUs ({platform.machine()}), load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    peaks = {n: matmul_peak(n, repeat=7) for n in (1024, 2048)}
    peak = max(peaks.values())
    print("float32 matmul: " + ", ".join(f"{n}x{n} {g:.1f} GFLOP/s" for n, g in peaks.items())
          + f"; peak taken as {peak:.1f} GFLOP/s\n")

    rows = layer_rows(model, twin, x)
    head = (f"{'layer (median ms)':34s} {'fwd':>7s} {'fwd+bwd':>8s} {'naive fwd':>10s} "
            f"{'torch f+b':>10s} {'naive/fwd':>10s} {'vs torch':>9s}")
    print(head)
    print("-" * len(head))
    for label, fwd, both, naive, theirs in rows:
        speedup = "" if naive is None else f"{naive / fwd:.0f}x"
        print(f"{label:34s} {ms(fwd):>7s} {ms(both):>8s} {ms(naive):>10s} {ms(theirs):>10s} "
              f"{speedup:>10s} {ratio(both, theirs):>9s}")

    ours, theirs = step_times(model, twin, x, labels)
    print("-" * len(head))
    print(f"{'training step (with SGD update)':34s} {'':>7s} {ms(ours):>8s} {'':>10s} "
          f"{ms(theirs):>10s} {'':>10s} {ratio(ours, theirs):>9s}")

    conv2 = model[3]
    conv2_in = (BATCH, 32, 13, 13)
    flops = 3 * 2 * conv2.macs(conv2_in)  # forward, weight gradient, input gradient
    both = next(row[2] for row in rows if row[0].startswith("3 "))
    achieved = flops / both / 1e9
    print(f"\nconv2 (32->64, 3x3, 13x13, batch {BATCH}): {flops / 1e6:.0f} MFLOP forward+backward, "
          f"{achieved:.1f} GFLOP/s = {100 * achieved / peak:.0f}% of the matmul peak")
    print("naive fwd: cnnlib.naive.conv2d_naive on "
          f"{NAIVE_IMAGES} images, scaled to {BATCH}; 'naive/fwd' is its time over cnnlib's forward;")
    print("'vs torch' is cnnlib's time over PyTorch's (below 1 means cnnlib is faster). "
          "The first convolution skips its input gradient in both libraries.")


if __name__ == "__main__":
    main()
