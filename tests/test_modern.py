"""Norms, attention and the modern blocks: finite-difference gradients, shapes, errors, the zoo."""

import inspect

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib import models
from cnnlib.book.reference import attention_naive, multihead_attention_naive
from cnnlib.tools.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.tools.shapes import receptive_field, summary

TOL = 1e-7


def randomise(layer, rng, scale=0.5):
    """Random parameters, so that ones, zeros and a layer scale of 1e-6 hide nothing."""
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    return layer


@pytest.mark.parametrize("make, shape", [
    (lambda rng: cnnlib.LayerNorm(5), (3, 5)),
    (lambda rng: cnnlib.LayerNorm((3, 4)), (2, 2, 3, 4)),
    (lambda rng: cnnlib.LayerNorm(4, elementwise_affine=False), (2, 3, 4)),
    (lambda rng: cnnlib.LayerNorm2d(3), (2, 3, 4, 5)),
    (lambda rng: cnnlib.GroupNorm(2, 4), (3, 4, 3, 2)),
    (lambda rng: cnnlib.GroupNorm(3, 3, affine=False), (2, 3, 4)),
    (lambda rng: cnnlib.GroupNorm(1, 2), (2, 2, 3, 3)),
    (lambda rng: cnnlib.GELU(approximate="none"), (3, 7)),
    (lambda rng: cnnlib.Sigmoid(), (3, 7)),
    (lambda rng: cnnlib.MultiheadAttention(6, 2, rng=rng), (2, 4, 6)),
    (lambda rng: cnnlib.MultiheadAttention(4, 1, bias=False, rng=rng), (1, 3, 4)),
    (lambda rng: cnnlib.PatchEmbedding(2, 3, 2, rng=rng), (2, 2, 4, 6)),
    (lambda rng: cnnlib.ClassToken(3), (2, 4, 3)),
    (lambda rng: cnnlib.PositionalEmbedding(4, 3, rng=rng), (2, 4, 3)),
    (lambda rng: cnnlib.SelectToken(1), (2, 4, 3)),
])
def test_gradients_match_finite_differences(make, shape):
    rng = np.random.default_rng(1)
    layer = randomise(make(rng), rng)
    errors = check_layer(layer, rng.standard_normal(shape), rng=rng)
    assert max(errors.values()) < TOL, errors


def sampled_check(layer, x, rng, count=10, eps=1e-6):
    """check_layer's test on ``count`` random entries of the input and of each parameter.

    The blocks hold hundreds of weights and each forward pass runs several
    convolutions, so every entry would take seconds; a random sample of each
    array catches a wrong term just as surely.
    """
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    grads = {"input": layer.backward(dy), **{k: g.copy() for k, g in layer.grads.items()}}
    arrays = {"input": x, **layer.params}
    errors = {}
    for name, a in arrays.items():
        picks = rng.choice(a.size, size=min(count, a.size), replace=False)
        numeric, analytic = [], []
        for flat in picks:
            i = np.unravel_index(flat, a.shape)
            old = a[i]
            a[i] = old + eps
            up = np.sum(layer.forward(x) * dy)
            a[i] = old - eps
            down = np.sum(layer.forward(x) * dy)
            a[i] = old
            numeric.append((up - down) / (2 * eps))
            analytic.append(grads[name][i])
        errors[name] = rel_error(np.array(analytic), np.array(numeric))
    return errors


@pytest.mark.parametrize("make, shape", [
    (lambda rng: cnnlib.SqueezeExcitation(4, 2, rng=rng), (2, 4, 3, 3)),
    (lambda rng: cnnlib.InvertedResidual(3, 3, 1, 2, rng=rng), (2, 3, 4, 4)),
    (lambda rng: cnnlib.InvertedResidual(2, 3, 2, 1, rng=rng), (2, 2, 5, 5)),
    (lambda rng: cnnlib.ConvNeXtBlock(3, rng=rng), (2, 3, 4, 4)),
    (lambda rng: cnnlib.ConvNeXtBlock(4, approximate="tanh", expansion=2, rng=rng),
     (1, 4, 3, 3)),
    (lambda rng: cnnlib.EncoderBlock(2, 4, 6, rng=rng), (2, 3, 4)),
    (lambda rng: models.small_vit(rng=rng, patch_size=14, hidden_dim=4, num_heads=2,
                                  num_layers=1, mlp_dim=6, dtype=np.float64), (2, 1, 28, 28)),
])
def test_block_gradients_match_finite_differences(make, shape):
    rng = np.random.default_rng(1)
    layer = randomise(make(rng), rng)
    errors = sampled_check(layer, rng.standard_normal(shape), rng)
    assert max(errors.values()) < TOL, errors


def test_relu6_gradient_away_from_the_corners():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-3, -0.1, 5), rng.uniform(0.1, 5.9, 5), rng.uniform(6.1, 9, 5)])
    assert max(check_layer(cnnlib.ReLU6(), x, rng=rng).values()) < TOL
    np.testing.assert_array_equal(cnnlib.ReLU6().forward(np.array([-1.0, 0.0, 3.0, 6.0, 8.0])),
                                  [0, 0, 3, 6, 6])


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal", "row_masked"])
def test_attention_gradients(mask):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    kwargs = {}
    if mask == "bool":
        kwargs["attn_mask"] = rng.random((3, 5)) > 0.3
        kwargs["attn_mask"][:, 0] = True
    elif mask == "float":
        kwargs["attn_mask"] = rng.standard_normal((2, 3, 5))
    elif mask == "row_masked":
        kwargs["attn_mask"] = np.ones((3, 5), dtype=bool)
        kwargs["attn_mask"][1] = False
    if mask == "causal":
        q, k, v = q[:, :3], k[:, :3], v[:, :3]
        kwargs["is_causal"] = True
    out, saved = F.scaled_dot_product_attention_forward(q, k, v, **kwargs)
    dout = rng.standard_normal(out.shape)
    grads = F.scaled_dot_product_attention_backward(dout, saved)

    def scalar():
        return float(np.sum(F.scaled_dot_product_attention(q, k, v, **kwargs) * dout))

    for a, g in zip((q, k, v), grads):
        assert rel_error(g, numerical_gradient(scalar, a)) < TOL
    if mask == "row_masked":  # a query that sees no key gets zeros, as in PyTorch
        np.testing.assert_array_equal(out[:, 1], 0)
        np.testing.assert_array_equal(grads[0][:, 1], 0)


def test_attention_by_hand():
    q = np.array([[1.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[10.0], [20.0]])
    w = np.exp([1 / np.sqrt(2), 0])
    expected = (w @ v[:, 0]) / w.sum()
    assert F.scaled_dot_product_attention(q, k, v)[0, 0] == pytest.approx(expected, abs=1e-13)
    only_second = F.scaled_dot_product_attention(q, k, v, np.array([[False, True]]))
    assert only_second[0, 0] == 20.0


def test_norms_normalise_what_they_say():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 3, 3)) * 3 + 1
    y = cnnlib.GroupNorm(3, 6).forward(x).reshape(2, 3, -1)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-13)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-4)  # eps keeps it just below 1
    y = cnnlib.LayerNorm2d(6).forward(x)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-13)
    moved = np.moveaxis(x, 1, -1)
    np.testing.assert_allclose(np.moveaxis(cnnlib.LayerNorm(6, eps=1e-6).forward(moved), -1, 1),
                               y, atol=1e-13)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cnnlib.GroupNorm(3, 4), ValueError,
     r"GroupNorm: num_channels 4 is not divisible by num_groups 3"),
    (lambda: cnnlib.GroupNorm(2, 4).forward(np.zeros((2, 6, 3))), ValueError,
     r"GroupNorm: input has 6 channels but the layer expects 4"),
    (lambda: F.group_norm(np.zeros((2, 6, 3)), 4), ValueError,
     r"group_norm: the input's 6 channels are not divisible by num_groups 4"),
    (lambda: cnnlib.LayerNorm(4).forward(np.zeros((2, 5))), ValueError,
     r"LayerNorm: the input's trailing shape must be normalized_shape \(4,\)"),
    (lambda: cnnlib.LayerNorm((2, 3)).forward(np.zeros(3)), ValueError,
     r"LayerNorm: the input's trailing shape must be normalized_shape \(2, 3\)"),
    (lambda: cnnlib.LayerNorm(0), ValueError, r"LayerNorm: normalized_shape must be a positive"),
    (lambda: cnnlib.LayerNorm(4, eps=0), ValueError, r"LayerNorm: eps must be a finite number > 0"),
    (lambda: cnnlib.LayerNorm2d(3).forward(np.zeros((2, 4, 2, 2))), ValueError,
     r"LayerNorm2d: input has 4 channels but the layer expects 3"),
    (lambda: cnnlib.MultiheadAttention(10, 3, rng=np.random.default_rng(0)), ValueError,
     r"MultiheadAttention: embed_dim 10 is not divisible by num_heads 3"),
    (lambda: cnnlib.MultiheadAttention(4, 2, rng=np.random.default_rng(0)).forward(
        np.zeros((2, 3, 5))), ValueError,
     r"MultiheadAttention: input has 5 features but the layer expects embed_dim 4"),
    (lambda: cnnlib.MultiheadAttention(4, 2, rng=np.random.default_rng(0)).forward(
        np.zeros((3, 4))), ValueError, r"MultiheadAttention: expected a 3-D input \(N, L, E\)"),
    (lambda: F.scaled_dot_product_attention(np.zeros((2, 3, 4)), np.zeros((2, 5, 3)),
                                            np.zeros((2, 5, 1))), ValueError,
     r"scaled_dot_product_attention: query and key must have the same embedding size E"),
    (lambda: F.scaled_dot_product_attention(np.zeros((3, 4)), np.zeros((5, 4)),
                                            np.zeros((4, 1))), ValueError,
     r"scaled_dot_product_attention: key and value must have the same length S"),
    (lambda: F.scaled_dot_product_attention(np.zeros((2, 3, 4)), np.zeros((3, 5, 4)),
                                            np.zeros((3, 5, 1))), ValueError,
     r"share their leading \(batch\) axes"),
    (lambda: F.scaled_dot_product_attention(np.zeros((3, 4)), np.zeros((5, 4)),
                                            np.zeros((5, 1)), np.ones((5, 3), bool)),
     ValueError, r"attn_mask of shape \(5, 3\) does not broadcast to the scores' shape \(3, 5\)"),
    (lambda: F.scaled_dot_product_attention(np.zeros((3, 4)), np.zeros((5, 4)),
                                            np.zeros((5, 1)), np.ones((3, 5), int)),
     TypeError, r"attn_mask must be bool \(True = take part\) or float"),
    (lambda: F.scaled_dot_product_attention(np.zeros((3, 4)), np.zeros((3, 4)),
                                            np.zeros((3, 1)), np.ones((3, 3), bool),
                                            is_causal=True), ValueError, r"not both"),
    (lambda: cnnlib.GELU(approximate="erf"), ValueError,
     r"GELU: approximate must be 'none' \(exact, with erf\) or 'tanh', got 'erf'"),
    (lambda: cnnlib.InvertedResidual(4, 4, 3, 6, rng=np.random.default_rng(0)), ValueError,
     r"InvertedResidual: stride must be 1 or 2, got 3"),
    (lambda: cnnlib.PatchEmbedding(1, 8, 4, rng=np.random.default_rng(0)).forward(
        np.zeros((1, 1, 30, 28))), ValueError,
     r"PatchEmbedding: image 30x28 is not divisible into 4x4 patches"),
    (lambda: cnnlib.PositionalEmbedding(5, 4, rng=np.random.default_rng(0)).forward(
        np.zeros((1, 6, 4))), ValueError,
     r"PositionalEmbedding: the sequence has 6 tokens but the embedding has seq_length 5"),
    (lambda: cnnlib.EncoderBlock(2, 8, 16, rng=np.random.default_rng(0)).forward(
        np.zeros((1, 6, 4))), ValueError, r"EncoderBlock: tokens have 4 features"),
    (lambda: models.small_vit(rng=np.random.default_rng(0), patch_size=5), ValueError,
     r"small_vit: image_size 28 is not divisible by patch_size 5"),
    (lambda: models.small_convnext(rng=np.random.default_rng(0), widths=(8,), depths=(1, 1)),
     ValueError, r"small_convnext: widths and depths need one entry per stage"),
    (lambda: cnnlib.MultiheadAttention(4, 2, rng=np.random.default_rng(0)).attention_weights(),
     RuntimeError, r"attention_weights called before forward"),
])
def test_bad_arguments_are_refused_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("make, shape", [
    (lambda rng: cnnlib.LayerNorm(4), (2, 3, 4)),
    (lambda rng: cnnlib.LayerNorm(4, elementwise_affine=False), (2, 3, 4)),
    (lambda rng: cnnlib.GroupNorm(2, 4), (2, 4, 3, 3)),
    (lambda rng: cnnlib.LayerNorm2d(4), (2, 4, 3, 3)),
    (lambda rng: cnnlib.MultiheadAttention(4, 2, rng=rng), (2, 3, 4)),
    (lambda rng: cnnlib.EncoderBlock(2, 4, 8, rng=rng), (2, 3, 4)),
    (lambda rng: cnnlib.ConvNeXtBlock(4, rng=rng), (2, 4, 5, 5)),
    (lambda rng: cnnlib.InvertedResidual(4, 4, 1, 2, rng=rng), (2, 4, 5, 5)),
    (lambda rng: cnnlib.SqueezeExcitation(4, 2, rng=rng), (2, 4, 5, 5)),
    (lambda rng: cnnlib.PatchEmbedding(4, 3, 5, rng=rng), (2, 4, 5, 5)),
    (lambda rng: cnnlib.ClassToken(4), (2, 3, 4)),
    (lambda rng: cnnlib.PositionalEmbedding(3, 4, rng=rng), (2, 3, 4)),
    (lambda rng: cnnlib.SelectToken(), (2, 3, 4)),
    (lambda rng: cnnlib.GELU(approximate="none"), (2, 3, 4)),
    (lambda rng: cnnlib.Sigmoid(), (2, 3, 4)),
    (lambda rng: cnnlib.ReLU6(), (2, 3, 4)),
])
def test_module_contract(make, shape):
    rng = np.random.default_rng(5)
    layer = randomise(make(rng), rng)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros(shape))
    x = rng.standard_normal(shape) * 3
    y = layer.forward(x)
    assert y.shape == layer.out_shape(shape)
    with pytest.raises(ValueError, match="gradient has shape"):
        layer.backward(np.zeros((1,) + y.shape))
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy).copy()
    grads = {k: g.copy() for k, g in layer.grads.items()}
    x[...] = 7.0  # the caller reuses its buffers: the layer kept copies
    y[...] = -3.0
    np.testing.assert_array_equal(layer.backward(dy), dx)
    for k, g in layer.grads.items():  # written again, not added to
        np.testing.assert_array_equal(g, grads[k])
    if layer.dtype is None:
        y32 = layer.forward(x.astype(np.float32))
        assert y32.dtype == np.float32 == layer.backward(np.ones_like(y32)).dtype
    else:
        with pytest.raises(TypeError, match="input is float32 but the layer's parameters are"):
            layer.forward(np.zeros(shape, dtype=np.float32))


def test_float32_model_stays_float32():
    rng = np.random.default_rng(6)
    for model in (models.small_vit(rng=rng, num_layers=1, hidden_dim=16, mlp_dim=32),
                  models.small_convnext(rng=rng, widths=(8, 16), depths=(1, 1))):
        y = model.forward(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
        assert y.dtype == np.float32 and y.shape == (2, 10)
        model.backward(np.ones_like(y))
        assert all(g.dtype == np.float32 for g in model.grads.values())


def test_mha_weights_and_init_follow_pytorch():
    mha = cnnlib.MultiheadAttention(12, 3, rng=np.random.default_rng(0))
    w = mha.params["in_proj_weight"]
    assert abs(w).max() <= np.sqrt(6 / (12 + 36)) and abs(w).max() > 0.9 * np.sqrt(6 / 48)
    assert abs(mha.params["out_proj.weight"]).max() <= 1 / np.sqrt(12)
    assert not mha.params["in_proj_bias"].any() and not mha.params["out_proj.bias"].any()
    assert list(mha.params) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                "out_proj.bias"]
    x = np.random.default_rng(1).standard_normal((2, 5, 12))
    mha.forward(x)
    weights = mha.attention_weights(average=False)
    assert weights.shape == (2, 3, 5, 5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1, atol=1e-14)
    np.testing.assert_allclose(mha.attention_weights(), weights.mean(axis=1))


def test_macs_follow_the_stated_conventions():
    mha = cnnlib.MultiheadAttention(8, 2, rng=np.random.default_rng(0))
    n, length, e = 3, 5, 8
    assert mha.macs((n, length, e)) == n * (4 * length * e * e + 2 * length * length * e)
    block = cnnlib.EncoderBlock(2, 8, 16, rng=np.random.default_rng(0))
    assert block.macs((n, length, e)) == mha.macs((n, length, e)) + 2 * n * length * e * 16
    se = cnnlib.SqueezeExcitation(8, 2, rng=np.random.default_rng(0))
    assert se.macs((1, 8, 5, 5)) == 8 * 2 * 2
    with pytest.raises(ValueError, match="receptive field is the whole input"):
        se.windows()
    rows = receptive_field(cnnlib.Sequential(
        cnnlib.Conv2d(8, 8, 3, rng=np.random.default_rng(0)), se, cnnlib.ReLU()), (8, 9, 9))
    assert [row[2] for row in rows] == [1, 3, 9, 9]
    net = cnnlib.Sequential(cnnlib.ConvNeXtBlock(4, rng=np.random.default_rng(0)))
    assert receptive_field(net)[-1][2] == 7
    vit = models.small_vit(rng=np.random.default_rng(0), num_layers=1, hidden_dim=8, mlp_dim=8)
    sizes = [row[2] for row in receptive_field(vit, (1, 28, 28))]
    assert sizes[:4] == [1, 4, 4, 4] and sizes[4:] == [28] * 4  # a patch, then everything


@pytest.mark.slow
def test_convnext_tiny_counts_equal_torchvision(capsys):
    model = models.convnext_tiny(rng=np.random.default_rng(0))
    assert model.num_params() == 28_589_128
    assert all(p.dtype == np.float32 for p in model.params.values())
    table = summary(model, (3, 224, 224))
    assert table.total_params == 28_589_128 and table.rows[-1].out_shape == (1, 1000)
    assert table.total_macs == 4_455_531_264  # torchvision lists 4.46 GFLOPS
    assert "28,589,128" in capsys.readouterr().out
    first = model[2]
    assert first.params["layer_scale"].shape == (96, 1, 1)
    np.testing.assert_array_equal(first.params["layer_scale"], np.float32(1e-6))


def test_vit_b_16_count_without_building_it_whole():
    """ViT-B/16 is the part outside the encoder plus 12 equal blocks: building the real
    builder's layout with one and with two blocks gives both, without 86M weights."""
    def count(layers):
        return models._vit(1000, np.random.default_rng(0), np.float32, image_size=224,
                           patch_size=16, num_layers=layers, num_heads=12, hidden_dim=768,
                           mlp_dim=3072, in_channels=3, approximate="none",
                           name="vit_b_16").num_params()
    one, two = count(1), count(2)
    assert one + 11 * (two - one) == 86_567_656
    assert two - one == 7_087_872  # ln_1, attention, ln_2, MLP of one encoder block


@pytest.mark.slow
def test_vit_b_16_counts_equal_torchvision():
    model = models.vit_b_16(rng=np.random.default_rng(0))
    assert model.num_params() == 86_567_656
    table = summary(model, (3, 224, 224), print_table=False)
    assert table.total_params == 86_567_656 and table.rows[-1].out_shape == (1, 1000)
    assert table.total_macs == 17_563_828_224  # torchvision lists 17.56 GFLOPS
    assert [row.out_shape for row in table.rows[:3]] == [(1, 196, 768), (1, 197, 768),
                                                        (1, 197, 768)]


@pytest.mark.parametrize("name", ["small_convnext", "small_vit"])
def test_small_modern_variants_train(name):
    rng = np.random.default_rng(1)
    model = getattr(models, name)(rng=rng)
    assert 30_000 < model.num_params() < 110_000
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 8)
    loss, opt = cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, lr=3e-3)
    losses = []
    for _ in range(5):
        out = model.forward(x)
        assert out.shape == (8, 10) and out.dtype == np.float32
        losses.append(loss.forward(out, labels))
        model.backward(loss.backward())
        opt.step()
    assert losses[-1] < losses[0]
    assert summary(model, (1, 28, 28), print_table=False).total_params == model.num_params()


def test_attention_agrees_with_the_reference_loops():
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    mask = rng.random((4, 5)) > 0.4
    mask[2] = False
    for m in (None, mask):
        np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, m),
                                   attention_naive(q, k, v, m), rtol=1e-12, atol=1e-14)
    mha = randomise(cnnlib.MultiheadAttention(6, 3, rng=rng), rng)
    x = rng.standard_normal((2, 4, 6))
    y = mha.forward(x)
    for n in range(2):
        np.testing.assert_allclose(y[n], multihead_attention_naive(x[n], mha.params, 3),
                                   rtol=1e-12, atol=1e-14)


def test_exact_gelu_on_scalars_empty_arrays_and_float32():
    assert F.gelu(1.0, approximate="none") == pytest.approx(0.8413447460685429, abs=1e-15)
    assert F.gelu(np.zeros((0, 3)), approximate="none").shape == (0, 3)
    y = F.gelu(np.array([-2.0, 3.0], dtype=np.float32), approximate="none")
    assert y.dtype == np.float32
    np.testing.assert_allclose(F.normal_cdf(np.array([0.0, 1.0])), [0.5, 0.8413447460685429],
                               rtol=1e-15)


def test_the_imagenet_builders_share_the_zoo_signature():
    for build in (models.convnext_tiny, models.vit_b_16):
        parameters = inspect.signature(build).parameters
        assert list(parameters)[:3] == ["num_classes", "rng", "dtype"]
        assert parameters["num_classes"].default == 1000
        assert parameters["rng"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["dtype"].default is np.float32
    with pytest.raises(ValueError, match="vit_b_16: num_classes must be a positive int"):
        models.vit_b_16(0, rng=np.random.default_rng(0))
