"""Norms, attention and the modern blocks against PyTorch: outputs and every gradient, float64."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib import models

torch = pytest.importorskip("torch")
nn, tF = torch.nn, torch.nn.functional


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def randomise(layer, rng, scale=0.5):
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    return layer


def load_into_torch(module, params, rename=None, reshape=None):
    """Copy cnnlib parameters into a torch module by name; returns the torch parameters by our name."""
    rename, reshape = rename or {}, reshape or {}
    theirs = dict(module.named_parameters())
    out = {}
    with torch.no_grad():
        for key, value in params.items():
            p = theirs[rename.get(key, key)]
            p.copy_(torch.tensor(value).reshape(p.shape))
            out[key] = p
    assert len(out) == len(theirs), sorted(set(theirs) - {rename.get(k, k) for k in out})
    return out


def compare(layer, module, x, rng, rename=None):
    """Forward and backward of ``layer`` and ``module`` on ``x``: outputs, dx, every grad."""
    theirs = load_into_torch(module, layer.params, rename)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = module(tx)
    ty.backward(torch.tensor(dy))
    close(y, ty)
    close(dx, tx.grad)
    for key, p in theirs.items():
        close(layer.grads[key], p.grad.reshape(layer.grads[key].shape))


@pytest.mark.parametrize("groups, channels, shape, affine", [
    (2, 4, (3, 4, 5, 6), True), (1, 3, (2, 3, 4), True), (3, 3, (2, 3, 2, 2, 2), False),
    (4, 8, (2, 8), True)])
def test_group_norm(groups, channels, shape, affine):
    rng = np.random.default_rng(0)
    layer = randomise(cnnlib.GroupNorm(groups, channels, affine=affine), rng)
    compare(layer, nn.GroupNorm(groups, channels, affine=affine).double(),
            rng.standard_normal(shape) * 3 + 1, rng)


@pytest.mark.parametrize("normalized_shape, shape, affine", [
    (5, (3, 5), True), ((3, 4), (2, 2, 3, 4), True), (6, (2, 7, 6), False)])
def test_layer_norm(normalized_shape, shape, affine):
    rng = np.random.default_rng(1)
    layer = randomise(cnnlib.LayerNorm(normalized_shape, eps=1e-5,
                                       elementwise_affine=affine), rng)
    compare(layer, nn.LayerNorm(normalized_shape, elementwise_affine=affine).double(),
            rng.standard_normal(shape) * 2 - 1, rng)


class TorchLayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d: permute to channels-last, LayerNorm, permute back."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def test_layer_norm2d():
    rng = np.random.default_rng(2)
    layer = randomise(cnnlib.LayerNorm2d(5), rng)
    compare(layer, TorchLayerNorm2d(5, eps=1e-6).double(), rng.standard_normal((2, 5, 3, 4)), rng)


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal", "row_masked", "scale"])
def test_scaled_dot_product_attention(mask):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)))
    kwargs = {}
    if mask == "bool":
        kwargs["attn_mask"] = rng.random((4, 6)) > 0.4
    elif mask == "float":
        kwargs["attn_mask"] = rng.standard_normal((3, 4, 6))
    elif mask == "row_masked":
        kwargs["attn_mask"] = rng.random((2, 1, 4, 6)) > 0.5
        kwargs["attn_mask"][0, 0, 2] = False
    elif mask == "causal":
        kwargs["is_causal"] = True
    elif mask == "scale":
        kwargs["scale"] = 0.3
    out, saved = F.scaled_dot_product_attention_forward(q, k, v, **kwargs)
    dout = rng.standard_normal(out.shape)
    grads = F.scaled_dot_product_attention_backward(dout, saved)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tkw = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val
           for key, val in kwargs.items()}
    tout = tF.scaled_dot_product_attention(tq, tk, tv, **tkw)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    for g, t in zip(grads, (tq, tk, tv)):
        close(g, t.grad)


@pytest.mark.parametrize("bias", [True, False])
def test_multihead_attention_both_ways(bias):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 8))
    # ours -> torch: our random weights loaded into torch.nn.MultiheadAttention by name
    ours = randomise(cnnlib.MultiheadAttention(8, 2, bias=bias, rng=rng), rng)
    theirs = nn.MultiheadAttention(8, 2, bias=bias, batch_first=True).double()
    compare(ours, _SelfAttention(theirs), x, rng, rename=_SelfAttention.rename(ours))
    _, weights = theirs(*[torch.tensor(x)] * 3)
    close(ours.attention_weights(), weights)
    # torch -> ours: torch's own initial weights, as a state dict, loaded into ours
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(8, 4, bias=bias, batch_first=True).double()
    ours = cnnlib.MultiheadAttention(8, 4, bias=bias, rng=rng)
    state = theirs.state_dict()
    assert set(state) == set(ours.params)
    for key, value in state.items():
        assert ours.params[key].shape == tuple(value.shape)
        ours.params[key][...] = value.numpy()
    compare(ours, _SelfAttention(theirs), x, rng, rename=_SelfAttention.rename(ours))


class _SelfAttention(nn.Module):
    """torch's MultiheadAttention called as self-attention, output only."""

    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]

    @staticmethod
    def rename(layer):
        return {key: f"mha.{key}" for key in layer.params}


def test_gelu_exact_and_default():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((4, 6)) * 3
    close(F.gelu(z, approximate="none"), tF.gelu(torch.tensor(z)))
    close(F.gelu(z), tF.gelu(torch.tensor(z), approximate="tanh"))
    compare(cnnlib.GELU(approximate="none"), nn.GELU(), z, rng)
    compare(cnnlib.Sigmoid(), nn.Sigmoid(), z * 10, rng)
    compare(cnnlib.ReLU6(), nn.ReLU6(), z * 3, rng)


class TorchSE(nn.Module):
    """torchvision.ops.SqueezeExcitation, written out."""

    def __init__(self, c, s):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(c, s, 1), nn.Conv2d(s, c, 1)
        self.activation, self.scale_activation = nn.ReLU(), nn.Sigmoid()

    def forward(self, x):
        scale = self.fc1(self.avgpool(x))
        return x * self.scale_activation(self.fc2(self.activation(scale)))


def test_squeeze_excitation():
    rng = np.random.default_rng(6)
    layer = randomise(cnnlib.SqueezeExcitation(6, 3, rng=rng), rng)
    compare(layer, TorchSE(6, 3).double(), rng.standard_normal((2, 6, 4, 5)), rng)


def torch_inverted_residual(c_in, c_out, stride, ratio):
    """torchvision's MobileNetV2 InvertedResidual, with its names."""
    hidden = int(round(c_in * ratio))

    def cna(a, b, k, s, g):
        return nn.Sequential(nn.Conv2d(a, b, k, s, (k - 1) // 2, groups=g, bias=False),
                             nn.BatchNorm2d(b), nn.ReLU6())

    layers = [cna(c_in, hidden, 1, 1, 1)] if ratio != 1 else []
    layers += [cna(hidden, hidden, 3, stride, hidden), nn.Conv2d(hidden, c_out, 1, bias=False),
               nn.BatchNorm2d(c_out)]
    block = nn.Module()
    block.conv = nn.Sequential(*layers)
    residual = stride == 1 and c_in == c_out
    block.forward = lambda x: block.conv(x) + x if residual else block.conv(x)
    return block


@pytest.mark.parametrize("c_in, c_out, stride, ratio", [(4, 4, 1, 6), (4, 6, 2, 1), (3, 5, 1, 2)])
def test_inverted_residual(c_in, c_out, stride, ratio):
    rng = np.random.default_rng(7)
    layer = randomise(cnnlib.InvertedResidual(c_in, c_out, stride, ratio, rng=rng), rng)
    module = torch_inverted_residual(c_in, c_out, stride, ratio).double()
    compare(layer, module, rng.standard_normal((3, c_in, 5, 6)), rng)
    buffers = {k: v for k, v in module.state_dict().items() if "running" in k}
    assert set(buffers) == set(layer.buffers)
    for key, value in buffers.items():
        close(layer.buffers[key], value)


class TorchCNBlock(nn.Module):
    """torchvision's CNBlock, written out (stochastic depth left out: it is the identity in eval)."""

    def __init__(self, dim, approximate="none"):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim), _Permute(0, 2, 3, 1),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(approximate),
            nn.Linear(4 * dim, dim), _Permute(0, 3, 1, 2))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        return self.layer_scale * self.block(x) + x


class _Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


CNBLOCK_NAMES = {"dwconv": "block.0", "norm": "block.2", "pwconv1": "block.3",
                 "pwconv2": "block.5", "layer_scale": "layer_scale"}


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_convnext_block(approximate):
    rng = np.random.default_rng(8)
    layer = randomise(cnnlib.ConvNeXtBlock(4, rng=rng, approximate=approximate), rng)
    module = TorchCNBlock(4, approximate).double()
    rename = {k: CNBLOCK_NAMES[k.split(".")[0]] + k[len(k.split(".")[0]):] for k in layer.params}
    assert sum(p.numel() for p in module.parameters()) == layer.num_params()
    compare(layer, module, rng.standard_normal((2, 4, 6, 5)), rng, rename=rename)


class TorchEncoderBlock(nn.Module):
    """torchvision's ViT EncoderBlock, written out with its names."""

    def __init__(self, heads, dim, mlp_dim):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        h = self.ln_1(x)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = self.dropout(h) + x
        return x + self.mlp(self.ln_2(x))


def test_encoder_block():
    rng = np.random.default_rng(9)
    layer = randomise(cnnlib.EncoderBlock(2, 6, 10, rng=rng), rng)
    module = TorchEncoderBlock(2, 6, 10).double()
    assert set(module.state_dict()) == set(layer.params)
    compare(layer, module, rng.standard_normal((3, 4, 6)), rng)


class TorchTinyViT(nn.Module):
    """torchvision's VisionTransformer layout at a tiny size (names as torchvision's)."""

    def __init__(self, patch, dim, heads, mlp_dim, layers, classes):
        super().__init__()
        self.conv_proj = nn.Conv2d(1, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, (28 // patch) ** 2 + 1, dim))
        self.layers = nn.Sequential(*[TorchEncoderBlock(heads, dim, mlp_dim)
                                      for _ in range(layers)])
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(self.ln(self.layers(x + self.pos_embedding))[:, 0])


def test_small_vit_end_to_end():
    rng = np.random.default_rng(10)
    model = randomise(models.small_vit(3, rng=rng, patch_size=7, hidden_dim=4, num_heads=2,
                                       num_layers=2, mlp_dim=6, approximate="none",
                                       dtype=np.float64), rng)
    names = {"0.proj": "conv_proj", "1.class_token": "class_token",
             "2.pos_embedding": "pos_embedding", "3": "layers.0", "4": "layers.1", "5": "ln",
             "7": "head"}

    def rename(key):
        for ours, theirs in names.items():
            if key == ours or key.startswith(ours + "."):
                return theirs + key[len(ours):]

    compare(model, TorchTinyViT(7, 4, 2, 6, 2, 3).double(), rng.standard_normal((2, 1, 28, 28)),
            rng, rename={k: rename(k) for k in model.params})
