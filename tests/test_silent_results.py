"""Cases that once gave a result without a word: each now changes nothing or says why."""

import math

import numpy as np
import pytest

import cnnlib
from cnnlib.book.datasets import digits, letters
from cnnlib.tools.gradcheck import check_layer


def test_check_layer_leaves_batch_norm_statistics_as_they_were():
    bn = cnnlib.BatchNorm2d(3, momentum=None)
    bn.buffers["running_mean"][...] = [0.5, -1.0, 2.0]
    before = {k: v.copy() for k, v in bn.buffers.items()}
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4)) * 3 + 1
    errors = check_layer(bn, x, rng=np.random.default_rng(0))
    assert max(errors.values()) < 1e-7
    for k, v in bn.buffers.items():
        assert np.array_equal(v, before[k]), k
    assert bn.num_batches_tracked == 0


def test_check_layer_refuses_a_random_layer_with_a_hint_and_leaves_its_generator():
    drop = cnnlib.Dropout(0.5, rng=np.random.default_rng(0))
    state = drop.rng.bit_generator.state
    with pytest.raises(ValueError, match="different outputs for the same input.*eval"):
        check_layer(drop, np.ones((2, 3)), rng=np.random.default_rng(0))
    assert drop.rng.bit_generator.state == state
    errors = check_layer(drop.eval(), np.ones((2, 3)), rng=np.random.default_rng(0))
    assert errors["input"] < 1e-9


def test_float32_layer_refuses_a_float64_gradient_and_converts_integers():
    rng = np.random.default_rng(0)
    conv = cnnlib.Conv2d(1, 2, 3, rng=rng, dtype=np.float32)
    y = conv.forward(np.ones((1, 1, 5, 5), np.float32))
    with pytest.raises(TypeError, match="Conv2d.backward: gradient is float64 but the output "
                                        "was float32"):
        conv.backward(np.ones(y.shape))
    dx = conv.backward(np.ones(y.shape, dtype=np.int64))
    assert dx.dtype == np.float32 and conv.grads["weight"].dtype == np.float32
    relu = cnnlib.ReLU()
    relu.forward(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="ReLU.backward: gradient is float64"):
        relu.backward(np.ones(3))


def test_non_finite_input_rule():
    rng = np.random.default_rng(0)
    x = np.ones((2, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    conv = cnnlib.Conv2d(1, 1, 3, rng=rng)
    y = conv.forward(x)
    assert np.isnan(y[0, 0, 0, 0]) and np.all(np.isfinite(y[1]))
    bn = cnnlib.BatchNorm2d(1)
    with pytest.raises(ValueError, match="BatchNorm2d: input contains NaN"):
        bn.forward(x)
    assert np.array_equal(bn.buffers["running_mean"], [0.0]) and bn.num_batches_tracked == 0
    out = bn.eval().forward(x)
    assert np.isnan(out[0, 0, 0, 0]) and np.all(np.isfinite(out[1]))


def test_receptive_field_of_a_dense_layer_is_the_whole_input():
    rng = np.random.default_rng(0)
    net = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=rng), cnnlib.MaxPool2d(2), cnnlib.Flatten(),
                            cnnlib.Linear(2 * 13 * 13, 4, rng=rng), cnnlib.ReLU(),
                            cnnlib.Linear(4, 2, rng=rng))
    sizes = [row[2] for row in cnnlib.receptive_field(net)]
    assert sizes == [1, 3, 4, 4, math.inf, math.inf, math.inf]
    sizes = [row[2] for row in cnnlib.receptive_field(net, (1, 28, 28))]
    assert sizes == [1, 3, 4, 4, 28, 28, 28]


@pytest.mark.parametrize("kwargs, message", [
    ({"per_glyph_train": -1}, "letters: per_glyph_train must be a positive int"),
    ({"per_glyph_test": 0}, "letters: per_glyph_test must be a positive int"),
    ({"per_glyph_train": 1.5}, "letters: per_glyph_train must be a positive int"),
])
def test_letters_refuses_empty_splits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        letters(**kwargs)


@pytest.mark.parametrize("fraction, message", [
    (1.5, r"digits: test_fraction must be a finite number in \(0, 1\)"),
    (0, r"digits: test_fraction must be a finite number in \(0, 1\)"),
    (1, r"digits: test_fraction must be a finite number in \(0, 1\)"),
    (0.001, "leaves 2 test images"),
])
def test_digits_refuses_fractions_without_a_split(fraction, message):
    with pytest.raises(ValueError, match=message):
        digits(test_fraction=fraction)


@pytest.mark.parametrize("groups, channels, filters", [(1, 3, 4), (4, 4, 4), (2, 4, 6)])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(groups, channels, filters, rng):
    x = np.zeros((0, channels, 7, 7))
    conv = cnnlib.Conv2d(channels, filters, 3, 2, 1, groups=groups, rng=rng, dtype=np.float64)
    y = conv.forward(x)
    assert y.shape == (0, filters, 4, 4)  # PyTorch's shape
    assert conv.backward(np.zeros(y.shape)).shape == x.shape
    assert not conv.grads["weight"].any() and not conv.grads["bias"].any()
    if groups == 1:
        up = cnnlib.ConvTranspose2d(channels, filters, 3, 2, 1, rng=rng, dtype=np.float64)
        y = up.forward(x)
        assert y.shape == (0, filters, 13, 13)
        assert up.backward(np.zeros(y.shape)).shape == x.shape
        assert not up.grads["weight"].any()
