"""One convolution layer, forward and backward in float32, from the course's maps to ImageNet's.

Each row times ``layer.forward(x)`` followed by ``layer.backward(dy)``
(input, weight and bias gradients) in cnnlib and in PyTorch CPU, in
alternating blocks in one process, and prints the medians, their ratio and
the GFLOP/s of both (3 x 2 x MACs: forward, weight gradient and input
gradient). "peak / (in+out)" is the most memory cnnlib's call holds at once
(tracemalloc, which sees NumPy's allocations), over the bytes of the input
plus the output. Each library gets its input in the layout its previous
layer would produce: batch innermost for cnnlib (see
:mod:`cnnlib.nn.windows`), C-contiguous NCHW for PyTorch; the stem rows get
a plain NCHW batch in both. Run alone with ``python benchmarks/conv_scaling.py``.
"""

import numpy as np

import cnnlib
from cnnlib.nn.windows import batch_innermost
from cnnlib.tools.timing import paired_medians, peak_memory

REPEAT = 10

# (label, N, C_in, H, C_out, kernel, stride, padding, groups, transposed, stem)
ROWS = [
    ("64x32x13^2, 3x3", 64, 32, 13, 64, 3, 1, 1, 1, False, False),
    ("32x64x32^2, 3x3", 32, 64, 32, 64, 3, 1, 1, 1, False, False),
    ("16x64x64^2, 3x3", 16, 64, 64, 64, 3, 1, 1, 1, False, False),
    ("8x64x128^2, 3x3", 8, 64, 128, 64, 3, 1, 1, 1, False, False),
    ("8x3x224^2, 7x7 s2 p3", 8, 3, 224, 64, 7, 2, 3, 1, False, True),
    ("32x64x32^2, depthwise 3x3", 32, 64, 32, 64, 3, 1, 1, 64, False, False),
    ("16x64x32^2, transposed 4x4 s2", 16, 64, 32, 32, 4, 2, 1, 1, True, False),
]


def build(n, c, h, f, k, s, p, groups, transposed, rng):
    """The cnnlib layer of a row, or None if this cnnlib lacks it."""
    try:
        if transposed:
            ours = cnnlib.ConvTranspose2d(c, f, k, s, p, rng=rng, dtype=np.float32)
        elif groups != 1:
            ours = cnnlib.Conv2d(c, f, k, s, p, groups=groups, rng=rng, dtype=np.float32)
        else:
            ours = cnnlib.Conv2d(c, f, k, stride=s, padding=p, rng=rng, dtype=np.float32)
    except (AttributeError, TypeError):  # an older cnnlib, before these layers
        return None
    return ours


def row(spec, torch, rng):
    """(ours s, torch s or None, peak ratio, GFLOP) for one row of :data:`ROWS`."""
    label, n, c, h, f, k, s, p, groups, transposed, stem = spec
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    ours = build(n, c, h, f, k, s, p, groups, transposed, rng)
    if ours is None:
        return None
    x_ours = x if stem else batch_innermost(x)
    y = ours.forward(x_ours)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dy_ours = np.empty_like(y)  # the layout of the output, as the next layer's backward gives
    dy_ours[...] = dy
    flops = 3 * 2 * ours.macs(x.shape)

    def run_ours(layer=ours):
        layer.forward(x_ours)
        layer.backward(dy_ours)

    fresh = build(n, c, h, f, k, s, p, groups, transposed, rng)
    peak = peak_memory(lambda: run_ours(fresh)) / (x.nbytes + y.nbytes)
    fns = [run_ours]
    if torch is not None:
        cls = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
        kwargs = {} if transposed else {"groups": groups}
        twin = cls(c, f, k, stride=s, padding=p, **kwargs)
        t_x = torch.from_numpy(x).requires_grad_(True)
        t_dy = torch.from_numpy(dy)

        def run_theirs():
            t_x.grad = None
            twin.zero_grad(set_to_none=True)
            twin(t_x).backward(t_dy)

        fns.append(run_theirs)
    times = paired_medians(fns, REPEAT) + [None]
    return times[0], times[1], peak, flops / 1e9


def main(torch=None):
    """Print the scaling table; ``torch`` is the module, or None to leave its columns empty."""
    rng = np.random.default_rng(0)
    head = (f"{'one layer, float32, fwd+bwd':31s} {'cnnlib ms':>10s} {'torch ms':>9s} "
            f"{'ratio':>6s} {'GFLOP/s':>8s} {'torch':>6s} {'peak/(in+out)':>14s}")
    print(head)
    print("-" * len(head))
    for spec in ROWS:
        result = row(spec, torch, rng)
        if result is None:
            print(f"{spec[0]:31s} {'not in this cnnlib':>10s}")
            continue
        ours, theirs, peak, gflop = result
        r = "" if theirs is None else f"{ours / theirs:.2f}"
        t_ms = "" if theirs is None else f"{theirs * 1e3:.1f}"
        t_rate = "" if theirs is None else f"{gflop / theirs:.0f}"
        print(f"{spec[0]:31s} {ours * 1e3:10.1f} {t_ms:>9s} {r:>6s} {gflop / ours:8.0f} "
              f"{t_rate:>6s} {peak:14.1f}", flush=True)
    print("ratio: cnnlib's time over PyTorch's (below 1 means cnnlib is faster); 64 filters "
          "unless named; 3x3 rows use padding 1.")


if __name__ == "__main__":
    try:
        import torch
    except ImportError:
        torch = None
    main(torch)
