"""cnnlib.interop on the modern layers: norms, attention, upsampling, ConvNeXt, MobileNet, ViT.

The same checks as tests/test_interop.py (whose helpers these reuse): in
float64, the converted module's output, input gradient and every
parameter's gradient equal cnnlib's, in training and evaluation mode.
"""

import inspect
import pickle

import numpy as np
import pytest

import cnnlib
from cnnlib import models as M
from cnnlib.detection import small_detector
from cnnlib.interop import CONVERTERS, export_onnx, load_state_dict, to_torch
from test_interop import BIG, ZOO, check_same, close, onnx_output, randomise, same_state, state

torch = pytest.importorskip("torch")

F64 = {"dtype": np.float64}
TINY_CONVNEXT = {"widths": (4, 8), "depths": (1, 1), **F64}
TINY_VIT = {"image_size": 8, "patch_size": 4, "hidden_dim": 8, "num_layers": 2, "num_heads": 2,
            "mlp_dim": 16, **F64}


def randomise_all(model, rng):
    """:func:`randomise`, plus every parameter that starts at a constant: layer scales (1e-6),
    class tokens and zero heads would otherwise hide most of a gradient."""
    randomise(model, rng)
    for key, value in model.params.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf in ("layer_scale", "class_token") or not value.any():
            value[...] = rng.uniform(-1, 1, value.shape)
    return model


def _layers():
    rng = np.random.default_rng(1)
    r = {"rng": rng}
    return [
        (cnnlib.GELU(), (2, 3, 4, 4)),
        (cnnlib.GELU(approximate="none"), (2, 3, 4, 4)),
        (cnnlib.ReLU6(), (2, 3, 4, 4)),
        (cnnlib.Sigmoid(), (3, 5)),
        (cnnlib.GroupNorm(2, 4), (2, 4, 3, 3)),
        (cnnlib.GroupNorm(3, 3, eps=1e-3, affine=False), (2, 3, 5)),
        (cnnlib.LayerNorm(5), (2, 3, 5)),
        (cnnlib.LayerNorm((3, 5), eps=1e-3, elementwise_affine=False), (2, 3, 5)),
        (cnnlib.LayerNorm2d(3), (2, 3, 4, 5)),
        (cnnlib.LayerNorm2d(3, eps=1e-3, elementwise_affine=False), (2, 3, 4)),
        (cnnlib.MultiheadAttention(8, 2, **r), (2, 5, 8)),
        (cnnlib.MultiheadAttention(6, 3, bias=False, **r), (2, 4, 6)),
        (cnnlib.Upsample(2), (2, 3, 4, 5)),
        (cnnlib.Upsample((2, 3)), (2, 3, 4, 5)),
        (cnnlib.Upsample(1.5, mode="bilinear"), (2, 3, 4, 5)),
        (cnnlib.Upsample(2, mode="bilinear", align_corners=True), (2, 3, 4, 5)),
        (cnnlib.Upsample(size=(7, 9)), (2, 3, 4, 5)),
        (cnnlib.Upsample(size=(7, 3), mode="bilinear"), (2, 3, 4, 5)),
        (cnnlib.SqueezeExcitation(6, 2, **r), (2, 6, 4, 4)),
        (cnnlib.InvertedResidual(4, 4, 1, 2, **r), (4, 4, 5, 5)),
        (cnnlib.InvertedResidual(4, 6, 2, 1, **r), (4, 4, 5, 5)),
        (cnnlib.ConvNeXtBlock(4, **r), (2, 4, 5, 5)),
        (cnnlib.ConvNeXtBlock(4, approximate="tanh", expansion=2, **r), (2, 4, 3, 4)),
        (cnnlib.PatchEmbedding(2, 6, 2, **r), (2, 2, 4, 6)),
        (cnnlib.ClassToken(4), (2, 3, 4)),
        (cnnlib.PositionalEmbedding(3, 4, **r), (2, 3, 4)),
        (cnnlib.SelectToken(), (2, 3, 4)),
        (cnnlib.SelectToken(2), (2, 3, 4)),
        (cnnlib.EncoderBlock(2, 8, 12, **r), (2, 5, 8)),
        (cnnlib.EncoderBlock(1, 6, 4, approximate="tanh", eps=1e-5, **r), (2, 3, 6)),
    ]


LAYERS = _layers()


@pytest.mark.parametrize("layer, shape", LAYERS, ids=[repr(l).split("(")[0] + str(i)
                                                      for i, (l, _) in enumerate(LAYERS)])
def test_layer(layer, shape):
    rng = np.random.default_rng(2)
    randomise_all(layer, rng)
    for training in (True, False, True):
        layer.train(training)
        check_same(layer, rng.standard_normal(shape), rng)


BUILDERS = [
    (M.small_convnext, TINY_CONVNEXT, (2, 1, 28, 28)),
    (M.small_convnext, {"widths": (4,), "depths": (2,), "stem": 4, "approximate": "none", **F64},
     (2, 1, 8, 8)),
    (M.small_vit, TINY_VIT, (2, 1, 8, 8)),
    (M.small_vit, {**TINY_VIT, "num_heads": 1, "approximate": "none"}, (2, 1, 8, 8)),
    (small_detector, {"num_classes": 3, "width": 2, **F64}, (4, 1, 16, 16)),
]


@pytest.mark.parametrize("builder, kwargs, shape", BUILDERS,
                         ids=[b.__name__ + str(i) for i, (b, _, _) in enumerate(BUILDERS)])
def test_builder(builder, kwargs, shape):
    rng = np.random.default_rng(3)
    model = randomise_all(builder(rng=rng, **kwargs), rng)
    for training in (True, False):
        model.train(training)
        check_same(model, rng.standard_normal(shape), rng)


def test_every_layer_type_and_builder_is_covered():
    layer_types = [getattr(cnnlib.nn, name) for name in cnnlib.nn.__all__]
    missing = [t.__name__ for t in layer_types
               if issubclass(t, cnnlib.Module) and t is not cnnlib.Module
               and t not in CONVERTERS]
    assert not missing
    modern = {t for t, f in CONVERTERS.items() if f.__module__ == "cnnlib.interop.modern"}
    assert modern | {cnnlib.GELU} <= {type(layer) for layer, _ in LAYERS}
    builders = {name for name, f in inspect.getmembers(M, inspect.isfunction)
                if f.__module__ == M.__name__ and not name.startswith("_")}
    # AlexNet and VGG-16 hold only layer types that the smaller builders cover
    covered = {b.__name__ for b, _, _ in ZOO + BIG + BUILDERS} | {"alexnet", "vgg16",
                                                                   "convnext_tiny", "vit_b_16"}
    assert builders <= covered, builders - covered


def test_parameter_names_and_settings():
    rng = np.random.default_rng(4)
    mha = cnnlib.MultiheadAttention(8, 2, rng=rng)
    tm = to_torch(mha)
    assert isinstance(tm, torch.nn.MultiheadAttention) and tm.batch_first
    assert list(dict(tm.named_parameters())) == ["in_proj_weight", "in_proj_bias",
                                                 "out_proj.weight", "out_proj.bias"]
    block = to_torch(cnnlib.ConvNeXtBlock(4, rng=rng))
    assert dict(block.named_parameters())["layer_scale"].shape == (4, 1, 1)
    assert block.act.approximate == "none"
    assert to_torch(M.small_convnext(rng=rng, **TINY_CONVNEXT))[2].act.approximate == "tanh"
    assert isinstance(to_torch(cnnlib.LayerNorm2d(3)), torch.nn.LayerNorm)
    up = to_torch(cnnlib.Upsample(size=(3, 4), mode="bilinear", align_corners=True))
    assert (up.size, up.mode, up.align_corners) == ((3, 4), "bilinear", True)
    gn = to_torch(cnnlib.GroupNorm(2, 6, eps=1e-3, affine=False))
    assert (gn.num_groups, gn.num_channels, gn.eps, gn.affine) == (2, 6, 1e-3, False)
    vit = to_torch(M.small_vit(rng=rng, **{**TINY_VIT, "dtype": np.float32}))
    assert all(p.dtype == torch.float32 for p in vit.parameters())
    assert "ClassToken(8)" in repr(vit) and "PositionalEmbedding(5, 8)" in repr(vit)


def test_attention_fast_path_without_grad():
    """In evaluation mode without autograd, PyTorch's attention takes its fused kernel."""
    rng = np.random.default_rng(5)
    model = randomise_all(M.small_vit(rng=rng, **TINY_VIT), rng).eval()
    tm = to_torch(model)
    x = rng.standard_normal((3, 1, 8, 8))
    with torch.no_grad():
        close(model.forward(x), tm(torch.from_numpy(x)), "output without grad")


def test_load_state_dict_from_plain_torch_modules():
    """PyTorch's own attention and norms save the names cnnlib's layers use."""
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    for ours, theirs, shape in [
        (cnnlib.MultiheadAttention(6, 2, rng=rng),
         torch.nn.MultiheadAttention(6, 2, batch_first=True), (2, 4, 6)),
        (cnnlib.LayerNorm(6), torch.nn.LayerNorm(6), (2, 4, 6)),
        (cnnlib.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    ]:
        theirs.double().eval()
        for p in theirs.parameters():
            torch.nn.init.uniform_(p, -1, 1)
        load_state_dict(ours, theirs.state_dict())
        x = rng.standard_normal(shape)
        tx = torch.from_numpy(x)
        ty = theirs(tx, tx, tx)[0] if isinstance(theirs, torch.nn.MultiheadAttention) else theirs(tx)
        close(ours.forward(x), ty, type(ours).__name__)


@pytest.mark.parametrize("builder, kwargs, shape", BUILDERS[::2],
                         ids=[b.__name__ for b, _, _ in BUILDERS[::2]])
def test_load_state_dict_round_trip(builder, kwargs, shape):
    rng = np.random.default_rng(7)
    source = randomise_all(builder(rng=rng, **kwargs), rng).eval()
    target = builder(rng=np.random.default_rng(8), **kwargs).eval()
    load_state_dict(target, to_torch(source).state_dict())
    assert same_state(state(source), state(target))
    x = rng.standard_normal(shape)
    np.testing.assert_array_equal(target.forward(x), source.forward(x))
    back = to_torch(builder(rng=np.random.default_rng(9), **kwargs)).eval()
    back.load_state_dict(to_torch(source).state_dict())
    with torch.no_grad():
        close(source.forward(x), back(torch.from_numpy(x)), "loaded into PyTorch")


def test_converted_blocks_pickle():
    rng = np.random.default_rng(10)
    model = cnnlib.Sequential(cnnlib.ConvNeXtBlock(4, rng=rng), cnnlib.LayerNorm2d(4),
                              cnnlib.SqueezeExcitation(4, 2, rng=rng),
                              cnnlib.InvertedResidual(4, 4, 1, 2, rng=rng),
                              cnnlib.PatchEmbedding(4, 6, 2, rng=rng), cnnlib.ClassToken(6),
                              cnnlib.PositionalEmbedding(5, 6, rng=rng),
                              cnnlib.EncoderBlock(2, 6, 8, rng=rng), cnnlib.SelectToken())
    tm = to_torch(randomise_all(model, rng).eval())
    assert "ConvNeXtBlock(" in repr(tm) and "EncoderBlock(" in repr(tm)
    copy = pickle.loads(pickle.dumps(tm))
    x = torch.from_numpy(rng.standard_normal((2, 4, 4, 4)))
    with torch.no_grad():
        assert torch.equal(copy(x), tm(x))


@pytest.mark.parametrize("builder, kwargs, shape", [
    (M.small_convnext, {"widths": (4, 8), "depths": (1, 1)}, (1, 28, 28)),
    (M.small_vit, {"hidden_dim": 16, "num_layers": 1, "num_heads": 2, "mlp_dim": 16},
     (1, 28, 28)),
    (small_detector, {"num_classes": 3, "width": 2}, (1, 16, 16)),
])
@pytest.mark.slow
def test_export_onnx(tmp_path, builder, kwargs, shape):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(11)
    model = randomise_all(builder(rng=rng, **kwargs), rng).train()
    before = state(model)
    with torch.no_grad():  # where PyTorch's attention would pick its fused kernel
        path = export_onnx(model, tmp_path / "model.onnx", shape)
    assert model.training and same_state(before, state(model))
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    expected = model.eval().forward(x)
    np.testing.assert_allclose(onnx_output(path, x), expected, rtol=1e-4, atol=1e-5)


def check_structure(model, tm, count):
    theirs = dict(tm.named_parameters())
    assert list(theirs) == list(model.params)
    assert all(tuple(theirs[k].shape) == v.shape for k, v in model.params.items())
    assert sum(p.numel() for p in tm.parameters()) == model.num_params() == count


@pytest.mark.slow
def test_convnext_tiny():
    rng = np.random.default_rng(12)
    model = randomise_all(M.convnext_tiny(num_classes=5, rng=rng, **F64), rng)
    tm = check_same(model.eval(), rng.standard_normal((2, 3, 32, 32)), rng)
    check_structure(model, tm, 28_589_128 - 995 * 769)  # 5 classes instead of 1,000


@pytest.mark.slow
def test_vit_b_16():
    rng = np.random.default_rng(13)
    model = randomise_all(M.vit_b_16(num_classes=5, rng=rng, **F64), rng).eval()
    tm = to_torch(model)
    check_structure(model, tm, 86_567_656 - 995 * 769)
    x = rng.standard_normal((1, 3, 224, 224))
    with torch.no_grad():
        close(model.forward(x), tm(torch.from_numpy(x)), "output")
