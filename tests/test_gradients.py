"""Every layer's backward pass against finite differences (float64)."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.tools.gradcheck import check_layer, numerical_gradient, rel_error

TOL = 1e-7


def assert_close(errors):
    worst = max(errors.values())
    assert worst < TOL, errors


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_conv2d_strides_and_padding(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    layer = cnnlib.Conv2d(2, 3, 3, stride=stride, padding=padding, rng=rng)
    assert_close(check_layer(layer, rng.standard_normal((2, 2, 7, 8)), rng=rng))


@pytest.mark.parametrize("kernel, shape", [((2, 3), (1, 3, 5, 7)), ((1, 1), (3, 2, 4, 3)),
                                           ((4, 1), (1, 1, 6, 2)), ((3, 5), (2, 2, 5, 9))])
def test_conv2d_non_square_and_batches(kernel, shape):
    rng = np.random.default_rng(sum(kernel))
    layer = cnnlib.Conv2d(shape[1], 2, kernel, stride=(1, 2), padding=(1, 0), rng=rng)
    assert_close(check_layer(layer, rng.standard_normal(shape), rng=rng))


@pytest.mark.parametrize("size, stride, ceil_mode, shape", [
    (2, None, False, (2, 2, 6, 6)), (2, None, True, (1, 2, 7, 5)), (3, 2, False, (2, 1, 7, 7)),
    (3, 2, True, (1, 2, 8, 8)), (3, 1, False, (1, 1, 5, 6)), ((2, 3), (1, 2), False, (2, 1, 5, 7))])
@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool(size, stride, ceil_mode, shape, padding):
    rng = np.random.default_rng(4)
    layer = cnnlib.MaxPool2d(size, stride, padding, ceil_mode=ceil_mode)
    assert_close(check_layer(layer, rng.standard_normal(shape), rng=rng))


def test_max_pool_ties_go_to_first_winner():
    x = np.array([[[[1.0, 1.0], [1.0, 0.0]]]])
    layer = cnnlib.MaxPool2d(2)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.array([[[[5.0]]]]))[0, 0], [[5, 0], [0, 0]])
    # overlapping windows: each window picks its own first maximum
    x = np.ones((1, 1, 3, 3))
    layer = cnnlib.MaxPool2d(2, 1)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 2)))[0, 0]
    np.testing.assert_array_equal(dx, [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("size, stride", [(2, None), (3, 2), (3, 1), ((2, 3), (2, 1))])
def test_avg_pool(size, stride):
    rng = np.random.default_rng(5)
    layer = cnnlib.AvgPool2d(size, stride)
    assert_close(check_layer(layer, rng.standard_normal((2, 2, 7, 7)), rng=rng))


@pytest.mark.parametrize("make, shape", [
    (lambda rng: cnnlib.Linear(6, 4, rng=rng), (3, 6)),
    (lambda rng: cnnlib.Linear(6, 4, rng=rng), (1, 6)),
    (lambda rng: cnnlib.ReLU(), (3, 2, 4, 4)),
    (lambda rng: cnnlib.GELU(), (3, 7)),
    (lambda rng: cnnlib.Flatten(), (2, 3, 2, 2)),
    (lambda rng: cnnlib.LogSoftmax(), (4, 5)),
    (lambda rng: cnnlib.Identity(), (2, 3)),
    (lambda rng: cnnlib.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda rng: cnnlib.BatchNorm2d(2).eval(), (2, 2, 3, 3)),
    (lambda rng: cnnlib.ResidualBlock(3, rng=rng), (2, 3, 5, 5)),
    (lambda rng: cnnlib.ResidualBlock(2, 4, rng=rng), (2, 2, 4, 4)),
    (lambda rng: cnnlib.ResidualBlock(2, 3, stride=2, rng=rng), (3, 2, 5, 6)),
    (lambda rng: cnnlib.Bottleneck(8, 2, rng=rng), (2, 8, 4, 4)),
    (lambda rng: cnnlib.Bottleneck(4, 2, stride=2, rng=rng), (2, 4, 5, 5)),
    (lambda rng: cnnlib.Branches(cnnlib.Conv2d(2, 3, 1, rng=rng),
                                 cnnlib.Sequential(cnnlib.Conv2d(2, 2, 3, padding=1, rng=rng),
                                                   cnnlib.ReLU()),
                                 cnnlib.Identity()), (2, 2, 5, 5)),
])
def test_other_layers(make, shape):
    rng = np.random.default_rng(6)
    assert_close(check_layer(make(rng), rng.standard_normal(shape), rng=rng))


def test_sequential_network():
    rng = np.random.default_rng(7)
    model = cnnlib.Sequential(
        cnnlib.Conv2d(1, 3, 3, rng=rng), cnnlib.GELU(), cnnlib.MaxPool2d(2, ceil_mode=True),
        cnnlib.Conv2d(3, 4, 2, rng=rng), cnnlib.GELU(), cnnlib.Flatten(),
        cnnlib.Linear(36, 5, rng=rng), cnnlib.LogSoftmax())
    errors = check_layer(model, rng.standard_normal((2, 1, 9, 9)), rng=rng)
    assert set(errors) == {"input", "0.weight", "0.bias", "3.weight", "3.bias", "6.weight",
                           "6.bias"}
    assert_close(errors)


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(8)
    layer = cnnlib.Dropout(0.5, rng=np.random.default_rng(0))
    x = rng.standard_normal((4, 10))
    y = layer.forward(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2 * x[kept])
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), 2.0 * kept)
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_array_equal(layer.eval().forward(x), x)


@pytest.mark.parametrize("loss, pred, target", [
    (cnnlib.CrossEntropyLoss(), (5, 4), np.array([0, 3, 1, 1, 2])),
    (cnnlib.NLLLoss(), (3, 4), np.array([2, 0, 3])),
    (cnnlib.MSELoss(), (4, 1), None),
])
def test_losses(loss, pred, target):
    rng = np.random.default_rng(9)
    p = rng.standard_normal(pred)
    if isinstance(loss, cnnlib.NLLLoss):
        p = F.log_softmax(p)
    if target is None:
        target = rng.standard_normal(pred)
    loss.forward(p, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(p, target), p)
    assert rel_error(analytic, numeric) < TOL


def test_functional_backward_matches_layer():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 6, 5))
    layer = cnnlib.Conv2d(3, 2, 3, stride=2, padding=1, rng=rng)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    fdx, fdw, fdb = F.conv2d_backward(dy, x, layer.params["weight"], stride=2, padding=1)
    np.testing.assert_allclose(dx, fdx)
    np.testing.assert_allclose(layer.grads["weight"], fdw)
    np.testing.assert_allclose(layer.grads["bias"], fdb)
