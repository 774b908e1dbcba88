"""Timing tools for the speed chapter and the benchmarks: medians, matmul peak, per-layer profile."""

import time

import numpy as np


def median_time(fn, *, repeat=5, warmup=1):
    """Median wall-clock time of ``fn()`` in seconds.

    Parameters
    ----------
    fn : callable with no arguments
    repeat : int
        Number of timed calls.
    warmup : int
        Untimed calls first (they fill caches and allocate memory).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def format_time(seconds):
    """``"[time: 1.23 s]"`` from one second up, ``"[time: 4.56 ms]"`` below."""
    if seconds >= 1:
        return f"[time: {seconds:.2f} s]"
    ms = seconds * 1e3
    decimals = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3
    return f"[time: {ms:.{decimals}f} ms]"


def matmul_peak(n=1024, *, dtype=np.float32, repeat=5):
    """GFLOP/s of an ``n x n`` by ``n x n`` matrix product (``2 n^3`` flops).

    The median over ``repeat`` products: what this machine's BLAS reaches on
    a large, square, well-shaped problem, the yardstick for everything else.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return 2 * n ** 3 / median_time(lambda: a @ b, repeat=repeat) / 1e9


def profile_layers(model, x, *, repeat=5):
    """Time the forward and the backward pass of every layer of a Sequential.

    Each layer is timed on its real input (the output of the layers before
    it) and, for the backward pass, on a gradient of ones.

    Parameters
    ----------
    model : Sequential
    x : ndarray
        A batch for the first layer.
    repeat : int

    Returns
    -------
    rows : list of (name, forward seconds, backward seconds)
        ``name`` is the layer's position and class, e.g. ``"0 Conv2d"``.
    """
    rows = []
    for i, layer in enumerate(model):
        t_forward = median_time(lambda: layer.forward(x), repeat=repeat)
        y = layer.forward(x)
        dy = np.ones_like(y)
        t_backward = median_time(lambda: layer.backward(dy), repeat=repeat)
        rows.append((f"{i} {type(layer).__name__}", t_forward, t_backward))
        x = y
    return rows
