"""Forward results of the functional ops: worked examples, naive agreement, output sizes."""

import numpy as np
import pytest

from cnnlib import functional as F
from cnnlib.book.reference import conv2d_naive, get_patch, max_pool2d_naive

SEED_INPUT = np.array([[1, 0, 2, 1, 0],
                       [0, 1, 0, 1, 1],
                       [1, 0, 1, 0, 0],
                       [0, 0, 1, 1, 0],
                       [1, 1, 0, 0, 1]])
CROSS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
POOL_INPUT = np.array([[1, 3, 2, 4], [0, 2, 1, 3], [5, 6, 7, 8], [4, 2, 6, 5]])


def test_seed_convolution_example():
    expected = [[6, 1, 4], [1, 4, 2], [3, 2, 3]]
    np.testing.assert_array_equal(F.conv2d(SEED_INPUT[None, None], CROSS[None, None])[0, 0],
                                  expected)
    np.testing.assert_array_equal(conv2d_naive(SEED_INPUT[None, None], CROSS[None, None])[0, 0],
                                  expected)


def test_letter_t_with_all_ones_kernel():
    t = np.zeros((8, 8), dtype=int)
    t[1, 1:6] = 1
    t[2:7, 3] = 1
    out = F.conv2d(t[None, None], np.ones((1, 1, 3, 3), dtype=int))[0, 0]
    assert out.shape == (6, 6)
    np.testing.assert_array_equal(out[0], [2, 4, 4, 4, 2, 1])


def test_seed_max_pool_example():
    np.testing.assert_array_equal(F.max_pool2d(POOL_INPUT[None, None])[0, 0], [[3, 4], [6, 8]])
    np.testing.assert_array_equal(max_pool2d_naive(POOL_INPUT[None, None])[0, 0],
                                  [[3, 4], [6, 8]])
    np.testing.assert_allclose(F.avg_pool2d(POOL_INPUT[None, None] * 1.0)[0, 0],
                               [[1.5, 2.5], [4.25, 6.5]])


def test_get_patch():
    np.testing.assert_array_equal(get_patch(SEED_INPUT, 1, 2, 3),
                                  [[0, 1, 1], [1, 0, 0], [1, 1, 0]])


@pytest.mark.parametrize("n, k, s, p, expected", [
    (5, 3, 1, 0, 3), (224, 3, 1, 1, 224), (224, 2, 2, 0, 112), (28, 3, 1, 0, 26),
    (26, 2, 2, 0, 13), (13, 3, 1, 0, 11), (11, 2, 2, 0, 5), (7, 3, 2, 1, 4), (8, 3, 3, 2, 4)])
def test_output_size(n, k, s, p, expected):
    assert F.output_size(n, k, stride=s, padding=p) == expected


def test_output_size_ceil_mode():
    assert F.output_size(11, 2, stride=2, ceil_mode=True) == 6
    assert F.output_size(12, 2, stride=2, ceil_mode=True) == 6
    # the last window would start past the input, so it is dropped (PyTorch's rule)
    assert F.output_size(5, 1, stride=2, ceil_mode=True) == 3


@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2)])
@pytest.mark.parametrize("padding", [0, 1, 2, (2, 0)])
@pytest.mark.parametrize("kernel", [(1, 1), (3, 3), (2, 3), (5, 1)])
def test_naive_and_vectorised_agree(stride, padding, kernel):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 9))
    w = rng.standard_normal((4, 3, *kernel))
    b = rng.standard_normal(4)
    fast = F.conv2d(x, w, b, stride=stride, padding=padding)
    slow = conv2d_naive(x, w, b, stride=stride, padding=padding)
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_cross_correlation_not_flipped():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.arange(4.0).reshape(1, 1, 2, 2)
    assert F.conv2d(x, w)[0, 0, 0, 0] == 0 * 0 + 1 * 1 + 3 * 2 + 4 * 3


def test_max_pool_overlapping_and_ceil():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 11, 11))
    y = F.max_pool2d(x, 3, 2)
    assert y.shape == (2, 3, 5, 5)
    assert y[1, 2, 1, 1] == x[1, 2, 2:5, 2:5].max()
    yc = F.max_pool2d(x, 2, ceil_mode=True)
    assert yc.shape == (2, 3, 6, 6)
    assert yc[0, 0, 5, 5] == x[0, 0, 10, 10]
    np.testing.assert_array_equal(yc[..., :5, :5], F.max_pool2d(x, 2))


def test_activations():
    z = np.array([[-1000.0, 0.0, 1000.0]])
    assert np.all(np.isfinite(F.log_softmax(z)))
    np.testing.assert_allclose(F.softmax(z).sum(), 1.0)
    np.testing.assert_allclose(F.log_softmax(z), [[-2000.0, -1000.0, 0.0]])
    small = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(F.log_softmax(small), np.log(F.softmax(small)))
    np.testing.assert_array_equal(F.relu(np.array([-2.0, 0.0, 3.0])), [0, 0, 3])
    # tanh-form GELU at a few points (values from the formula in the docstring)
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    ref = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(F.gelu(x), ref)
    assert abs(F.gelu(np.array([1.0]))[0] - 0.841192) < 1e-6


def test_float32_preserved():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert F.conv2d(x, w).dtype == np.float32
    assert F.max_pool2d(x).dtype == np.float32
    assert F.gelu(x).dtype == np.float32
    dx, dw, db = F.conv2d_backward(np.ones((2, 4, 4, 4), np.float32), x, w)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
