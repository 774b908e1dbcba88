"""Optimisers follow PyTorch's update rules exactly."""

import numpy as np
import pytest

import cnnlib


def one_param_model(value, grad):
    model = cnnlib.Sequential(cnnlib.Linear(1, 1, rng=np.random.default_rng(0)))
    model.params["0.weight"][...] = value
    model.params["0.bias"][...] = 0.0
    model[0]._grads["weight"] = np.array([[grad]])
    model[0]._grads["bias"] = np.array([0.0])
    return model


def test_sgd_momentum_and_weight_decay_by_hand():
    model = one_param_model(1.0, 0.5)
    opt = cnnlib.SGD(model, lr=0.1, momentum=0.9, weight_decay=0.01)
    opt.step()
    # g = 0.5 + 0.01 * 1.0 = 0.51; buf = g; p = 1 - 0.1 * 0.51
    assert model.params["0.weight"][0, 0] == pytest.approx(0.949)
    opt.step()
    # g = 0.5 + 0.01 * 0.949 = 0.50949; buf = 0.9 * 0.51 + 0.50949 = 0.96849
    assert model.params["0.weight"][0, 0] == pytest.approx(0.949 - 0.096849)


def test_adam_by_hand():
    model = one_param_model(1.0, 0.5)
    opt = cnnlib.Adam(model, lr=0.1)
    opt.step()
    # first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps)
    assert model.params["0.weight"][0, 0] == pytest.approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8))
    model[0]._grads["weight"] = np.array([[-0.25]])
    opt.step()
    m = 0.9 * 0.05 + 0.1 * -0.25
    v = 0.999 * 0.00025 + 0.001 * 0.0625
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    expected = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8) - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert model.params["0.weight"][0, 0] == pytest.approx(expected, rel=1e-12)


def test_updates_are_in_place_and_keep_float32():
    rng = np.random.default_rng(1)
    model = cnnlib.Sequential(cnnlib.Linear(3, 2, rng=rng, dtype=np.float32))
    weight = model.params["0.weight"]
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for opt in (cnnlib.SGD(model, 0.1, momentum=0.9), cnnlib.Adam(model, 0.01)):
        model.backward(np.ones((4, 2), np.float32) + 0 * model.forward(x))
        opt.step()
        assert model.params["0.weight"] is weight
        assert weight.dtype == np.float32


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    for make_ours, make_theirs in [
        (lambda m: cnnlib.SGD(m, 0.05, momentum=0.9, weight_decay=1e-3),
         lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, weight_decay=1e-3)),
        (lambda m: cnnlib.Adam(m, 0.01, weight_decay=1e-3),
         lambda p: torch.optim.Adam(p, 0.01, weight_decay=1e-3))]:
        model = cnnlib.Sequential(cnnlib.Linear(4, 3, rng=rng))
        tw = torch.tensor(model.params["0.weight"].copy(), requires_grad=True)
        tb = torch.tensor(model.params["0.bias"].copy(), requires_grad=True)
        ours, theirs = make_ours(model), make_theirs([tw, tb])
        for _ in range(5):
            x = rng.standard_normal((6, 4))
            dy = rng.standard_normal((6, 3))
            model.forward(x)
            model.backward(dy)
            ours.step()
            theirs.zero_grad()
            (torch.tensor(x) @ tw.T + tb).backward(torch.tensor(dy))
            theirs.step()
        np.testing.assert_allclose(model.params["0.weight"], tw.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(model.params["0.bias"], tb.detach().numpy(), rtol=1e-10)
