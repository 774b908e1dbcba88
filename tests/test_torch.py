"""Optional cross-checks against PyTorch; skipped when torch is not installed."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("stride, padding, kernel", [(1, 0, 3), (2, 1, 3), (3, 2, (2, 4)),
                                                     ((1, 2), (0, 1), 1)])
def test_conv2d(stride, padding, kernel):
    rng = np.random.default_rng(0)
    layer = cnnlib.Conv2d(3, 4, kernel, stride, padding, rng=rng)
    x = rng.standard_normal((2, 3, 9, 8))
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    tx, tw, tb = t(x, True), t(layer.params["weight"], True), t(layer.params["bias"], True)
    ty = tF.conv2d(tx, tw, tb, stride=stride, padding=padding)
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], tw.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], tb.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("size, stride, padding, ceil_mode", [
    (2, None, 0, False), (2, None, 0, True), (3, 2, 0, True), (3, 1, 0, False),
    (3, 2, 1, False), (3, 2, 1, True), (3, 1, 1, False), ((3, 2), (2, 1), (1, 0), True),
    (5, 3, 2, True)])
def test_max_pool_with_ties(size, stride, padding, ceil_mode):
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 3, (2, 2, 11, 11)).astype(np.float64)  # many ties, some below zero
    layer = cnnlib.MaxPool2d(size, stride, padding, ceil_mode=ceil_mode)
    y = layer.forward(x)
    assert y.shape == layer.out_shape(x.shape)
    dy = rng.standard_normal(y.shape)
    tx = t(x, True)
    ty = tF.max_pool2d(tx, size, stride, padding, ceil_mode=ceil_mode)
    ty.backward(t(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), atol=1e-12)


def test_batchnorm_training_and_eval():
    rng = np.random.default_rng(2)
    ours = cnnlib.BatchNorm2d(3)
    theirs = torch.nn.BatchNorm2d(3).double()
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
        np.testing.assert_allclose(ours.forward(x), theirs(t(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy())
    np.testing.assert_allclose(ours.buffers["running_mean"], theirs.running_mean.numpy())
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours.forward(x), theirs(t(x)).detach().numpy(), atol=1e-12)


def test_activations_and_losses():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 4)) * 3
    y = rng.integers(0, 4, 5)
    np.testing.assert_allclose(F.gelu(z), tF.gelu(t(z), approximate="tanh").numpy(), atol=1e-12)
    np.testing.assert_allclose(F.log_softmax(z), tF.log_softmax(t(z), dim=-1).numpy())
    assert cnnlib.CrossEntropyLoss().forward(z, y) == pytest.approx(
        tF.cross_entropy(t(z), t(y)).item())
    np.testing.assert_allclose(F.avg_pool2d(z[None, None], 2, 1),
                               tF.avg_pool2d(t(z[None, None]), 2, 1).numpy())
