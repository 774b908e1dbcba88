"""Convolution in chunks of output rows: the same results as one chunk (up to rounding), in bounded memory."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.reference import conv2d_backward_naive, conv2d_naive
from cnnlib.nn import conv
from cnnlib.nn.unroll import conv_geometry
from cnnlib.tools.timing import conv_chunk_sweep, peak_memory

WHOLE = 2 ** 62  # a budget that fits any input: one chunk


def budget_for(geo, itemsize, rows, matrices=False):
    """A chunk budget that gives ``rows`` output rows per chunk (the last chunk may be shorter)."""
    for budget in range(1, 2 ** 26, 64):
        first = geo.chunks(itemsize, budget, matrices=matrices)[0]
        if first[1] - first[0] == rows:
            return budget
    raise AssertionError(f"no budget gives {rows} rows per chunk")


def close64(got, expected):
    """Equal up to the rounding of sums taken in another order."""
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((3, 4, 11, 9), (5, 4, 3, 3), 1, 1, 1, 1),
    ((2, 4, 12, 10), (6, 2, 3, 2), 2, (2, 1), 1, 2),
    ((2, 6, 13, 9), (6, 1, 3, 3), 1, 2, 2, 6),          # depthwise, dilated
    ((2, 3, 13, 11), (4, 3, 2, 3), (3, 2), 0, (2, 1), 1),
    ((1, 16, 9, 8), (8, 16, 3, 3), 1, 3, (1, 2), 1),    # padding beyond the kernel's reach
    ((2, 9, 8, 8), (3, 3, 1, 1), 2, 1, 1, 3),
]


def run(x, w, b, dy, chunk_bytes, **kw):
    y = F.conv2d(x, w, b, chunk_bytes=chunk_bytes, **kw)
    return (y, *F.conv2d_backward(dy, x, w, chunk_bytes=chunk_bytes, **kw))


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_chunked_equals_unchunked_in_float64(x_shape, w_shape, stride, padding, dilation,
                                            groups):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    geo = conv_geometry("test", x.shape, w.shape, stride, padding, dilation, groups)
    dy = rng.standard_normal((x_shape[0], w_shape[0], geo.ho, geo.wo))
    whole = run(x, w, b, dy, WHOLE, **kw)
    assert len(geo.chunks(8, WHOLE)) == 1
    # one row per chunk, and 3 rows, which does not divide the output height
    assert geo.ho % 3 != 0
    for budget in (1, budget_for(geo, 8, 3), budget_for(geo, 8, 3, matrices=True)):
        assert len(geo.chunks(8, budget, matrices=True)) > 1
        for got, expected in zip(run(x, w, b, dy, budget, **kw), whole):
            close64(got, expected)
    # and the whole-layer results are the reference loops' (not the library checked against itself)
    np.testing.assert_allclose(whole[0], conv2d_naive(x, w, b, **kw), rtol=0, atol=1e-10)
    for got, expected in zip(whole[1:], conv2d_backward_naive(dy, x, w, **kw)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES[:3])
def test_chunked_matches_unchunked_in_float32(x_shape, w_shape, stride, padding, dilation,
                                              groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    dy = np.ones_like(F.conv2d(x, w, **kw))
    for got, expected in zip(run(x, w, None, dy, 1, **kw), run(x, w, None, dy, WHOLE, **kw)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # and both agree with the float64 computation to float32 precision
    exact = F.conv2d(x.astype(np.float64), w.astype(np.float64), **kw)
    np.testing.assert_allclose(run(x, w, None, dy, 1, **kw)[0], exact, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride, padding, output_padding", [(2, 1, 1), (1, 0, 0), (3, 2, 2)])
def test_transposed_chunked_equals_unchunked(stride, padding, output_padding):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 7, 5)), rng.standard_normal((4, 9, 3, 3))
    kw = dict(stride=stride, padding=padding, output_padding=output_padding)
    whole = F.conv_transpose2d(x, w, chunk_bytes=WHOLE, **kw)
    dy = rng.standard_normal(whole.shape)
    grads = F.conv_transpose2d_backward(dy, x, w, chunk_bytes=WHOLE, **kw)
    close64(F.conv_transpose2d(x, w, chunk_bytes=1, **kw), whole)
    for got, expected in zip(F.conv_transpose2d_backward(dy, x, w, chunk_bytes=1, **kw), grads):
        close64(got, expected)


def test_layer_uses_the_module_budget(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 10, 10))
    results = []
    monkeypatch.setattr(conv, "BUDGET_PER_LAYER_BYTES", WHOLE)
    for budget in (WHOLE, 1):
        monkeypatch.setattr(conv, "CHUNK_BYTES", budget)
        layer = cnnlib.Conv2d(8, 8, 3, padding=1, dilation=(1, 2), rng=np.random.default_rng(0))
        y = layer.forward(x)
        # the unrolled input is kept for backward only when it fitted in one chunk
        assert (layer._saved.rows is not None) == (budget == WHOLE)
        dx = layer.backward(np.cos(y))
        results.append((np.array(y), dx, layer.grads["weight"], layer.grads["bias"]))
    for got, expected in zip(*results):
        close64(got, expected)


def test_small_layers_get_a_budget_in_proportion():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 9, 9))
    layer = cnnlib.Conv2d(16, 4, 3, rng=rng)
    arrays = x.nbytes + 2 * 4 * 7 * 7 * 8
    geo = conv_geometry("test", x.shape, (4, 16, 3, 3), 1, 0, 1, 1)
    assert conv._budget(None, geo, 8) == conv.BUDGET_PER_LAYER_BYTES * arrays < conv.CHUNK_BYTES
    assert conv._budget(123, geo, 8) == 123
    big = conv_geometry("test", (64, 64, 64, 64), (64, 64, 3, 3), 1, 1, 1, 1)
    assert conv._budget(None, big, 4) == conv.CHUNK_BYTES
    layer.forward(x)
    assert layer._saved.rows is not None  # one chunk: the unrolled rows are kept


def test_chunking_bounds_the_memory():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    dy = np.ones((8, 16, 32, 32), np.float32)
    in_out = x.nbytes + dy.nbytes

    def step(budget):
        _, saved = conv.conv2d_forward(x, w, padding=1, chunk_bytes=budget)
        conv.conv2d_backward_from_saved(dy, saved, w, chunk_bytes=budget)

    small = peak_memory(lambda: step(64 * 2 ** 10))
    whole = peak_memory(lambda: step(WHOLE))
    cols = 9 * x.nbytes  # what the whole im2col matrix alone would take
    assert small < 4 * in_out < cols
    assert small < whole


def test_chunk_sweep_reports_rows_time_and_memory():
    runs = conv_chunk_sweep((4, 8, 12, 12), 8, 3, [2 ** 12, 2 ** 16, WHOLE], padding=1,
                            repeat=1)
    assert [run.rows_per_chunk for run in runs] == sorted(run.rows_per_chunk for run in runs)
    assert runs[-1].rows_per_chunk == 12 and runs[0].rows_per_chunk < 12
    # every run holds at least its output and its input gradient (float32)
    assert all(run.seconds > 0 and run.peak_bytes >= 2 * 4 * 8 * 12 * 12 * 4 for run in runs)
    assert runs[0].peak_bytes < runs[-1].peak_bytes
