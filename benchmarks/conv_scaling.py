"""One convolution layer, forward and backward in float32, over the shapes courses and networks use.

Each row times ``layer.forward(x)`` followed by ``layer.backward(dy)``
(input, weight and bias gradients) in cnnlib and in PyTorch CPU, each
library in a process of its own (see :mod:`harness`), and prints the medians,
the median of the per-round ratios and the GFLOP/s of both (3 x 2 x MACs:
forward, weight gradient and input gradient). "path" is the route cnnlib's
engine takes (forward / input gradient, see :mod:`cnnlib.nn.conv_engine`).
"peak/(in+out)" is the most memory cnnlib's call holds at once (tracemalloc,
which sees NumPy's allocations), over the bytes of the input plus the
output. "GEMM only" is the time cnnlib's call spends inside its matrix
products (:data:`cnnlib.nn.conv_engine.matmul`) over PyTorch's whole time:
the ratio cnnlib would reach if everything but its products were free, the
floor of its way of computing a convolution with this BLAS. The header also
gives the bandwidth of one streaming NumPy pass on one thread and on
``--threads`` threads: the engine's passes between products are bound by it.
Each library gets its input in the layout its previous layer would produce:
batch innermost for cnnlib (see :mod:`cnnlib.nn.windows`), C-contiguous NCHW
for PyTorch; the stem rows get a plain NCHW batch in both.
Run alone with ``python benchmarks/conv_scaling.py``.
"""

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import harness

REPEAT = 7

# label: (N, C_in, H, C_out, kernel, stride, padding, dilation, groups, transposed, stem)
ROWS = {
    "64x32x13^2 3x3 p1": (64, 32, 13, 64, 3, 1, 1, 1, 1, False, False),
    "64x32x13^2 3x3 p0 (letters)": (64, 32, 13, 64, 3, 1, 0, 1, 1, False, False),
    "32x64x32^2 3x3": (32, 64, 32, 64, 3, 1, 1, 1, 1, False, False),
    "16x64x64^2 3x3": (16, 64, 64, 64, 3, 1, 1, 1, 1, False, False),
    "4x64x128^2 3x3": (4, 64, 128, 64, 3, 1, 1, 1, 1, False, False),
    "8x3x224^2 7x7 s2 p3 (stem)": (8, 3, 224, 64, 7, 2, 3, 1, 1, False, True),
    "32x3x32^2 3x3 ->64": (32, 3, 32, 64, 3, 1, 1, 1, 1, False, True),
    "16x3x64^2 7x7 p3 ->64": (16, 3, 64, 64, 7, 1, 3, 1, 1, False, True),
    "32x32x32^2 5x5 p2": (32, 32, 32, 64, 5, 1, 2, 1, 1, False, False),
    "64x6x14^2 5x5 p0 ->16 (LeNet)": (64, 6, 14, 16, 5, 1, 0, 1, 1, False, False),
    "32x128x28^2 3x3 s2": (32, 128, 28, 128, 3, 2, 1, 1, 1, False, False),
    "32x256x7^2 3x3 ->512": (32, 256, 7, 512, 3, 1, 1, 1, 1, False, False),
    "32x128x16^2 1x1 ->256": (32, 128, 16, 256, 1, 1, 0, 1, 1, False, False),
    "16x64x56^2 1x1 s2 ->128": (16, 64, 56, 128, 1, 2, 0, 1, 1, False, False),
    "32x64x32^2 3x3 d2 p2": (32, 64, 32, 64, 3, 1, 2, 2, 1, False, False),
    "32x64x32^2 3x3 groups 4": (32, 64, 32, 64, 3, 1, 1, 1, 4, False, False),
    "32x64x32^2 depthwise 3x3": (32, 64, 32, 64, 3, 1, 1, 1, 64, False, False),
    "32x96x14^2 depthwise 7x7 p3": (32, 96, 14, 96, 7, 1, 3, 1, 96, False, False),
    "16x64x32^2 transposed 4x4 s2": (16, 64, 32, 32, 4, 2, 1, 1, 1, True, False),
}


def flops(spec):
    """3 x 2 x MACs of the layer (forward, weight gradient, input gradient)."""
    n, c, h, f, k, s, p, d, g, transposed, _ = spec
    if transposed:  # every input pixel scatters F KH KW products
        return 6 * n * c * h * h * f * k * k
    out = (h + 2 * p - d * (k - 1) - 1) // s + 1
    return 6 * n * f * out * out * (c // g) * k * k


def products_time(step, repeat):
    """The median time ``step()`` spends inside the convolution engine's matrix products."""
    from cnnlib.nn import conv_engine

    spent = [0.0]

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return matmul(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    matmul, conv_engine.matmul = conv_engine.matmul, timed
    try:
        step()
        times = []
        for _ in range(repeat):
            spent[0] = 0.0
            step()
            times.append(spent[0])
    finally:
        conv_engine.matmul = matmul
    return statistics.median(times)


def stream_bandwidth(threads, megabytes=64, repeat=7):
    """GB/s of ``b = 1.5 * a`` on float32 arrays of ``megabytes``, split over ``threads``
    Python threads (NumPy releases the GIL inside the pass)."""
    a = np.ones(megabytes * 2 ** 20 // 4, np.float32)
    b = np.empty_like(a)
    parts = [slice(a.size * k // threads, a.size * (k + 1) // threads) for k in range(threads)]

    def one(s):
        np.multiply(a[s], 1.5, out=b[s])

    def run():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, parts))

    return 2 * a.nbytes / harness.median_time(run, repeat) / 1e9


def cnnlib_rows(labels, repeat):
    """{label: [seconds, peak / (in + out), path, seconds in products]} for cnnlib, in this
    process."""
    import cnnlib
    from cnnlib.nn.windows import batch_innermost
    from cnnlib.tools.timing import peak_memory
    try:
        from cnnlib.nn.conv_engine import paths
        from cnnlib.nn.unroll import conv_geometry
    except ImportError:  # a cnnlib from before the engine's paths: no path column
        paths = None

    rng = np.random.default_rng(0)
    out = {}
    for label in labels:
        n, c, h, f, k, s, p, d, g, transposed, stem = ROWS[label]

        def build():
            if transposed:
                return cnnlib.ConvTranspose2d(c, f, k, s, p, rng=rng, dtype=np.float32)
            return cnnlib.Conv2d(c, f, k, s, p, d, g, rng=rng, dtype=np.float32)

        x = rng.standard_normal((n, c, h, h), dtype=np.float32)
        x = x if stem else batch_innermost(x)
        layer = build()
        y = layer.forward(x)
        dy = np.empty_like(y)  # the layout of the output, as the next layer's backward gives
        dy[...] = rng.standard_normal(y.shape, dtype=np.float32)

        def step(layer=layer):
            layer.forward(x)
            layer.backward(dy)

        fresh = build()
        peak = peak_memory(lambda: (fresh.forward(x), fresh.backward(dy))) / (x.nbytes + y.nbytes)
        path = "transposed" if transposed else "" if paths is None else "/".join(
            paths(conv_geometry("", x.shape, layer.params["weight"].shape, s, p, d, g)))
        products = None if transposed else products_time(step, repeat)
        out[label] = [harness.median_time(step, repeat), peak, path, products]
    return out


def torch_rows(labels, repeat):
    """{label: [seconds]} for PyTorch, in this process."""
    import torch

    rng = np.random.default_rng(0)
    out = {}
    for label in labels:
        n, c, h, f, k, s, p, d, g, transposed, _ = ROWS[label]
        if transposed:
            layer = torch.nn.ConvTranspose2d(c, f, k, stride=s, padding=p)
        else:
            layer = torch.nn.Conv2d(c, f, k, stride=s, padding=p, dilation=d, groups=g)
        x = torch.from_numpy(rng.standard_normal((n, c, h, h), dtype=np.float32))
        x.requires_grad_(True)
        dy = torch.randn_like(layer(x))

        def step():
            x.grad = None
            layer.zero_grad(set_to_none=True)
            layer(x).backward(dy)

        out[label] = [harness.median_time(step, repeat)]
    return out


def worker(library, repeat, threads):
    """Time every row with one library; cnnlib's worker also measures the GEMM peak."""
    result = {"rows": (cnnlib_rows if library == "cnnlib" else torch_rows)(list(ROWS), repeat)}
    if library == "cnnlib":
        from cnnlib.tools.timing import matmul_peak
        result["peak"] = matmul_peak(2048, repeat=5)
        result["stream"] = [stream_bandwidth(1), stream_bandwidth(threads)]
    return result


def report(results, threads):
    """Print the table from the workers' rounds: {library: [result, ...]}."""
    ours, theirs = results["cnnlib"], results.get("torch", [])
    peaks = [r["peak"] for r in ours if r]
    if peaks:
        print(f"float32 GEMM peak (2048x2048 matmul, NumPy, {harness.threads_text(threads)}): "
              f"{statistics.median(peaks):.0f} GFLOP/s")
    streams = [r["stream"] for r in ours if r and "stream" in r]
    if streams:
        one, many = (statistics.median(s[k] for s in streams) for k in (0, 1))
        print(f"streaming NumPy pass (b = 1.5 a, 64 MB): {one:.1f} GB/s on 1 thread"
              + (f", {many:.1f} GB/s on {threads}" if threads > 1 else ""))
    head = (f"{'one layer, float32, fwd+bwd':31s} {'cnnlib ms':>9s} {'torch ms':>9s} "
            f"{'ratio':>6s} {'GEMM only':>9s} {'GFLOP/s':>8s} {'torch':>6s} "
            f"{'peak/(in+out)':>13s}  path")
    print(head)
    print("-" * len(head))
    ratios, floors = {}, {}
    for label, spec in ROWS.items():
        a = [r["rows"][label][0] if r else None for r in ours]
        b = [r["rows"][label][0] if r else None for r in theirs]
        t_ours, t_theirs, ratio = harness.paired(a, b)
        if t_ours is None:
            continue
        gflop = flops(spec) / 1e9
        info = next(r["rows"][label] for r in ours if r)
        products = [r["rows"][label][3] for r in ours if r and len(r["rows"][label]) > 3]
        floor = None
        if ratio is not None and not spec[9]:
            ratios[label] = ratio
            if products and products[0] is not None:
                floor = floors[label] = statistics.median(products) / t_theirs
        cell = lambda v, fmt: "" if v is None else format(v, fmt)  # noqa: E731
        print(f"{label:31s} {t_ours * 1e3:9.1f} {cell(t_theirs and t_theirs * 1e3, '9.1f'):>9s} "
              f"{cell(ratio, '.2f'):>6s} {cell(floor, '.2f'):>9s} {gflop / t_ours:8.0f} "
              f"{cell(t_theirs and gflop / t_theirs, '.0f'):>6s} {info[1]:13.1f}  {info[2]}",
              flush=True)
    if ratios:
        worst = max(ratios, key=ratios.get)
        print(f"ratio over the {len(ratios)} Conv2d rows: median "
              f"{statistics.median(ratios.values()):.2f}, worst {ratios[worst]:.2f} ({worst})")
    if floors:
        worst = max(floors, key=floors.get)
        print(f"GEMM only, the same rows: median {statistics.median(floors.values()):.2f}, "
              f"worst {floors[worst]:.2f} ({worst})")
    print(f"ratio: cnnlib's time over PyTorch's (below 1 means cnnlib is faster), the median of "
          f"{len(ours)} rounds that alternate one process per library; "
          f"{harness.threads_text(threads)} each.")


def main(argv=None):
    harness.main(__file__, __doc__.splitlines()[0], REPEAT, worker, report, argv)


if __name__ == "__main__":
    sys.exit(main())
