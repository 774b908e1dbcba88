"""Dilated and grouped convolution, adaptive average pooling: sizes, loops, gradients, errors."""

import inspect

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.reference import adaptive_avg_pool2d_naive, conv2d_naive
from cnnlib.tools.gradcheck import check_layer


@pytest.mark.parametrize("n, k, s, p, d, expected", [
    (7, 3, 1, 0, 2, 3), (7, 3, 1, 2, 2, 7), (28, 3, 1, 2, 2, 28), (10, 3, 2, 0, 3, 2),
    (9, 2, 1, 0, 8, 1), (224, 3, 1, 1, 1, 224)])
def test_output_size_with_dilation(n, k, s, p, d, expected):
    assert F.output_size(n, k, stride=s, padding=p, dilation=d) == expected
    # a dilated kernel is an ordinary one of size d (k - 1) + 1
    assert expected == F.output_size(n, d * (k - 1) + 1, stride=s, padding=p)


def test_output_size_keeps_ceil_mode():
    assert F.output_size(11, 2, stride=2, ceil_mode=True) == 6
    with pytest.raises(ValueError, match=r"output_size: kernel 9 \(kernel 3 with dilation 4\) is "
                                         r"larger than the padded input 7 \+ 2\*0 = 7"):
        F.output_size(7, 3, dilation=4)
    with pytest.raises(ValueError, match="output_size: dilation must be a positive int, got 0"):
        F.output_size(7, 3, dilation=0)


CONFIGS = [  # stride, padding, dilation, groups, kernel
    (1, 0, 1, 1, (3, 3)), (1, 1, 2, 1, (3, 3)), (2, 2, 2, 1, (3, 2)),
    ((1, 2), (0, 1), (2, 1), 1, (2, 3)), (1, 1, 1, 2, (3, 3)), (2, 0, 1, 3, (1, 1)),
    (1, 2, 3, 3, (2, 2)), ((2, 1), 1, (1, 2), 6, (3, 3)),
]


@pytest.mark.parametrize("stride, padding, dilation, groups, kernel", CONFIGS)
def test_naive_and_fast_agree(stride, padding, dilation, groups, kernel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 9, 8))
    w = rng.standard_normal((6, 6 // groups, *kernel))
    b = rng.standard_normal(6)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    fast = F.conv2d(x, w, b, **kw)
    np.testing.assert_allclose(fast, conv2d_naive(x, w, b, **kw), rtol=1e-12, atol=1e-12)


def test_groups_are_independent_convolutions():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 6, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(x, w, groups=2)
    np.testing.assert_allclose(y[:, :2], F.conv2d(x[:, :3], w[:2]), atol=1e-12)
    np.testing.assert_allclose(y[:, 2:], F.conv2d(x[:, 3:], w[2:]), atol=1e-12)


def test_depthwise_is_one_kernel_per_channel():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3, 1, 3, 3))
    y = F.conv2d(x, w, padding=1, groups=3)
    for c in range(3):
        np.testing.assert_allclose(y[:, c: c + 1], F.conv2d(x[:, c: c + 1], w[c: c + 1],
                                                             padding=1), atol=1e-12)


def test_dilation_is_a_kernel_with_holes():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((3, 2, 3, 3))
    holes = np.zeros((3, 2, 5, 5))
    holes[:, :, ::2, ::2] = w
    np.testing.assert_allclose(F.conv2d(x, w, dilation=2), F.conv2d(x, holes), atol=1e-12)


def test_im2col_with_dilation_gives_the_same_products():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 2, 3))
    cols, (ho, wo) = F.im2col(x, (2, 3), stride=2, padding=1, dilation=2)
    y = (cols @ w.reshape(4, -1).T).reshape(ho, wo, 2, 4).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(y, F.conv2d(x, w, stride=2, padding=1, dilation=2), atol=1e-12)
    dx = F.col2im(cols, x.shape, (2, 3), stride=2, padding=1, dilation=2)
    assert dx.shape == x.shape


def test_integer_input_gives_integers_and_layouts_stay_batch_innermost():
    x = np.arange(2 * 4 * 5 * 5).reshape(2, 4, 5, 5)
    w = np.ones((2, 2, 2, 2), dtype=int)
    y = F.conv2d(x, w, groups=2, dilation=2)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, conv2d_naive(x, w, groups=2, dilation=2))
    assert y.strides[0] == y.itemsize


def test_float32_stays_float32():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    dx, dw, db = F.conv2d_backward(np.ones((2, 4, 2, 2), np.float32), x, w, dilation=2, groups=2)
    assert F.conv2d(x, w, dilation=2, groups=2).dtype == np.float32
    assert dx.dtype == dw.dtype == db.dtype == np.float32


def test_conv2d_signature_matches_pytorch():
    names = list(inspect.signature(cnnlib.Conv2d).parameters)
    assert names[:8] == ["in_channels", "out_channels", "kernel_size", "stride", "padding",
                         "dilation", "groups", "bias"]
    rng = np.random.default_rng(0)
    layer = cnnlib.Conv2d(4, 6, 3, 1, 2, 2, 2, False, rng=rng)  # all positional, as in PyTorch
    assert layer.params["weight"].shape == (6, 2, 3, 3) and "bias" not in layer.params
    assert layer.forward(np.zeros((1, 4, 5, 5))).shape == (1, 6, 5, 5)
    assert "dilation=(2, 2), groups=2, bias=False" in repr(layer)


def test_linear_without_bias_has_no_bias_key():
    layer = cnnlib.Linear(3, 2, bias=False, rng=np.random.default_rng(0))
    assert list(layer.params) == ["weight"] and list(layer.grads) == ["weight"]
    layer.backward(np.ones_like(layer.forward(np.ones((4, 3)))))
    np.testing.assert_allclose(layer.grads["weight"], np.full((2, 3), 4.0))


def test_grouped_macs_and_params():
    rng = np.random.default_rng(0)
    full = cnnlib.Conv2d(32, 64, 3, padding=1, bias=False, rng=rng)
    depthwise = cnnlib.Conv2d(32, 32, 3, padding=1, groups=32, bias=False, rng=rng)
    pointwise = cnnlib.Conv2d(32, 64, 1, bias=False, rng=rng)
    shape = (1, 32, 16, 16)
    separable = depthwise.macs(shape) + pointwise.macs(shape)
    # MobileNet's ratio 1/C_out + 1/k^2
    assert separable / full.macs(shape) == pytest.approx(1 / 64 + 1 / 9)
    assert depthwise.num_params() == 32 * 9


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=6, out_channels=8, groups=4),
     "Conv2d: in_channels 6 is not divisible by groups 4"),
    (dict(in_channels=8, out_channels=6, groups=4),
     "Conv2d: out_channels 6 is not divisible by groups 4"),
    (dict(in_channels=4, out_channels=4, groups=0), "Conv2d: groups must be a positive int"),
    (dict(in_channels=4, out_channels=4, dilation=0), "Conv2d: dilation must be a positive int"),
])
def test_conv2d_layer_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnnlib.Conv2d(kernel_size=3, rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(np.zeros((1, 6, 5, 5)), np.zeros((4, 2, 3, 3)), groups=2),
     r"conv2d: input has 6 channels but the kernel expects 4 \(2 per group x 2 groups\)"),
    (lambda: F.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2),
     "conv2d: the kernel's 3 output channels are not divisible by groups 2"),
    (lambda: F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), dilation=3),
     r"conv2d: window 7x7 \(kernel 3x3, dilation 3x3\) is larger than the padded input 5x5"),
    (lambda: cnnlib.Conv2d(4, 4, 3, groups=2, rng=np.random.default_rng(0)).forward(
        np.zeros((1, 2, 5, 5))),
     r"Conv2d: input has 2 channels but the kernel expects 4 \(2 per group x 2 groups\)"),
    (lambda: F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), chunk_bytes=0),
     "conv2d: chunk_bytes must be a positive int"),
])
def test_functional_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), ((2, 1), (1, 0), (1, 2), 1), (1, 1, 1, 2),
    (2, 1, 2, 4), (1, 1, 1, 4)])
def test_conv2d_layer_gradients(stride, padding, dilation, groups):
    rng = np.random.default_rng(6)
    layer = cnnlib.Conv2d(4, 4, 3, stride, padding, dilation, groups, rng=rng)
    layer.params["bias"][...] = rng.standard_normal(4)
    errors = check_layer(layer, rng.standard_normal((2, 4, 7, 6)), rng=rng)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("out", [1, 2, 3, (2, 5), (4, 1), 7])
def test_adaptive_avg_pool_matches_the_loops(out):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 5))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, out), adaptive_avg_pool2d_naive(x, out),
                               atol=1e-14)


def test_adaptive_windows_follow_pytorchs_rule():
    starts, ends = F.adaptive_windows(5, 3)
    np.testing.assert_array_equal(starts, [0, 1, 3])
    np.testing.assert_array_equal(ends, [2, 4, 5])
    starts, ends = F.adaptive_windows(12, 4)  # divisible: ordinary non-overlapping pooling
    np.testing.assert_array_equal(ends - starts, 3)
    x = np.random.default_rng(8).standard_normal((1, 2, 12, 12))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 4), F.avg_pool2d(x, 3), atol=1e-14)


def test_global_average_pooling_layer():
    x = np.random.default_rng(9).standard_normal((2, 3, 5, 4)).astype(np.float32)
    layer = cnnlib.AdaptiveAvgPool2d(1)
    y = layer.forward(x)
    assert y.shape == (2, 3, 1, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-6)
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, np.full(x.shape, 1 / 20), rtol=1e-6)
    assert layer.out_shape((2, 3, 5, 4)) == (2, 3, 1, 1)


@pytest.mark.parametrize("out", [1, 3, (2, 4)])
def test_adaptive_avg_pool_gradients(out):
    rng = np.random.default_rng(10)
    errors = check_layer(cnnlib.AdaptiveAvgPool2d(out), rng.standard_normal((2, 2, 5, 7)),
                         rng=rng)
    assert errors["input"] < 1e-8


def test_adaptive_avg_pool_errors():
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must be a positive int"):
        cnnlib.AdaptiveAvgPool2d(0)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 4-D input"):
        F.adaptive_avg_pool2d(np.zeros((3, 4, 4)), 2)
    layer = cnnlib.AdaptiveAvgPool2d(2)
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d.backward: gradient has shape"):
        layer.backward(np.zeros((1, 1, 3, 3)))
