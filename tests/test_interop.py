"""cnnlib.interop against PyTorch: conversion, state dicts and ONNX export.

Every conversion is checked in float64 on the same input: outputs, every
parameter's gradient (cnnlib's backward against autograd on the same loss)
and, in training mode, the updated running statistics.
"""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import cnnlib
from cnnlib import models as M
from cnnlib.interop import CONVERTERS, export_onnx, load_state_dict, register, to_torch

torch = pytest.importorskip("torch")

F64 = {"dtype": np.float64}
ZOO = [
    (M.tl_cnn, {"kernels": 4}, (2, 1, 8, 8)),
    (M.tl_dense, {}, (2, 1, 8, 8)),
    (M.lenet5, F64, (2, 1, 32, 32)),
    (M.plain_net, {"depth": 4, "channels": 4}, (2, 1, 8, 8)),
    (M.small_resnet, {"depth": 6, "channels": 4}, (2, 1, 8, 8)),
    (M.digits_cnn, {}, (2, 1, 8, 8)),
    (M.letters_cnn, F64, (2, 1, 28, 28)),
    (M.letters_dense, F64, (2, 1, 28, 28)),
    (M.fashion_cnn, {"channels": (4, 6, 8), **F64}, (2, 1, 28, 28)),
    (M.fashion_resnet, {"channels": (4, 6, 8), **F64}, (2, 1, 28, 28)),
    (M.small_cnn, {"width": 4, **F64}, (2, 1, 28, 28)),
    (M.small_gap_net, {"width": 4, **F64}, (2, 1, 28, 28)),
    (M.small_bottleneck_resnet, {"width": 2, "blocks": (1, 2), **F64}, (2, 1, 28, 28)),
    (M.small_separable_net, {"width": 4, **F64}, (2, 1, 28, 28)),
]
# ImageNet-sized builders: seconds each, so they run with the slow tests only. At 32x32 the
# last stage is 1x1, so a training-mode batch norm there normalises N values per channel:
# N = 4 keeps that well conditioned. AlexNet and VGG-16 (61M and 138M parameters, only
# layer types tested above) take minutes in float64 and are left out.
BIG = [
    (M.resnet18, {"num_classes": 5, **F64}, (4, 3, 32, 32)),
    (M.resnet50, {"num_classes": 5, **F64}, (4, 3, 32, 32)),
]


def randomise(model, rng):
    """Batch norm parameters and running statistics away from their 1/0 start values."""
    for key, value in {**model.params, **model.buffers}.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "running_var":
            value[...] = rng.uniform(0.5, 2.0, value.shape)
        elif leaf == "running_mean" or (value.ndim == 1 and leaf in ("weight", "bias")):
            value[...] = rng.uniform(-1, 1, value.shape) + (leaf == "weight")
    for m in model.modules():
        if isinstance(m, cnnlib.Dropout):
            m.p = 0.0  # masks come from different generators; p = 0 compares exactly
    return model


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.dtype == theirs.dtype, what
    scale = max(1.0, float(np.abs(ours).max(initial=0)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7 * scale, err_msg=what)


def check_same(model, x, rng):
    """Convert ``model`` in its current mode; compare output, gradients and buffers."""
    tm = to_torch(model)
    assert list(dict(tm.named_parameters())) == list(model.params)
    assert list(dict(tm.named_buffers())) == list(model.buffers)
    assert [m.training for m in tm.modules()] == [m.training for m in model.modules()]
    y = model.forward(x)
    tx = torch.from_numpy(x).requires_grad_()
    ty = tm(tx)
    close(y, ty, "output")
    dy = rng.standard_normal(y.shape)
    dx = model.backward(dy)
    (ty * torch.from_numpy(dy)).sum().backward()
    close(dx, tx.grad, "input gradient")
    for key, p in tm.named_parameters():
        close(model.grads[key], p.grad, f"gradient of {key}")
    for key, b in tm.named_buffers():
        close(model.buffers[key], b, f"buffer {key}")
    return tm


def run_zoo(builder, kwargs, shape):
    rng = np.random.default_rng(0)
    model = randomise(builder(rng=rng, **kwargs), rng)
    for training in (True, False):
        model.train(training)
        check_same(model, rng.standard_normal(shape), rng)


@pytest.mark.parametrize("builder, kwargs, shape", ZOO, ids=[b.__name__ for b, _, _ in ZOO])
def test_zoo(builder, kwargs, shape):
    run_zoo(builder, kwargs, shape)


@pytest.mark.slow
@pytest.mark.parametrize("builder, kwargs, shape", BIG, ids=[b.__name__ for b, _, _ in BIG])
def test_zoo_imagenet_builders(builder, kwargs, shape):
    run_zoo(builder, kwargs, shape)


def _layers():
    rng = np.random.default_rng(1)
    conv = {"rng": rng}
    return [
        (cnnlib.Conv2d(3, 4, 3, **conv), (2, 3, 7, 7)),
        (cnnlib.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2,
                       bias=False, **conv), (2, 4, 9, 8)),
        (cnnlib.Conv2d(4, 4, 3, padding=1, groups=4, **conv), (2, 4, 5, 5)),
        (cnnlib.ConvTranspose2d(3, 2, 4, stride=2, padding=1, **conv), (2, 3, 4, 5)),
        (cnnlib.ConvTranspose2d(3, 2, 3, stride=(2, 3), padding=1, output_padding=(1, 2),
                                bias=False, **conv), (2, 3, 4, 3)),
        (cnnlib.MaxPool2d(2), (2, 3, 6, 6)),
        (cnnlib.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 8, 8)),
        (cnnlib.MaxPool2d((3, 2), (2, 1), ceil_mode=True), (2, 3, 8, 7)),
        (cnnlib.AvgPool2d(2), (2, 3, 6, 6)),
        (cnnlib.AvgPool2d(3, 2), (2, 3, 7, 8)),
        (cnnlib.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
        (cnnlib.AdaptiveAvgPool2d((3, 4)), (2, 3, 5, 7)),
        (cnnlib.BatchNorm2d(3), (4, 3, 3, 3)),
        (cnnlib.BatchNorm2d(3, eps=1e-2, momentum=0.3), (4, 3, 3, 3)),
        (cnnlib.BatchNorm2d(3, momentum=None), (4, 3, 3, 3)),
        (cnnlib.Dropout(0.0, rng=rng), (2, 5)),
        (cnnlib.ReLU(), (2, 3, 4, 4)),
        (cnnlib.GELU(), (2, 3, 4, 4)),
        (cnnlib.LogSoftmax(), (3, 5)),
        (cnnlib.Flatten(), (2, 3, 4, 4)),
        (cnnlib.Linear(5, 3, **conv), (4, 5)),
        (cnnlib.Linear(5, 3, bias=False, **conv), (4, 5)),
        (cnnlib.Identity(), (2, 3)),
        (cnnlib.Sequential(cnnlib.Conv2d(2, 3, 3, **conv), cnnlib.ReLU(),
                           cnnlib.Sequential(cnnlib.BatchNorm2d(3), cnnlib.Flatten())),
         (2, 2, 5, 5)),
        (cnnlib.ResidualBlock(3, **conv), (2, 3, 5, 5)),
        (cnnlib.ResidualBlock(3, 5, stride=2, **conv), (2, 3, 5, 5)),
        (cnnlib.Bottleneck(8, 4, groups=2, **conv), (2, 8, 4, 4)),
        (cnnlib.Bottleneck(4, 2, 6, stride=2, **conv), (2, 4, 5, 5)),
        (cnnlib.Branches(cnnlib.Conv2d(3, 2, 1, **conv), cnnlib.Identity(),
                         cnnlib.Sequential(cnnlib.MaxPool2d(3, 1, 1),
                                           cnnlib.Conv2d(3, 4, 3, padding=1, **conv))),
         (2, 3, 5, 5)),
    ]


LAYERS = _layers()


@pytest.mark.parametrize("layer, shape", LAYERS, ids=[repr(l).split("(")[0] + str(i)
                                                      for i, (l, _) in enumerate(LAYERS)])
def test_layer(layer, shape):
    rng = np.random.default_rng(2)
    randomise(layer, rng)
    for training in (True, False, True):  # twice in training: momentum=None averages
        layer.train(training)
        check_same(layer, rng.standard_normal(shape), rng)


def test_module_types_and_settings():
    tm = to_torch(cnnlib.Sequential(cnnlib.GELU(), cnnlib.BatchNorm2d(2, momentum=None),
                                    cnnlib.Dropout(0.25, rng=np.random.default_rng(0))))
    assert tm[0].approximate == "tanh"
    assert isinstance(tm[1], torch.nn.BatchNorm2d) and tm[1].momentum is None
    assert isinstance(tm[2], torch.nn.Dropout) and tm[2].p == 0.25


def test_batch_count_moves_to_torch():
    rng = np.random.default_rng(3)
    bn = cnnlib.BatchNorm2d(2, momentum=None)
    for _ in range(3):
        bn.forward(rng.standard_normal((3, 2, 2, 2)))
    assert to_torch(bn).batches_tracked == 3 and to_torch(bn).num_batches_tracked is None
    tbn = check_same(bn, rng.standard_normal((3, 2, 2, 2)), rng)  # the 4th batch weighs 1/4
    assert tbn.batches_tracked == 4 and bn.num_batches_tracked == 4


def test_dropout_in_training_is_dropout():
    layer = cnnlib.Dropout(0.5, rng=np.random.default_rng(0))
    torch.manual_seed(0)
    y = to_torch(layer)(torch.ones(20000, dtype=torch.float64)).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.02  # 4.5 standard deviations
    assert np.array_equal(to_torch(layer.eval())(torch.ones(5)).numpy(), np.ones(5))


def test_mixed_modes_dtype_and_copies():
    model = M.fashion_cnn(channels=(2, 3, 4), rng=np.random.default_rng(0))  # float32
    model.train()
    model[1].eval()
    tm = to_torch(model)
    assert [m.training for m in tm] == [m.training for m in model]
    assert not tm[1].training and tm[4].training
    assert all(p.dtype == torch.float32 for p in tm.parameters())
    with torch.no_grad():
        tm[0].weight += 1
        tm[1].running_mean += 1
    assert model.params["0.weight"].max() < 1 and not model.buffers["1.running_mean"].any()


class Doubler(cnnlib.Module):
    def _forward(self, x):
        return 2 * x

    def _backward(self, dy):
        return 2 * dy


class Conv2dVariant(cnnlib.Conv2d):
    pass


def test_unsupported_layer_is_named():
    rng = np.random.default_rng(0)
    model = cnnlib.Sequential(cnnlib.Linear(2, 2, rng=rng),
                              cnnlib.Sequential(cnnlib.ReLU(), Doubler()))
    with pytest.raises(TypeError, match=r"model\.1\.1 is a Doubler.*no converter.*register"):
        to_torch(model)
    with pytest.raises(TypeError, match="Conv2dVariant"):
        to_torch(Conv2dVariant(1, 1, 1, rng=rng))
    with pytest.raises(TypeError, match="cnnlib Module"):
        to_torch(torch.nn.ReLU())


def test_register_adds_a_layer_type(monkeypatch):
    class TorchDoubler(torch.nn.Module):
        def forward(self, x):
            return 2 * x

    monkeypatch.setitem(CONVERTERS, Doubler, lambda layer, children: TorchDoubler())
    model = cnnlib.Sequential(cnnlib.Linear(3, 2, rng=np.random.default_rng(0)), Doubler())
    rng = np.random.default_rng(1)
    check_same(model, rng.standard_normal((4, 3)), rng)
    with pytest.raises(TypeError, match="Module subclass"):
        register(int)


def state(model):
    return ({k: v.copy() for k, v in {**model.params, **model.buffers}.items()},
            [getattr(m, "num_batches_tracked", None) for m in model.modules()])


def same_state(a, b):
    return (a[1] == b[1] and a[0].keys() == b[0].keys()
            and all(np.array_equal(a[0][k], b[0][k]) for k in a[0]))


def test_load_state_dict_round_trip():
    rng = np.random.default_rng(4)
    source = randomise(M.fashion_resnet(channels=(3, 4, 5), rng=rng), rng).eval()
    target = M.fashion_resnet(channels=(3, 4, 5), rng=np.random.default_rng(5)).eval()
    load_state_dict(target, to_torch(source).state_dict())
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(target.forward(x), source.forward(x))
    assert all(v.dtype == np.float32 for v in target.params.values())
    load_state_dict(target, {k: v.astype(np.float64) for k, v in state(source)[0].items()})
    assert all(v.dtype == np.float32 for v in target.params.values())  # cast to the model's


def test_load_state_dict_from_plain_torch_with_batch_count():
    rng = np.random.default_rng(6)
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 3, 3, bias=False, rng=rng),
                              cnnlib.BatchNorm2d(3, momentum=None), cnnlib.ReLU(),
                              cnnlib.Flatten(), cnnlib.Linear(12, 2, rng=rng))
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, bias=False),
                                    torch.nn.BatchNorm2d(3, momentum=None), torch.nn.ReLU(),
                                    torch.nn.Flatten(), torch.nn.Linear(12, 2)).double()
    for _ in range(2):
        reference(torch.from_numpy(rng.standard_normal((4, 1, 4, 4))))
    load_state_dict(model, reference.state_dict())
    assert model[1].num_batches_tracked == 2
    x = rng.standard_normal((4, 1, 4, 4))
    close(model.forward(x), reference(torch.from_numpy(x)), "train output")  # 3rd batch
    close(model.buffers["1.running_var"], reference[1].running_var, "running_var")
    model.eval(), reference.eval()
    close(model.forward(x), reference(torch.from_numpy(x)), "eval output")


@pytest.mark.parametrize("change, error, match", [
    (lambda d: d.pop("1.running_mean"), KeyError, r"missing \['1\.running_mean'\]"),
    (lambda d: d.update(extra=np.zeros(1)), KeyError, r"unexpected \['extra'\]"),
    (lambda d: d.update({"0.weight": np.zeros((3, 1, 3))}), ValueError,
     r"'0\.weight' has shape \(3, 1, 3\)"),
    (lambda d: d["4.bias"].__setitem__(0, np.nan), ValueError, r"'4\.bias' holds NaN"),
    (lambda d: d.update({"4.bias": np.full(2, 1e300)}), ValueError, r"'4\.bias' overflows"),
    (lambda d: d.update({"4.bias": np.zeros(2, complex)}), ValueError, "not real numbers"),
    (lambda d: d.update({"1.num_batches_tracked": -1}), ValueError, "non-negative integer"),
    (lambda d: d.update({"1.num_batches_tracked": 2.0}), ValueError, "non-negative integer"),
    (lambda d: d.update({"2.num_batches_tracked": 2}), KeyError, "unexpected"),
])
def test_load_state_dict_refuses_and_changes_nothing(change, error, match):
    rng = np.random.default_rng(7)
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 3, 3, bias=False, rng=rng, dtype=np.float32),
                              cnnlib.BatchNorm2d(3, dtype=np.float32), cnnlib.ReLU(),
                              cnnlib.Flatten(), cnnlib.Linear(12, 2, rng=rng, dtype=np.float32))
    model[1].num_batches_tracked = 5
    good = {k: rng.standard_normal(v.shape) for k, v in state(model)[0].items()}
    good["4.bias"] = good["4.bias"].copy()
    change(good)
    before = state(model)
    with pytest.raises(error, match=match):
        load_state_dict(model, good)
    assert same_state(before, state(model))


def test_load_state_dict_bad_arguments():
    model = cnnlib.Sequential(cnnlib.ReLU())
    with pytest.raises(TypeError, match="mapping"):
        load_state_dict(model, [("a", 1)])
    with pytest.raises(TypeError, match="keys must be str"):
        load_state_dict(model, {1: np.zeros(1)})
    with pytest.raises(TypeError, match="cnnlib Module"):
        load_state_dict(torch.nn.ReLU(), {})
    load_state_dict(model, {})


def onnx_output(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.mark.parametrize("builder, kwargs, shape", [
    (M.letters_cnn, {}, (1, 28, 28)),
    (M.fashion_resnet, {"channels": (4, 6, 8)}, (1, 1, 28, 28)),
    (M.small_separable_net, {"width": 4}, (1, 28, 28)),
])
@pytest.mark.slow
def test_export_onnx(tmp_path, builder, kwargs, shape):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(8)
    model = randomise(builder(rng=rng, **kwargs), rng).train()
    before = state(model)
    path = export_onnx(model, tmp_path / "model.onnx", shape)
    assert path == tmp_path / "model.onnx" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert model.training and same_state(before, state(model))
    x = rng.standard_normal((3, *shape[-3:])).astype(np.float32)  # the batch axis is dynamic
    expected = model.eval().forward(x)
    np.testing.assert_allclose(onnx_output(path, x), expected, rtol=1e-4, atol=1e-5)


def test_export_onnx_uneven_adaptive_pool_and_float64(tmp_path):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(9)
    model = cnnlib.Sequential(cnnlib.Conv2d(2, 3, 3, rng=rng), cnnlib.AdaptiveAvgPool2d((3, 2)),
                              cnnlib.Flatten(), cnnlib.Linear(18, 4, rng=rng)).eval()
    (tmp_path / "m.onnx").write_bytes(b"old")
    path = export_onnx(model, str(tmp_path / "m.onnx"), (1, 2, 7, 9))
    x = rng.standard_normal((2, 2, 7, 9))
    np.testing.assert_allclose(onnx_output(path, x.astype(np.float32)), model.forward(x),
                               rtol=1e-5, atol=1e-5)


def test_export_onnx_refusals(tmp_path):
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="input_shape"):
        export_onnx(model, tmp_path / "m.onnx", (1, 0, 5))
    with pytest.raises(ValueError, match="does not run on input_shape"):
        export_onnx(model, tmp_path / "m.onnx", (3, 5, 5))
    with pytest.raises(TypeError, match="Doubler"):
        export_onnx(cnnlib.Sequential(Doubler()), tmp_path / "m.onnx", (1, 5, 5))
    assert not list(tmp_path.iterdir())


def test_converted_blocks_pickle():
    rng = np.random.default_rng(10)
    model = randomise(M.small_bottleneck_resnet(width=2, rng=rng, dtype=np.float64), rng).eval()
    tm = to_torch(model)
    assert repr(tm).count("Bottleneck(") == 2 and "BatchNorm2d(" in repr(tm)
    copy = pickle.loads(pickle.dumps(tm))
    x = torch.from_numpy(rng.standard_normal((2, 1, 28, 28)))
    with torch.no_grad():
        assert torch.equal(copy(x), tm(x))


def test_torch_side_load_state_dict_takes_plain_dicts_and_batch_counts():
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=np.random.default_rng(0)),
                              cnnlib.BatchNorm2d(2, momentum=None))
    tm = to_torch(model)
    tm.load_state_dict(dict(tm.state_dict()))  # no metadata: no num_batches_tracked added
    reference = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3),
                                    torch.nn.BatchNorm2d(2, momentum=None)).double()
    for _ in range(3):
        reference(torch.ones(2, 1, 5, 5, dtype=torch.float64))
    saved = reference.state_dict()
    tm.load_state_dict(saved)
    assert tm[1].batches_tracked == 3 and "1.num_batches_tracked" in saved


@pytest.mark.slow
def test_ddp_step_script():
    """Two gloo processes under torchrun: DDP's gradient is the whole-batch gradient."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "cnnlib.book.ddp_step"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    assert report["world_size"] == 2
    assert report["vs_torch_single_process"] < 1e-12 and report["vs_cnnlib_backward"] < 1e-12
