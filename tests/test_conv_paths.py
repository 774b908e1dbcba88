"""Each path of the convolution engine against the loops: depthwise (rows and direct), patch
matrix, kernel rows, correlation and scattered input gradients, at chunk boundaries."""

import numpy as np
import pytest

from cnnlib import functional as F
from cnnlib.book.reference import conv2d_backward_naive, conv2d_naive
from cnnlib.nn.conv_engine import paths
from cnnlib.nn.unroll import (conv_geometry, fold_rows, kernel_row, unrolled_buffer,
                              unroll_rows)

WHOLE = 2 ** 62

# x shape, w shape, stride, padding, dilation, groups, (forward path, input-gradient path)
CASES = [
    ((2, 3, 9, 8), (5, 3, 3, 3), 1, 1, 1, 1, ("patch matrix", "scatter")),
    ((2, 3, 12, 11), (4, 3, 7, 7), 2, 3, 1, 1, ("patch matrix", "scatter")),
    ((2, 16, 7, 9), (6, 16, 3, 3), 1, 0, 1, 1, ("kernel rows", "correlation")),
    ((2, 16, 8, 7), (6, 16, 3, 2), 2, 1, (1, 2), 1, ("kernel rows", "scatter")),
    ((2, 32, 7, 6), (8, 16, 3, 3), 1, 3, 1, 2, ("kernel rows", "correlation")),
    ((2, 16, 9, 8), (4, 16, 3, 3), (2, 1), (1, 2), (2, 1), 1, ("kernel rows", "scatter")),
    ((2, 20, 7, 6), (5, 20, 1, 1), 2, 0, 1, 1, ("kernel rows", "scatter")),
    ((1, 8, 9, 7), (8, 4, 5, 5), 1, 2, 1, 2, ("patch matrix", "scatter")),
    ((2, 6, 9, 9), (6, 1, 3, 3), 2, 1, 2, 6, ("depthwise", "depthwise")),
    ((2, 4, 8, 7), (4, 1, 5, 5), 1, 2, 1, 4, ("depthwise rows", "correlation")),
    ((3, 5, 6, 6), (5, 1, 3, 1), (1, 2), (0, 1), (1, 2), 5, ("depthwise rows", "depthwise")),
    ((2, 3, 7, 9), (3, 1, 3, 3), 1, 0, (2, 1), 3, ("depthwise", "depthwise")),
]
IDS = [f"{c[6][0]}-{c[6][1]}-{i}" for i, c in enumerate(CASES)]


def setup(case, dtype=np.float64, seed=0):
    x_shape, w_shape, stride, padding, dilation, groups, _ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    geo = conv_geometry("test", x_shape, w_shape, stride, padding, dilation, groups)
    dy = rng.standard_normal((x_shape[0], w_shape[0], geo.ho, geo.wo)).astype(dtype)
    return x, w, b, dy, kw, geo


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_case_takes_its_path(case):
    geo = setup(case)[-1]
    assert paths(geo) == case[6]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_path_matches_the_loops_at_every_chunk_size(case):
    x, w, b, dy, kw, geo = setup(case)
    y_ref = conv2d_naive(x, w, b, **kw)
    grads_ref = conv2d_backward_naive(dy, x, w, **kw)
    # one output row per chunk, two rows (a boundary inside the map), one chunk
    two_rows = next(budget for budget in range(64, 2 ** 24, 64)
                    if geo.chunks(8, budget, matrices=True)[0][1] == 2)
    for budget in (1, two_rows, WHOLE):
        y = F.conv2d(x, w, b, chunk_bytes=budget, **kw)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
        for got, expected in zip(F.conv2d_backward(dy, x, w, chunk_bytes=budget, **kw),
                                 grads_ref):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_path_keeps_float32_to_float32_precision(case):
    x, w, b, dy, kw, _ = setup(case, np.float32, seed=1)
    exact = [F.conv2d(*(a.astype(np.float64) for a in (x, w, b)), **kw),
             *F.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                w.astype(np.float64), **kw)]
    for budget in (1, WHOLE):
        got = [F.conv2d(x, w, b, chunk_bytes=budget, **kw),
               *F.conv2d_backward(dy, x, w, chunk_bytes=budget, **kw)]
        for a, e in zip(got, exact):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


@pytest.mark.parametrize("case", CASES[:8], ids=IDS[:8])
def test_kernel_rows_are_views_of_the_patches(case):
    x, w, _, _, kw, geo = setup(case)
    rows = unrolled_buffer(geo, geo.ho, x.dtype)
    unroll_rows(np.ascontiguousarray(x.transpose(1, 2, 3, 0)), geo, 0, rows)
    cols, _ = F.im2col(x[:, :geo.c // geo.groups], w.shape[2:], stride=kw["stride"],
                       padding=kw["padding"], dilation=kw["dilation"])
    # im2col's columns are (c, di, dj); its rows (i, j, n)
    cols = cols.reshape(geo.ho, geo.wo, geo.n, -1, geo.kh, geo.kw)
    for di in range(geo.kh):
        block = kernel_row(rows, geo, di, geo.ho)
        assert np.shares_memory(block, rows)
        expected = cols[..., di, :].transpose(3, 4, 0, 1, 2).reshape(block.shape[1:])
        np.testing.assert_array_equal(block[0], expected)


@pytest.mark.parametrize("case", CASES[:8], ids=IDS[:8])
def test_fold_is_the_adjoint_of_unroll(case):
    x, _, _, _, _, geo = setup(case)
    rng = np.random.default_rng(2)
    xb = np.ascontiguousarray(x.transpose(1, 2, 3, 0))
    for i0, i1 in geo.chunks(8, 1)[:3]:
        rows = unrolled_buffer(geo, i1 - i0, x.dtype)
        unroll_rows(xb, geo, i0, rows)
        u = rng.standard_normal(rows.shape)
        folded = np.zeros_like(xb)
        fold_rows(u, geo, i0, folded)
        assert np.vdot(rows, u) == pytest.approx(np.vdot(xb, folded), rel=1e-12)
