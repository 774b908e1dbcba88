"""Timing and memory tools for the speed chapter and the benchmarks: medians, peaks, profiles."""

import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from cnnlib.nn import conv
from cnnlib.nn.unroll import conv_geometry


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


def paired_medians(fns, repeat, *, rounds=5):
    """Median seconds of each function of ``fns``, timed in alternating blocks.

    The functions take turns in ``rounds`` blocks of ``repeat // rounds``
    calls, each block after one untimed call, so that a change in the
    machine's load hits them all alike. Blocks rather than single calls,
    because after a call a library's idle threads keep spinning for a moment
    and would slow down whichever library runs next.

    Parameters
    ----------
    fns : list of callables with no arguments
    repeat : int
        Timed calls of each function in all.
    rounds : int

    Returns
    -------
    list of float, one median per function
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


def peak_memory(fn):
    """Largest amount of memory that ``fn()`` holds at once beyond what existed before it.

    Measured with :mod:`tracemalloc`, which sees every NumPy array (and
    Python object) but not memory that other libraries, or the BLAS,
    allocate on their own.

    Returns
    -------
    int
        Bytes.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


@dataclass
class ChunkRun:
    """One measurement of :func:`conv_chunk_sweep`."""

    chunk_bytes: int
    rows_per_chunk: int
    seconds: float
    peak_bytes: int


def conv_chunk_sweep(x_shape, out_channels, kernel_size, chunk_sizes, *, stride=1, padding=0,
                     dtype=np.float32, repeat=3, rng=None):
    """Time and peak memory of one convolution's forward and backward pass against the chunk size.

    For each budget in ``chunk_sizes`` it runs :func:`cnnlib.nn.conv.conv2d_forward`
    and :func:`~cnnlib.nn.conv.conv2d_backward_from_saved` (input, kernel and
    bias gradients) on a random batch: the median time of ``repeat`` runs
    and the peak of the memory they allocate (:func:`peak_memory`), which
    includes the output and the gradients.

    Parameters
    ----------
    x_shape : (N, C, H, W)
    out_channels : int
    kernel_size, stride, padding : int
    chunk_sizes : iterable of int
        Budgets in bytes; a huge one (e.g. ``2**62``) is the unchunked run.
    dtype : numpy float dtype
    repeat : int
    rng : numpy.random.Generator, optional

    Returns
    -------
    list of ChunkRun
        ``chunk_bytes``, ``rows_per_chunk`` (output rows per chunk in the
        forward pass), ``seconds`` and ``peak_bytes``, one per budget.

    Examples
    --------
    >>> runs = conv_chunk_sweep((2, 3, 8, 8), 4, 3, [2 ** 10, 2 ** 62], repeat=1)
    >>> [run.rows_per_chunk for run in runs]
    [1, 6]
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((out_channels, x_shape[1], kernel_size, kernel_size)).astype(dtype)
    b = np.zeros(out_channels, dtype)
    y = conv.conv2d(x, w, b, stride=stride, padding=padding)
    dy = np.ones_like(y)
    geo = conv_geometry("conv_chunk_sweep", x.shape, w.shape, stride, padding, 1, 1)
    runs = []
    for budget in chunk_sizes:
        def step():
            _, saved = conv.conv2d_forward(x, w, b, stride=stride, padding=padding,
                                           chunk_bytes=budget)
            conv.conv2d_backward_from_saved(dy, saved, w, chunk_bytes=budget)

        rows = geo.chunks(x.itemsize, budget)[0]
        runs.append(ChunkRun(budget, rows[1] - rows[0], median_time(step, repeat=repeat),
                             peak_memory(step)))
    return runs
