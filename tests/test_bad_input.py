"""Bad input gets a clear error that names the problem and the parameter, before anything changes."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.tools.gradcheck import numerical_gradient

RNG = np.random.default_rng(0)


def tiny():
    return cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(4, 2, rng=np.random.default_rng(0)))


HYPER = [
    (lambda: cnnlib.SGD(tiny(), 0), "SGD: lr must be a finite number > 0, got 0"),
    (lambda: cnnlib.SGD(tiny(), float("nan")), "SGD: lr must be a finite number > 0"),
    (lambda: cnnlib.SGD(tiny(), float("inf")), "SGD: lr must be a finite number > 0"),
    (lambda: cnnlib.SGD(tiny(), -1.0), "SGD: lr must be"),
    (lambda: cnnlib.SGD(tiny(), 0.1, momentum=1.0), r"SGD: momentum must be a finite number in "
                                                    r"\[0, 1\)"),
    (lambda: cnnlib.SGD(tiny(), 0.1, momentum=-0.5), "SGD: momentum"),
    (lambda: cnnlib.SGD(tiny(), 0.1, weight_decay=-1e-4), "SGD: weight_decay must be"),
    (lambda: cnnlib.Adam(tiny(), 0.1, betas=(0.9, 1.0)), r"Adam: betas\[1\] must be"),
    (lambda: cnnlib.Adam(tiny(), 0.1, betas=(-0.1, 0.9)), r"Adam: betas\[0\] must be"),
    (lambda: cnnlib.Adam(tiny(), 0.1, betas=0.9), "Adam: betas must be a pair"),
    (lambda: cnnlib.Adam(tiny(), 0.1, eps=0), "Adam: eps must be a finite number > 0"),
    (lambda: cnnlib.Adam(tiny(), lr="0.1"), "Adam: lr must be"),
    (lambda: cnnlib.SGD("model", 0.1), "SGD: model must be a cnnlib Module"),
    (lambda: cnnlib.BatchNorm2d(3, eps=0), "BatchNorm2d: eps must be"),
    (lambda: cnnlib.BatchNorm2d(3, momentum=1.5), r"BatchNorm2d: momentum must be a finite "
                                                  r"number in \[0, 1\]"),
    (lambda: cnnlib.BatchNorm2d(0), "BatchNorm2d: num_features must be a positive int, got 0"),
    (lambda: cnnlib.Dropout(1.0, rng=RNG), r"Dropout: p must be a finite number in \[0, 1\)"),
    (lambda: cnnlib.Dropout(-0.1, rng=RNG), "Dropout: p must be"),
    (lambda: cnnlib.Dropout(0.5, rng=0), "Dropout: rng must be a numpy Generator"),
    (lambda: cnnlib.MaxPool2d(0), "MaxPool2d: kernel_size must be a positive int, got 0"),
    (lambda: cnnlib.MaxPool2d(True), "MaxPool2d: kernel_size must be a positive int, got True"),
    (lambda: cnnlib.MaxPool2d(2.0), "MaxPool2d: kernel_size must be a positive int, got 2.0"),
    (lambda: cnnlib.MaxPool2d(2, 0), "MaxPool2d: stride must be a positive int, got 0"),
    (lambda: cnnlib.AvgPool2d((2, -1)), "AvgPool2d: kernel_size must be a positive int, got -1"),
    (lambda: cnnlib.Conv2d(1, 2, 3, padding=-1, rng=RNG), r"Conv2d: padding must be an int >= "
                                                          r"0, got -1"),
    (lambda: cnnlib.Conv2d(0, 2, 3, rng=RNG), "Conv2d: in_channels must be a positive int"),
    (lambda: cnnlib.Conv2d(1, 2.0, 3, rng=RNG), "Conv2d: out_channels must be a positive int"),
    (lambda: cnnlib.Conv2d(1, 2, True, rng=RNG), "Conv2d: kernel_size must be a positive int"),
    (lambda: cnnlib.Conv2d(1, 2, 3, rng=RNG, dtype=np.int64), "Conv2d: dtype must be a float"),
    (lambda: cnnlib.Linear(4, 2, rng=RNG, dtype=np.int32), "Linear: dtype must be a float"),
    (lambda: cnnlib.Linear(4, 2, rng=RNG, dtype="complex128"), "Linear: dtype must be a float"),
    (lambda: cnnlib.Linear(4, 2, rng=0), "Linear: rng must be a numpy Generator"),
    (lambda: cnnlib.Linear(-4, 2, rng=RNG), "Linear: in_features must be a positive int"),
    (lambda: cnnlib.BatchNorm2d(3, dtype=int), "BatchNorm2d: dtype must be a float"),
    (lambda: cnnlib.ResidualBlock(0, rng=RNG), "ResidualBlock: channels must be a positive int"),
    (lambda: F.output_size(-5, 3), "output_size: n must be a positive int, got -5"),
    (lambda: F.output_size(5.0, 3), "output_size: n must be a positive int, got 5.0"),
    (lambda: F.output_size(5, 3, padding=-1), "output_size: padding must be an int >= 0"),
    (lambda: F.output_size(5, 3, stride=1.5), "output_size: stride must be a positive int"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 0), "max_pool2d: size must be a positive int"),
]


@pytest.mark.parametrize("make, message", HYPER)
def test_bad_hyper_parameter_is_refused_with_its_name(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_optimiser_options_after_lr_are_keyword_only():
    with pytest.raises(TypeError):
        cnnlib.SGD(tiny(), 0.1, 0.9)
    with pytest.raises(TypeError):
        cnnlib.Adam(tiny(), 0.1, (0.9, 0.99))


def test_rng_is_keyword_only():
    with pytest.raises(TypeError):
        cnnlib.Linear(4, 2, True, RNG)
    with pytest.raises(TypeError):
        cnnlib.Dropout(0.5, RNG)


BAD_ARRAYS = [np.ones((2, 1, 4, 4), dtype=complex), np.full((2, 1, 4, 4), "a"),
              np.empty((2, 1, 4, 4), dtype=object),
              np.zeros((2, 1, 4, 4), dtype="datetime64[s]")]
CALLS = [
    lambda x: cnnlib.Conv2d(1, 2, 3, rng=np.random.default_rng(0)).forward(x),
    lambda x: cnnlib.MaxPool2d(2).forward(x),
    lambda x: cnnlib.AvgPool2d(2).forward(x),
    lambda x: cnnlib.ReLU().forward(x),
    lambda x: cnnlib.GELU().forward(x),
    lambda x: cnnlib.Flatten().forward(x),
    lambda x: cnnlib.BatchNorm2d(1).forward(x),
    lambda x: cnnlib.Dropout(0.3, rng=np.random.default_rng(0)).forward(x),
    lambda x: F.conv2d(x, np.ones((1, 1, 2, 2))),
    lambda x: F.conv2d(np.ones((2, 1, 4, 4)), x[:1, :, :2, :2]),
    lambda x: F.max_pool2d(x),
    lambda x: F.avg_pool2d(x),
    lambda x: F.relu(x),
    lambda x: F.gelu(x),
    lambda x: F.softmax(x),
    lambda x: cnnlib.MSELoss().forward(x, np.ones(x.shape)),
    lambda x: cnnlib.CrossEntropyLoss().forward(x.reshape(2, -1), np.array([0, 1])),
    lambda x: cnnlib.train.predict(tiny(), x[:, :, :2, :2]),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("x", BAD_ARRAYS, ids=lambda a: a.dtype.name)
def test_non_real_arrays_are_refused_clearly(call, x):
    with pytest.raises(TypeError, match=r"dtype .*; expected real numbers"):
        call(x)


def test_float_precision_mismatch_is_refused():
    conv = cnnlib.Conv2d(1, 2, 3, rng=RNG, dtype=np.float32)
    with pytest.raises(TypeError, match="Conv2d: input is float64 but the layer's parameters "
                                        "are float32; convert with x.astype"):
        conv.forward(np.ones((1, 1, 4, 4)))
    assert conv.forward(np.ones((1, 1, 4, 4), dtype=np.int64)).dtype == np.float32


def test_dropout_computes_integer_input_in_float():
    drop = cnnlib.Dropout(0.5, rng=np.random.default_rng(0))
    y = drop.forward(np.ones(1000, dtype=np.int64))
    assert y.dtype == np.float64 and set(np.unique(y)) == {0.0, 2.0}


def test_nll_loss_refuses_rows_that_are_not_log_probabilities():
    loss = cnnlib.NLLLoss()
    with pytest.raises(ValueError, match="NLLLoss: expects log-probabilities, but row 1 "
                                         "exponentiates to a total of"):
        loss.forward(np.log([[0.5, 0.5], [0.9, 0.9]]), np.array([0, 1]))
    assert "log-probabilities" in cnnlib.NLLLoss.__doc__


@pytest.mark.parametrize("bad, message", [
    (np.array([[0], [1]]), r"one-hot or \(N, 1\) labels"),
    (np.eye(3)[[0, 1]], "labels must be integers"),
    (np.array([0.0, 1.0]), "labels must be integers"),
    (np.array([0, 5]), r"labels must lie in \[0, 2\]"),
])
def test_evaluate_refuses_labels_that_are_not_class_indices(bad, message):
    model = cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(4, 3, rng=RNG))
    with pytest.raises((ValueError, TypeError), match=message):
        cnnlib.train.evaluate(model, np.ones((2, 1, 2, 2)), bad)


def test_empty_batch_through_flatten_and_losses():
    assert cnnlib.Flatten().forward(np.ones((0, 3, 2, 2))).shape == (0, 12)
    for loss in (cnnlib.CrossEntropyLoss(), cnnlib.NLLLoss()):
        assert np.isnan(loss.forward(np.zeros((0, 4)), np.zeros(0, dtype=int)))
        assert loss.backward().shape == (0, 4)
    mse = cnnlib.MSELoss()
    assert np.isnan(mse.forward(np.zeros((0, 2)), np.zeros((0, 2))))
    assert mse.backward().shape == (0, 2)


def test_loss_backward_before_forward_is_refused():
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.backward called before forward"):
        cnnlib.CrossEntropyLoss().backward()


def test_summary_names_the_layer_that_does_not_fit():
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 4, 3, rng=RNG), cnnlib.ReLU(),
                              cnnlib.Conv2d(3, 2, 3, rng=RNG))
    with pytest.raises(ValueError, match=r"summary: layer 2 \(Conv2d\) does not fit the shape "
                                         r"\(1, 4, 6, 6\).*input has 4 channels but the layer "
                                         r"expects 3"):
        cnnlib.summary(model, (1, 8, 8), print_table=False)
    dense = cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(10, 2, rng=RNG))
    with pytest.raises(ValueError, match=r"layer 1 \(Linear\).*16 channels but the layer "
                                         r"expects 10"):
        cnnlib.summary(dense, (1, 4, 4), print_table=False)


def test_batchnorm_validates_before_touching_the_running_statistics():
    bn = cnnlib.BatchNorm2d(2)
    before = {k: v.copy() for k, v in bn.buffers.items()}
    for bad in (np.ones((4, 3, 2, 2)), np.ones((4, 2, 2)), np.ones((1, 2, 1, 1)),
                np.full((4, 2, 2, 2), np.nan), np.ones((4, 2, 2, 2), dtype=complex),
                np.ones((4, 2, 2, 2), dtype=np.float32)):
        with pytest.raises((ValueError, TypeError), match="BatchNorm2d"):
            bn.forward(bad)
    for k, v in bn.buffers.items():
        np.testing.assert_array_equal(v, before[k])


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = cnnlib.BatchNorm2d(1, momentum=None)
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((3, 1, 2, 2)) + i for i in range(4)]
    for b in batches:
        bn.forward(b)
    np.testing.assert_allclose(bn.buffers["running_mean"], [np.mean([b.mean() for b in batches])])


def test_optimiser_step_with_a_nan_gradient_changes_nothing():
    model = tiny()
    loss = cnnlib.CrossEntropyLoss()
    loss.forward(model.forward(np.ones((2, 1, 2, 2))), np.array([0, 1]))
    model.backward(loss.backward())
    model[1]._grads["bias"] = np.array([np.nan, 0.0])
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(ValueError, match="gradient of '1.bias' contains NaN"):
        cnnlib.SGD(model, 0.1).step()
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_numerical_gradient_on_a_non_contiguous_view():
    base = np.random.default_rng(1).standard_normal((4, 6))
    view = base[:, ::2]
    grad = numerical_gradient(lambda: float(np.sum(view ** 2)), view)
    np.testing.assert_allclose(grad, 2 * view, atol=1e-6)


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="numerical_gradient: x must be a float ndarray"):
        numerical_gradient(lambda: 0.0, np.arange(4))


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.arange(6.0).reshape(2, 3)
    original = x.copy()
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(x.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, original)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cnnlib.summary("net", (1, 4, 4)), TypeError, "summary: model must be a cnnlib Module"),
    (lambda: cnnlib.summary(tiny(), 5), TypeError, "summary: input_shape: shape must be a tuple"),
    (lambda: cnnlib.summary(tiny(), (1, -4, 4)), ValueError, "positive ints"),
    (lambda: cnnlib.receptive_field([1, 2]), TypeError, "receptive_field: model must be"),
    (lambda: cnnlib.save_weights(None, "w.npz"), TypeError, "save_weights: model must be"),
    (lambda: cnnlib.load_weights(tiny(), 3), TypeError, "path must be a str or os.PathLike"),
    (lambda: cnnlib.data.read_idx(None), TypeError, "read_idx: path must be a str"),
    (lambda: F.softmax(np.ones((2, 3)), axis=2), ValueError, r"softmax: axis must be an int in "
                                                             r"\[-2, 1\]"),
    (lambda: F.softmax(np.ones((2, 0))), ValueError, "softmax: axis -1 has no entries"),
    (lambda: F.log_softmax(np.float64(1.0)), ValueError, "log_softmax: expected an array"),
    (lambda: tiny()[5], IndexError, "Sequential: index 5 is out of range for 2 layers"),
    (lambda: tiny()[1.0], TypeError, "Sequential: index must be an int or a slice"),
    (lambda: F.avg_pool2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), 2), ValueError,
     r"avg_pool2d_backward: gradient has shape \(1, 1, 3, 3\) but the output had"),
    (lambda: cnnlib.data.tl_letters(sizes=(9,)), ValueError, "does not fit on a 8x8 canvas"),
    (lambda: cnnlib.data.flip_pixels(np.ones((1, 1, 2, 2)), 5, rng=RNG), ValueError,
     "n_pixels 5 is more than the 4 pixels"),
    (lambda: cnnlib.data.shift(np.ones((2, 2)), 1, 1), ValueError, "shift: expected a 4-D batch"),
    (lambda: cnnlib.Value("3"), TypeError, "Value: data must be a real number"),
    (lambda m=tiny(): cnnlib.train.fit(m, cnnlib.CrossEntropyLoss(), cnnlib.SGD(m, 0.1),
                                       np.ones((2, 1, 2, 2)), 3, epochs=1, batch_size=1,
                                       rng=RNG),
     ValueError, "fit: y must hold one label per example"),
    (lambda: cnnlib.train.fit(tiny(), cnnlib.CrossEntropyLoss(), cnnlib.SGD(tiny(), 0.1),
                              np.ones((2, 1, 2, 2)), np.zeros(2, int), epochs=1, batch_size=1,
                              rng=RNG),
     ValueError, "fit: the optimiser was built on another model"),
    (lambda m=tiny(): cnnlib.train.train_step(m, cnnlib.CrossEntropyLoss(),
                                              cnnlib.SGD(tiny(), 0.1), np.ones((2, 1, 2, 2)),
                                              np.zeros(2, int)),
     ValueError, "train_step: the optimiser was built on another model"),
])
def test_wrong_kinds_of_argument_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
