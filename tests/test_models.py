"""Tests for the model zoo's course networks: T/L, LeNet-5, plain and residual nets, letters."""

import numpy as np
import pytest

import cnnlib
from cnnlib import models
from cnnlib.book.experiments import conv_grad_norms
from cnnlib.models import lenet5, plain_net, small_resnet


def test_lenet5_shapes_and_parameter_count():
    model = lenet5(rng=np.random.default_rng(0), dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 1, 32, 32))
    assert model.forward(x).shape == (2, 10)
    assert model.num_params() == 61_706
    s = cnnlib.summary(model, (1, 32, 32), print_table=False)
    assert s.total_params == 61_706
    assert [r.out_shape for r in s.rows][:6] == [
        (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14),
        (1, 16, 10, 10), (1, 16, 10, 10), (1, 16, 5, 5)]


@pytest.mark.parametrize("build", [plain_net, small_resnet])
def test_deep_nets_shapes_and_conv_count(build):
    model = build(8, 4, rng=np.random.default_rng(0), size=6, n_classes=3)
    x = np.random.default_rng(1).standard_normal((5, 1, 6, 6))
    assert model.forward(x).shape == (5, 3)
    names, _ = conv_grad_norms(model)
    assert len(names) == 7          # depth 8 = 7 convolutions + 1 Linear


def test_plain_and_resnet_start_from_the_same_weights():
    plain = plain_net(10, 4, rng=np.random.default_rng(3))
    res = small_resnet(10, 4, rng=np.random.default_rng(3))
    p, r = list(plain.params.values()), list(res.params.values())
    assert len(p) == len(r)
    assert all(np.array_equal(a, b) for a, b in zip(p, r))
    assert plain.num_params() == res.num_params()


def test_identity_shortcut_is_the_only_difference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 8, 8))
    plain = plain_net(4, 3, rng=np.random.default_rng(5))
    res = small_resnet(4, 3, rng=np.random.default_rng(5))
    block = res[3]
    stem_out = res[2].forward(res[1].forward(res[0].forward(x)))
    body = block.body.forward(stem_out)
    np.testing.assert_allclose(block.forward(stem_out), np.maximum(body + stem_out, 0))
    plain_mid = plain[2].forward(plain[1].forward(plain[0].forward(x)))
    for layer in list(plain)[3:8]:
        plain_mid = layer.forward(plain_mid)
    np.testing.assert_allclose(plain_mid, body)


def test_float32_stays_float32():
    model = small_resnet(4, 2, rng=np.random.default_rng(0), dtype=np.float32)
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)
    assert model.forward(x).dtype == np.float32


@pytest.mark.parametrize("depth", [3, 2, 7])
def test_bad_depth_raises(depth):
    with pytest.raises(ValueError, match="depth"):
        plain_net(depth, 4, rng=np.random.default_rng(0))


def test_conv_grad_norms_after_backward():
    model = small_resnet(6, 3, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 1, 8, 8)), rng.integers(0, 10, 8)
    loss = cnnlib.CrossEntropyLoss()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    names, norms = conv_grad_norms(model)
    assert names == ["0.weight", "3.conv1.weight", "3.conv2.weight",
                     "4.conv1.weight", "4.conv2.weight"]
    assert norms.shape == (5,) and np.all(norms > 0)
    np.testing.assert_allclose(norms[1], np.linalg.norm(model.grads["3.conv1.weight"]))


def test_letters_cnn_shapes_size_and_dtype():
    rng = np.random.default_rng(0)
    model = models.letters_cnn(rng=rng)
    out = model.forward(rng.random((2, 1, 28, 28), dtype=np.float32))
    assert out.shape == (2, 26) and out.dtype == np.float32
    assert np.allclose(np.exp(out).sum(axis=1), 1, atol=1e-5)
    assert model.num_params() == 137_178
    shapes = [layer.out_shape((1, 1, 28, 28)) for layer in [cnnlib.Sequential(*model[:k])
                                                             for k in (2, 5, 8)]]
    assert shapes == [(1, 32, 13, 13), (1, 64, 6, 6), (1, 128, 2, 2)]


def test_dense_rival_has_about_the_same_size():
    rng = np.random.default_rng(0)
    dense = models.letters_dense(rng=rng)
    assert dense.num_params() == 137_594
    assert dense.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 26)


def test_digits_cnn_shapes():
    rng = np.random.default_rng(0)
    assert models.digits_cnn(rng=rng).forward(rng.random((4, 1, 8, 8))).shape == (4, 10)
