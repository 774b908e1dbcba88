"""Upsample and F.interpolate: finite differences, PyTorch's forward and backward, bad input."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.tools.gradcheck import check_layer

torch = pytest.importorskip("torch")

CASES = [  # scale_factor, size, mode, align_corners, input shape
    (2, None, "nearest", None, (2, 3, 4, 5)),
    (3, None, "nearest", None, (1, 2, 3, 3)),
    ((2, 4), None, "nearest", None, (1, 1, 3, 2)),
    (1.5, None, "nearest", None, (1, 2, 5, 7)),
    (0.5, None, "nearest", None, (1, 1, 8, 6)),
    (2.7, None, "nearest", None, (1, 1, 4, 3)),
    (None, (7, 9), "nearest", None, (1, 2, 3, 4)),
    (2, None, "bilinear", None, (2, 3, 4, 5)),
    (4, None, "bilinear", None, (1, 2, 3, 3)),
    ((3, 2), None, "bilinear", None, (1, 1, 2, 5)),
    (1.5, None, "bilinear", None, (1, 2, 5, 7)),
    (0.6, None, "bilinear", None, (1, 1, 9, 8)),
    (None, (7, 9), "bilinear", None, (1, 2, 3, 4)),
    (2, None, "bilinear", True, (1, 2, 4, 5)),
    (None, (1, 6), "bilinear", True, (1, 1, 3, 4)),
    (1, None, "bilinear", None, (1, 1, 3, 3)),
]


def make(scale_factor, size, mode, align_corners):
    return cnnlib.Upsample(scale_factor, mode, size=size, align_corners=align_corners)


@pytest.mark.parametrize("scale_factor, size, mode, align_corners, shape", CASES)
def test_against_torch(scale_factor, size, mode, align_corners, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    layer = make(scale_factor, size, mode, align_corners)
    y = layer.forward(x)
    assert y.shape == layer.out_shape(x.shape)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, size=size, scale_factor=scale_factor, mode=mode,
                                         align_corners=align_corners)
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("scale_factor, size, mode, align_corners, shape", CASES[::3])
def test_finite_differences(scale_factor, size, mode, align_corners, shape):
    rng = np.random.default_rng(1)
    errors = check_layer(make(scale_factor, size, mode, align_corners),
                         rng.standard_normal(shape), rng=rng)
    assert max(errors.values()) < 1e-8, errors


def test_float32_against_torch_and_dtype():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    for mode in ("nearest", "bilinear"):
        layer = cnnlib.Upsample(2, mode)
        y = layer.forward(x)
        assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
        ty = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=2, mode=mode)
        np.testing.assert_allclose(y, ty.numpy(), rtol=0, atol=1e-6)


def test_hand_examples():
    x = np.array([[[[1.0, 3.0], [5.0, 7.0]]]])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2)[0, 0],
                                  np.kron([[1, 3], [5, 7]], np.ones((2, 2))))
    # bilinear, 2 -> 4 along a row: samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 -> 1
    row = F.interpolate(np.array([[[[0.0, 4.0]]]]), scale_factor=(1, 2), mode="bilinear")
    np.testing.assert_allclose(row[0, 0, 0], [0, 1, 3, 4], atol=1e-15)
    assert F.interpolate(np.ones((1, 1, 2, 2), dtype=np.int64), scale_factor=2).dtype == np.float64


def test_layer_contract():
    layer = cnnlib.Upsample(2)
    with pytest.raises(RuntimeError, match="Upsample.backward called before forward"):
        layer.backward(np.zeros((1, 1, 4, 4)))
    layer.forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="Upsample.backward: gradient has shape"):
        layer.backward(np.zeros((1, 1, 3, 4)))
    assert layer.params == {} and "scale_factor=(2.0, 2.0)" in repr(layer)
    assert cnnlib.nn.Upsample is cnnlib.Upsample
    net = cnnlib.Sequential(cnnlib.Conv2d(1, 1, 3, padding=1, rng=np.random.default_rng(0)),
                            cnnlib.Upsample(2, "bilinear"))
    assert net.forward(np.zeros((1, 1, 3, 3))).shape == (1, 1, 6, 6)
    assert cnnlib.receptive_field(cnnlib.Sequential(cnnlib.Upsample(2)), (1, 1, 4, 4))


@pytest.mark.parametrize("call, match", [
    (lambda: cnnlib.Upsample(2, "bicubic"), "Upsample: mode must be 'nearest' or 'bilinear'"),
    (lambda: cnnlib.Upsample(2, align_corners=True), "Upsample: align_corners can only"),
    (lambda: cnnlib.Upsample(), "Upsample: give exactly one of size and scale_factor"),
    (lambda: cnnlib.Upsample(2, size=4), "exactly one"),
    (lambda: cnnlib.Upsample(0), "Upsample: scale_factor must be a finite number > 0"),
    (lambda: cnnlib.Upsample(size=(2, 3, 4)), r"Upsample: size must be a number or a pair"),
    (lambda: cnnlib.Upsample(size=1.5), "Upsample: size must be a positive int"),
    (lambda: cnnlib.Upsample(2).forward(np.zeros((2, 2))), "Upsample: expected a 4-D input"),
    (lambda: F.interpolate(np.zeros((1, 1, 3, 3)), scale_factor=0.2), "needs at least one"),
    (lambda: F.interpolate(np.zeros((1, 1, 3, 3), complex), scale_factor=2),
     "interpolate: .* complex"),
    (lambda: F.interpolate_backward(np.zeros((1, 1, 5, 5)), (1, 1, 2, 2), scale_factor=2),
     "interpolate_backward: gradient has shape"),
    (lambda: F.interpolate_backward(np.zeros((1, 1, 4, 4)), (2, 2), scale_factor=2),
     "interpolate_backward: input_shape"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
