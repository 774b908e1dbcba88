"""Transposed convolution: sizes, the naive loops, adjointness with conv2d, gradients, errors."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.reference import conv_transpose2d_naive
from cnnlib.tools.gradcheck import check_layer


@pytest.mark.parametrize("n, k, s, p, op, expected", [
    (32, 4, 2, 1, 0, 64), (3, 3, 1, 0, 0, 5), (5, 3, 2, 1, 1, 10), (4, 2, 2, 0, 0, 8),
    (7, 3, 3, 2, 2, 19)])
def test_output_size(n, k, s, p, op, expected):
    assert F.conv_transpose_output_size(n, k, stride=s, padding=p, output_padding=op) == expected


@pytest.mark.parametrize("i, k, s, p", [(5, 3, 1, 0), (6, 4, 2, 1), (7, 3, 2, 1), (9, 5, 3, 2),
                                        (4, 1, 2, 0)])
def test_sizes_undo_each_other(i, k, s, p):
    # Dumoulin and Visin (2016), relationship 14: a transposed convolution maps
    # o = floor((i + 2p - k) / s) + 1 back to i, with a = (i + 2p - k) mod s
    # extra rows given by output_padding.
    o = F.output_size(i, k, stride=s, padding=p)
    a = (i + 2 * p - k) % s
    assert F.conv_transpose_output_size(o, k, stride=s, padding=p, output_padding=a) == i


def test_output_size_with_dilation_and_errors():
    assert F.conv_transpose_output_size(4, 3, dilation=2) == 8
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride or the "
                                         "dilation, got output_padding 2 with stride 2"):
        F.conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding 3 removes the whole output"):
        F.conv_transpose_output_size(1, 3, padding=3)


@pytest.mark.parametrize("stride, padding, output_padding, kernel", [
    (1, 0, 0, (3, 3)), (2, 1, 0, (4, 4)), (2, 0, 1, (3, 3)), ((3, 1), (1, 2), (2, 0), (3, 5)),
    (2, 2, 1, (2, 2)), (1, 1, 0, (1, 3))])
def test_naive_and_fast_agree(stride, padding, output_padding, kernel):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((3, 2, *kernel))
    b = rng.standard_normal(2)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding)
    np.testing.assert_allclose(F.conv_transpose2d(x, w, b, **kw),
                               conv_transpose2d_naive(x, w, b, **kw), atol=1e-12)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (3, 2), ((2, 1), (0, 1))])
def test_adjoint_of_conv2d(stride, padding):
    # <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>: the transpose of the
    # convolution's matrix, which is why it is also conv2d's input gradient.
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(x, w, stride=stride, padding=padding)
    r = rng.standard_normal(y.shape)
    ho, wo = x.shape[2:]
    sh, sw = np.broadcast_to(stride, 2)
    ph, pw = np.broadcast_to(padding, 2)
    extra = ((ho + 2 * ph - 3) % sh, (wo + 2 * pw - 3) % sw)
    back = F.conv_transpose2d(r, w, stride=stride, padding=padding, output_padding=extra)
    assert back.shape == x.shape
    assert np.sum(y * r) == pytest.approx(np.sum(x * back), rel=1e-12)
    dx, _, _ = F.conv2d_backward(r, x, w, stride=stride, padding=padding)
    np.testing.assert_allclose(back, dx, atol=1e-12)


def test_upsampling_a_single_pixel_paints_the_kernel():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    y = F.conv_transpose2d(x, w, stride=2)
    assert y.shape == (1, 1, 7, 7)
    np.testing.assert_array_equal(y[0, 0, 2:5, 2:5], w[0, 0])
    assert y.sum() == w.sum()


@pytest.mark.parametrize("stride, padding, output_padding", [(1, 0, 0), (2, 1, 0), (2, 0, 1),
                                                             ((1, 2), (1, 0), (0, 1)), (3, 1, 2)])
def test_layer_gradients(stride, padding, output_padding):
    rng = np.random.default_rng(2)
    layer = cnnlib.ConvTranspose2d(3, 2, 3, stride, padding, output_padding, rng=rng)
    layer.params["bias"][...] = rng.standard_normal(2)
    errors = check_layer(layer, rng.standard_normal((2, 3, 4, 3)), rng=rng)
    assert max(errors.values()) < 1e-7, errors


def test_layer_shapes_params_and_summary():
    rng = np.random.default_rng(3)
    up = cnnlib.ConvTranspose2d(8, 4, 4, stride=2, padding=1, rng=rng, dtype=np.float32)
    assert up.params["weight"].shape == (8, 4, 4, 4) and up.params["bias"].shape == (4,)
    x = rng.standard_normal((2, 8, 5, 6)).astype(np.float32)
    y = up.forward(x)
    assert y.shape == up.out_shape(x.shape) == (2, 4, 10, 12) and y.dtype == np.float32
    assert up.backward(np.ones_like(y)).shape == x.shape
    assert up.macs(x.shape) == 2 * 5 * 6 * 8 * 4 * 16
    table = cnnlib.summary(cnnlib.Sequential(up), (8, 5, 6), print_table=False)
    assert table.total_params == 8 * 4 * 16 + 4 and table.total_macs == 5 * 6 * 8 * 4 * 16
    no_bias = cnnlib.ConvTranspose2d(2, 2, 2, bias=False, rng=rng)
    assert list(no_bias.params) == ["weight"]
    assert "bias=False" in repr(no_bias) and "output_padding" not in repr(no_bias)


def test_layer_skips_the_input_gradient_when_asked():
    rng = np.random.default_rng(4)
    up = cnnlib.ConvTranspose2d(2, 2, 2, stride=2, rng=rng)
    up.needs_input_grad = False
    assert up.backward(np.ones_like(up.forward(np.ones((1, 2, 3, 3))))) is None
    assert np.all(up.grads["weight"] == 9.0)


def test_layer_keeps_no_reference_to_the_input():
    rng = np.random.default_rng(5)
    up = cnnlib.ConvTranspose2d(2, 3, 3, stride=2, rng=rng)
    x = rng.standard_normal((1, 2, 4, 4))
    dy = rng.standard_normal(up.forward(x).shape)
    up.backward(dy)
    expected = up.grads["weight"].copy()
    up.forward(x)
    x[...] = 0  # changing the input after forward must not change the gradient
    up.backward(dy)
    np.testing.assert_array_equal(up.grads["weight"], expected)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cnnlib.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2,
                                    rng=np.random.default_rng(0)),
     ValueError, r"ConvTranspose2d: output_padding must be smaller than the stride, got "
                 r"output_padding \(2, 2\) with stride \(2, 2\)"),
    (lambda: F.conv_transpose2d(np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 3))), ValueError,
     r"conv_transpose2d: input has 3 channels but the kernel expects 2"),
    (lambda: F.conv_transpose2d(np.zeros((1, 2, 4, 4)), np.zeros((2, 3, 3, 3)), np.zeros(2)),
     ValueError, r"conv_transpose2d: bias must have shape \(3,\)"),
    (lambda: cnnlib.ConvTranspose2d(2, 2, 3, rng=np.random.default_rng(0)).forward(
        np.zeros((1, 3, 4, 4))), ValueError,
     r"ConvTranspose2d: input has 3 channels but the kernel expects 2"),
    (lambda: cnnlib.ConvTranspose2d(2, 2, 3, rng=np.random.default_rng(0)).backward(
        np.zeros((1, 2, 4, 4))), RuntimeError, "ConvTranspose2d.backward called before forward"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
