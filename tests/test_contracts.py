"""The layer contracts: gradients written not added, shared layers refused, caches, layouts."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.reference import conv2d_naive


def small_net(rng):
    return cnnlib.Sequential(cnnlib.Conv2d(1, 3, 3, rng=rng), cnnlib.ReLU(), cnnlib.MaxPool2d(2),
                             cnnlib.Flatten(), cnnlib.Linear(12, 2, rng=rng))


def one_backward(model, x, y):
    loss = cnnlib.CrossEntropyLoss()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    return {k: v.copy() for k, v in model.grads.items()}


def test_backward_writes_gradients_rather_than_adding(rng):
    model = small_net(rng)
    x, y = rng.standard_normal((4, 1, 6, 6)), np.array([0, 1, 1, 0])
    first = one_backward(model, x, y)
    second = one_backward(model, x, y)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])


def test_plain_loop_trains_the_same_with_or_without_zero_grad():
    weights, losses = [], []
    for use_zero_grad in (False, True):
        rng = np.random.default_rng(3)
        model = small_net(rng)
        x, y = rng.standard_normal((16, 1, 6, 6)), rng.integers(0, 2, 16)
        opt, loss = cnnlib.SGD(model, 0.1, momentum=0.9), cnnlib.CrossEntropyLoss()
        start = loss.forward(model.forward(x), y)
        for _ in range(30):
            if use_zero_grad:
                opt.zero_grad()
            loss.forward(model.forward(x), y)
            model.backward(loss.backward())
            opt.step()
        losses.append(loss.forward(model.forward(x), y))
        weights.append({k: v.copy() for k, v in model.params.items()})
    for k in weights[0]:
        np.testing.assert_array_equal(weights[0][k], weights[1][k])
    assert losses[0] == losses[1]
    assert start > 0.5 and losses[0] < 0.01


def test_zero_grad_zeroes_every_gradient(rng):
    model = small_net(rng)
    one_backward(model, rng.standard_normal((2, 1, 6, 6)), np.array([0, 1]))
    model.zero_grad()
    assert all(not g.any() for g in model.grads.values())


def test_a_layer_used_twice_is_refused_at_construction(rng):
    shared = cnnlib.Linear(4, 4, rng=rng)
    with pytest.raises(ValueError, match="same Linear object appears twice"):
        cnnlib.Sequential(shared, cnnlib.ReLU(), shared)
    inner = cnnlib.Sequential(shared)
    with pytest.raises(ValueError, match="appears twice"):
        cnnlib.Sequential(inner, cnnlib.Sequential(shared))


def test_slicing_a_sequential_gives_a_sequential_of_the_same_layers(rng):
    model = small_net(rng)
    head = model[:2]
    assert isinstance(head, cnnlib.Sequential) and len(head) == 2
    assert head[0] is model[0]
    x = rng.standard_normal((2, 1, 6, 6))
    np.testing.assert_array_equal(head.forward(x), model[1].forward(model[0].forward(x)))


LAYERS = [
    lambda rng: cnnlib.Conv2d(2, 3, 3, rng=rng),
    lambda rng: cnnlib.Linear(5, 3, rng=rng),
    lambda rng: cnnlib.MaxPool2d(2),
    lambda rng: cnnlib.AvgPool2d(2),
    lambda rng: cnnlib.ReLU(),
    lambda rng: cnnlib.GELU(),
    lambda rng: cnnlib.Flatten(),
    lambda rng: cnnlib.LogSoftmax(),
    lambda rng: cnnlib.BatchNorm2d(2),
    lambda rng: cnnlib.Dropout(0.5, rng=rng),
    lambda rng: cnnlib.ResidualBlock(2, rng=rng),
    lambda rng: cnnlib.Identity(),
]


def input_for(layer, rng):
    if isinstance(layer, (cnnlib.Linear, cnnlib.LogSoftmax)):
        return rng.standard_normal((4, 5))
    return rng.standard_normal((4, 2, 6, 6))


@pytest.mark.parametrize("build", LAYERS)
def test_backward_before_forward_is_refused(build, rng):
    layer = build(rng)
    with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward called before "
                                           f"forward"):
        layer.backward(np.ones((4, 3)))


@pytest.mark.parametrize("build", LAYERS)
def test_backward_refuses_a_gradient_of_the_wrong_shape(build, rng):
    layer = build(rng)
    y = layer.forward(input_for(layer, rng))
    wrong = np.ones(y.shape[:-1] + (y.shape[-1] + 1,))
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}.backward: gradient has shape "
                                         rf"\({', '.join(map(str, wrong.shape))}\) but the "
                                         rf"output had"):
        layer.backward(wrong)


def test_linear_message_names_both_shapes(rng):
    layer = cnnlib.Linear(2, 3, rng=rng)
    layer.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^Linear.backward: gradient has shape \(4, 2\) but "
                                         r"the output had \(4, 3\)$"):
        layer.backward(np.ones((4, 2)))


@pytest.mark.parametrize("build", LAYERS)
def test_changing_the_input_after_forward_does_not_change_backward(build, rng):
    layer = build(rng)
    layer.train()
    x = input_for(layer, rng)
    if isinstance(layer, cnnlib.Dropout):
        layer.eval()
    y = layer.forward(x)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    before = layer.backward(dy).copy()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    x[...] = 7.0  # the caller reuses its buffer
    y[...] = -3.0
    after = layer.backward(dy)
    np.testing.assert_array_equal(before, after)
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(grads[k], v)


def test_backward_refers_to_the_latest_forward(rng):
    layer = cnnlib.Linear(3, 2, rng=rng)
    layer.forward(np.ones((5, 3)))
    layer.forward(np.full((2, 3), 2.0))
    dy = np.ones((2, 2))
    layer.backward(dy)
    np.testing.assert_array_equal(layer.grads["weight"], np.full((2, 3), 4.0))


def test_needs_input_grad_false_is_refused_on_a_later_layer(rng):
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=rng), cnnlib.ReLU(),
                              cnnlib.Conv2d(2, 2, 3, rng=rng))
    y = model.forward(rng.standard_normal((1, 1, 7, 7)))
    model[2].needs_input_grad = False
    weights = model.grads["2.weight"].copy()
    with pytest.raises(ValueError, match=r"layer 2 \(Conv2d\) has needs_input_grad=False but "
                                         r"is not the first layer"):
        model.backward(np.ones_like(y))
    np.testing.assert_array_equal(model.grads["2.weight"], weights)
    model[2].needs_input_grad = True
    model[0].needs_input_grad = False
    assert model.backward(np.ones_like(y)) is None


@pytest.mark.parametrize("layer", [cnnlib.ReLU(), cnnlib.MaxPool2d(2), cnnlib.Flatten()])
def test_parameterless_layers_keep_the_input_dtype(layer):
    for dtype in (np.float32, np.float64):
        x = np.ones((2, 1, 4, 4), dtype=dtype)
        y = layer.forward(x)
        assert y.dtype == dtype
        assert layer.backward(np.ones_like(y)).dtype == dtype


def test_conv_results_are_documented_batch_innermost_views(rng):
    x, w = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3))
    y = F.conv2d(x, w)
    assert "strided view" in F.conv2d.__doc__ and "batch innermost" in F.conv2d.__doc__
    assert not y.flags.c_contiguous
    assert y.strides[0] == y.itemsize  # the batch index moves fastest in memory
    np.testing.assert_allclose(y, conv2d_naive(x, w), rtol=0, atol=1e-12)
    dx, dw, db = F.conv2d_backward(np.ones_like(y), x, w)
    assert "strided view" in F.col2im.__doc__
    assert dx.strides[0] == dx.itemsize
    assert dw.flags.c_contiguous and db.flags.c_contiguous
