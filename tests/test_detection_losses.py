"""Sigmoid focal loss and smooth L1: finite differences, and PyTorch's forward and autograd."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.tools.gradcheck import numerical_gradient, rel_error

torch = pytest.importorskip("torch")


def torch_focal(inputs, targets, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, line for line (torchvision does not import here)."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                                   reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def data(seed, shape=(3, 4, 5)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    t = (rng.random(shape) < 0.3).astype(np.float64)
    return rng, x, t


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.5, 0.0), (-1, 2.0), (0.9, 1.5),
                                          (0.25, 1.0), (0.25, 3.0)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_focal_against_torch(alpha, gamma, reduction):
    rng, x, t = data(int(gamma * 10) + 1)
    t[0, 0] = 0.3  # a soft target
    y = F.sigmoid_focal_loss(x, t, alpha, gamma, reduction)
    dy = rng.standard_normal(y.shape)
    dx = F.sigmoid_focal_loss_backward(dy, x, t, alpha, gamma, reduction)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_focal(tx, torch.tensor(t), alpha, gamma, reduction)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.5, 0.5), (-1, 0.0)])
def test_focal_finite_differences(alpha, gamma):
    rng, x, t = data(7, (2, 6))
    dy = rng.standard_normal(x.shape)
    dx = F.sigmoid_focal_loss_backward(dy, x, t, alpha, gamma)
    numeric = numerical_gradient(lambda: np.sum(F.sigmoid_focal_loss(x, t, alpha, gamma) * dy),
                                 x)
    assert rel_error(dx, numeric) < 1e-8


def test_focal_saturated_logits_stay_finite():
    x = np.array([-800.0, 800.0, 40.0, -40.0])
    t = np.array([0.0, 1.0, 0.0, 1.0])
    for gamma in (0.5, 2.0):
        loss = F.sigmoid_focal_loss(x, t, 0.25, gamma)
        grad = F.sigmoid_focal_loss_backward(np.ones(4), x, t, 0.25, gamma)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        assert loss[0] == 0 and loss[1] == 0 and grad[0] == 0 and grad[1] == 0
    assert F.sigmoid_focal_loss(x, t, 0.25, 0.0)[2] == pytest.approx(0.75 * 40, rel=1e-12)


def test_focal_loss_object():
    rng, x, t = data(8, (4, 3))
    loss = cnnlib.SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="sum")
    value = loss.forward(x, t)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_focal(tx, torch.tensor(t), 0.25, 2.0, "sum")
    ty.backward()
    assert value == pytest.approx(ty.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), tx.grad.numpy(), rtol=1e-10, atol=1e-15)
    mean = cnnlib.SigmoidFocalLoss()
    assert mean.forward(x, t) == pytest.approx(value / x.size, rel=1e-12)
    np.testing.assert_allclose(mean.backward(), tx.grad.numpy() / x.size, rtol=1e-10)
    x32 = x.astype(np.float32)
    assert F.sigmoid_focal_loss(x32, t, reduction="none").dtype == np.float32
    assert F.sigmoid_focal_loss_backward(np.ones_like(x32), x32, t).dtype == np.float32


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_smooth_l1_against_torch(beta, reduction):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 5)) * 2
    t = rng.standard_normal((4, 5))
    x[0, :3] = t[0, :3] + np.array([beta, -beta, 0.0])  # the zone's edges and z = 0
    y = F.smooth_l1_loss(x, t, reduction, beta)
    dy = rng.standard_normal(y.shape)
    dx = F.smooth_l1_loss_backward(dy, x, t, reduction, beta)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.smooth_l1_loss(tx, torch.tensor(t), reduction=reduction, beta=beta)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-13, atol=0)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-13, atol=0)


def test_smooth_l1_finite_differences_and_object():
    rng = np.random.default_rng(10)
    x, t = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    loss = cnnlib.SmoothL1Loss(beta=0.7)
    loss.forward(x, t)
    numeric = numerical_gradient(lambda: loss.forward(x, t), x)
    assert rel_error(loss.backward(), numeric) < 1e-8
    total = cnnlib.SmoothL1Loss(reduction="sum", beta=0.7)
    assert total.forward(x, t) == pytest.approx(loss.forward(x, t) * x.size, rel=1e-13)
    assert F.smooth_l1_loss(np.zeros((0, 4)), np.zeros((0, 4))) == 0


def test_loss_keeps_its_own_copy():
    x, t = np.array([1.0, -2.0]), np.array([0.0, 0.0])
    loss = cnnlib.SmoothL1Loss()
    loss.forward(x, t)
    x[:] = 0
    np.testing.assert_array_equal(loss.backward(), [0.5, -0.5])


@pytest.mark.parametrize("call, match", [
    (lambda: F.sigmoid_focal_loss(np.zeros(3), np.zeros(4)), "sigmoid_focal_loss: inputs has"),
    (lambda: F.sigmoid_focal_loss(np.zeros(3), np.full(3, 2.0)), "targets must lie in"),
    (lambda: F.sigmoid_focal_loss([np.nan], [0.0]), "inputs contains 1 NaN"),
    (lambda: F.sigmoid_focal_loss([0.0], [0.0], gamma=-1), "sigmoid_focal_loss: gamma"),
    (lambda: F.sigmoid_focal_loss([0.0], [0.0], alpha=2), "sigmoid_focal_loss: alpha"),
    (lambda: F.sigmoid_focal_loss([0.0], [0.0], reduction="avg"), "reduction must be one of"),
    (lambda: F.sigmoid_focal_loss_backward(np.ones(2), [0.0], [0.0]), "gradient has shape"),
    (lambda: F.smooth_l1_loss_backward(np.ones(2), [0.0, 1.0], [0.0, 1.0]), "one number"),
    (lambda: F.smooth_l1_loss([0.0], [0.0], beta=-1), "smooth_l1_loss: beta"),
    (lambda: cnnlib.SmoothL1Loss(reduction="none"), "SmoothL1Loss: reduction"),
    (lambda: cnnlib.SigmoidFocalLoss().backward(), "SigmoidFocalLoss.backward called before"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call()
