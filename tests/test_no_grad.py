"""Inference without caches: no_grad, and predict running under it."""

import threading

import numpy as np
import pytest

import cnnlib
from cnnlib.models import letters_cnn
from cnnlib.train import evaluate, predict


def test_conv_keeps_nothing_under_no_grad_and_refuses_backward():
    rng = np.random.default_rng(0)
    for layer in (cnnlib.Conv2d(3, 4, 3, padding=1, rng=rng),
                  cnnlib.ConvTranspose2d(3, 4, 3, stride=2, rng=rng)):
        x = rng.standard_normal((2, 3, 5, 5))
        y = layer.forward(x)
        with cnnlib.no_grad():
            y_inference = layer.forward(x)
        assert layer._saved is None
        np.testing.assert_array_equal(y_inference, y)
        with pytest.raises(RuntimeError, match=rf"{layer.name}.backward: the latest forward ran "
                                               r"under cnnlib.no_grad\(\)"):
            layer.backward(np.ones_like(y))
        layer.forward(x)  # an ordinary forward pass makes backward possible again
        assert layer.backward(np.ones_like(y)).shape == x.shape


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_keeps_nothing_under_no_grad_and_gives_the_same_bits(training):
    rng = np.random.default_rng(2)
    layer = cnnlib.BatchNorm2d(3, dtype=np.float32)
    layer.params["weight"][:] = rng.standard_normal(3)
    layer.params["bias"][:] = rng.standard_normal(3)
    layer.buffers["running_mean"][:] = rng.standard_normal(3)
    layer.buffers["running_var"][:] = rng.random(3) + 0.5
    layer.train(training)
    x = cnnlib.nn.windows.batch_innermost(rng.standard_normal((4, 3, 5, 5), dtype=np.float32))
    state = {k: v.copy() for k, v in layer.buffers.items()}
    y = layer.forward(x)
    for k, v in state.items():  # the same running statistics for the no_grad pass
        layer.buffers[k][:] = v
    layer.num_batches_tracked -= int(training)
    with cnnlib.no_grad():
        y_inference = layer.forward(x)
    assert layer._cache is None
    assert y_inference.dtype == y.dtype and y_inference.strides == y.strides
    np.testing.assert_array_equal(y_inference, y)
    with pytest.raises(RuntimeError, match=r"BatchNorm2d.backward: the latest forward ran "
                                           r"under cnnlib.no_grad\(\)"):
        layer.backward(np.ones_like(y))


def test_relu_keeps_no_mask_under_no_grad():
    layer, x = cnnlib.ReLU(), np.array([[-1.0, 2.0]])
    y = layer.forward(x)
    with cnnlib.no_grad():
        np.testing.assert_array_equal(layer.forward(x), y)
    assert layer._mask is None
    with pytest.raises(RuntimeError, match=r"ReLU.backward: the latest forward ran under"):
        layer.backward(np.ones_like(y))


def test_no_grad_is_restored_and_belongs_to_its_thread():
    seen = []
    with cnnlib.no_grad():
        worker = threading.Thread(target=lambda: seen.append(cnnlib.nn.module.is_grad_enabled()))
        worker.start()
        worker.join()
        assert not cnnlib.nn.module.is_grad_enabled()
    assert seen == [True] and cnnlib.nn.module.is_grad_enabled()
    with pytest.raises(ValueError), cnnlib.no_grad():
        raise ValueError
    assert cnnlib.nn.module.is_grad_enabled()


def test_predict_and_evaluate_run_without_caches():
    rng = np.random.default_rng(1)
    model = letters_cnn(rng=rng, dtype=np.float32)
    x = rng.random((10, 1, 28, 28), dtype=np.float32)
    expected = model.eval().forward(x)
    model.train()
    got = predict(model, x, batch_size=4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert model.training and model[0]._saved is None
    assert 0.0 <= evaluate(model, x, rng.integers(0, 26, 10)) <= 1.0
