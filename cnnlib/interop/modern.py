"""Converters for the modern layers: sigmoid gates, norms, attention, upsampling, ConvNeXt and ViT.

Each block becomes a small ``torch.nn.Module`` with cnnlib's child and
parameter names and the same forward; the layer types PyTorch has
(``GroupNorm``, ``LayerNorm``, ``Upsample``, ...) become PyTorch's own.
The classes are defined on first use, so importing this module needs NumPy
alone.
"""

import functools
from types import SimpleNamespace

from cnnlib.interop.convert import import_torch, register, torch_dtype
from cnnlib.nn.attention import MultiheadAttention
from cnnlib.nn.convnext import ConvNeXtBlock
from cnnlib.nn.layers import ReLU6, Sigmoid
from cnnlib.nn.mobile import InvertedResidual, SqueezeExcitation
from cnnlib.nn.normalization import GroupNorm, LayerNorm, LayerNorm2d
from cnnlib.nn.transformer import (ClassToken, EncoderBlock, PatchEmbedding, PositionalEmbedding,
                                   SelectToken)
from cnnlib.nn.upsample import Upsample


@functools.cache
def torch_classes():
    """The torch.nn.Module subclasses of the modern blocks, defined on first use."""
    torch = import_torch("cnnlib.interop")
    nn = torch.nn

    class Chain(nn.Module):
        """Holds named children; ``chain(x)`` runs them in order."""

        def __init__(self, children):
            super().__init__()
            for name, child in children.items():
                self.add_module(name, child)

        def chain(self, x):
            for child in self.children():
                x = child(x)
            return x

    class SqueezeExcitation(Chain):
        """``x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``, torchvision's names."""

        def forward(self, x):
            return x * self.chain(x)

    class InvertedResidual(Chain):
        """``conv(x)``, plus ``x`` when ``use_res_connect``."""

        def __init__(self, children, use_res_connect):
            super().__init__(children)
            self.use_res_connect = use_res_connect

        def forward(self, x):
            y = self.chain(x)
            return y + x if self.use_res_connect else y

    class ConvNeXtBlock(Chain):
        """``x + layer_scale * pwconv2(act(pwconv1(norm(dwconv(x)))))``."""

        def __init__(self, children, dim, dtype):
            super().__init__(children)
            self.layer_scale = nn.Parameter(torch.empty(dim, 1, 1, dtype=dtype))

        def forward(self, x):
            return x + self.layer_scale * self.chain(x)

    class LayerNorm2d(nn.LayerNorm):
        """``torch.nn.LayerNorm(C)`` over axis 1 of (N, C, *): channels moved last and back."""

        def forward(self, x):
            n = x.dim()  # explicit, non-negative permutations, which ONNX accepts
            y = super().forward(x.permute(0, *range(2, n), 1))
            return y.permute(0, n - 1, *range(1, n - 1))

    class MultiheadAttention(nn.MultiheadAttention):
        """Batch-first self-attention: ``forward(x)`` is ``attention(x, x, x)`` without weights.

        Under tracing (ONNX export) it takes PyTorch's unfused path, matrix
        products and a softmax: the fused kernel that ``torch.nn.MultiheadAttention``
        picks in evaluation mode without autograd has no ONNX export.
        """

        def forward(self, x):
            if not torch.jit.is_tracing():
                return super().forward(x, x, x, need_weights=False)[0]
            tokens = x.transpose(0, 1)  # (L, N, E), the functional form's layout
            y, _ = nn.functional.multi_head_attention_forward(
                tokens, tokens, tokens, self.embed_dim, self.num_heads, self.in_proj_weight,
                self.in_proj_bias, None, None, False, self.dropout, self.out_proj.weight,
                self.out_proj.bias, training=self.training, need_weights=False)
            return y.transpose(0, 1)

    class PatchEmbedding(Chain):
        """``proj(x)`` (N, E, H/P, W/P) read row by row as tokens (N, L, E)."""

        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)

    class ClassToken(nn.Module):
        """Prepends the learned ``class_token`` (1, 1, E) to every sequence."""

        def __init__(self, embed_dim, dtype):
            super().__init__()
            self.class_token = nn.Parameter(torch.empty(1, 1, embed_dim, dtype=dtype))

        def forward(self, x):
            return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)

        def extra_repr(self):
            return f"{self.class_token.shape[-1]}"

    class PositionalEmbedding(nn.Module):
        """Adds the learned ``pos_embedding`` (1, L, E)."""

        def __init__(self, seq_length, embed_dim, dtype):
            super().__init__()
            self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, embed_dim, dtype=dtype))

        def forward(self, x):
            return x + self.pos_embedding

        def extra_repr(self):
            return f"{self.pos_embedding.shape[1]}, {self.pos_embedding.shape[2]}"

    class SelectToken(nn.Module):
        """(N, L, E) -> (N, E): the token at ``index``."""

        def __init__(self, index):
            super().__init__()
            self.index = index

        def forward(self, x):
            return x[:, self.index]

        def extra_repr(self):
            return f"index={self.index}"

    class EncoderBlock(Chain):
        """torchvision's pre-norm ViT block: attention, then the MLP, each with a residual."""

        def forward(self, x):
            x = x + self.dropout(self.self_attention(self.ln_1(x)))
            return x + self.mlp(self.ln_2(x))

    classes = {"SqueezeExcitation": SqueezeExcitation, "InvertedResidual": InvertedResidual,
               "ConvNeXtBlock": ConvNeXtBlock, "LayerNorm2d": LayerNorm2d,
               "MultiheadAttention": MultiheadAttention, "PatchEmbedding": PatchEmbedding,
               "ClassToken": ClassToken, "PositionalEmbedding": PositionalEmbedding,
               "SelectToken": SelectToken, "EncoderBlock": EncoderBlock, "Chain": Chain}
    for name, cls in classes.items():
        # cnnlib's name in a printed model; a module-level name that pickle can find
        cls.__name__, cls.__qualname__, cls.__module__ = name, f"Torch{name}", __name__
    return SimpleNamespace(**classes)


_TORCH_CLASS_NAMES = ("SqueezeExcitation", "InvertedResidual", "ConvNeXtBlock", "LayerNorm2d",
                      "MultiheadAttention", "PatchEmbedding", "ClassToken", "PositionalEmbedding",
                      "SelectToken", "EncoderBlock", "Chain")


def __getattr__(name):
    """``TorchConvNeXtBlock`` and the other classes, created on first access (for pickle)."""
    if name.startswith("Torch") and name[5:] in _TORCH_CLASS_NAMES:
        return getattr(torch_classes(), name[5:])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _nn():
    return import_torch("to_torch").nn


@register(ReLU6)
def _relu6(layer, children):
    return _nn().ReLU6()


@register(Sigmoid)
def _sigmoid(layer, children):
    return _nn().Sigmoid()


def _affine_dtype(layer):
    """Keyword arguments giving a norm's parameters the layer's dtype (none without them)."""
    return {"dtype": torch_dtype(layer.dtype)} if layer.affine else {}


@register(GroupNorm)
def _group_norm(layer, children):
    return _nn().GroupNorm(layer.num_groups, layer.num_channels, layer.eps, layer.affine,
                           **_affine_dtype(layer))


@register(LayerNorm)
def _layer_norm(layer, children):
    return _nn().LayerNorm(layer.normalized_shape, layer.eps, layer.affine,
                           **_affine_dtype(layer))


@register(LayerNorm2d)
def _layer_norm2d(layer, children):
    return torch_classes().LayerNorm2d(layer.num_channels, layer.eps, layer.affine,
                                       **_affine_dtype(layer))


@register(MultiheadAttention)
def _multihead_attention(layer, children):
    attention = torch_classes().MultiheadAttention(
        layer.embed_dim, layer.num_heads, bias="in_proj_bias" in layer._params,
        batch_first=True, dtype=torch_dtype(layer.dtype))
    attention.out_proj = children["out_proj"]  # the converted Linear, with cnnlib's mode
    return attention


@register(Upsample)
def _upsample(layer, children):
    return _nn().Upsample(size=layer.size, scale_factor=layer.scale_factor, mode=layer.mode,
                          align_corners=layer.align_corners if layer.mode == "bilinear" else None)


@register(SqueezeExcitation)
def _squeeze_excitation(layer, children):
    return torch_classes().SqueezeExcitation(children)


@register(InvertedResidual)
def _inverted_residual(layer, children):
    return torch_classes().InvertedResidual(children, layer.use_res_connect)


@register(ConvNeXtBlock)
def _convnext_block(layer, children):
    return torch_classes().ConvNeXtBlock(children, layer.dim, torch_dtype(layer.dtype))


@register(PatchEmbedding)
def _patch_embedding(layer, children):
    return torch_classes().PatchEmbedding(children)


@register(ClassToken)
def _class_token(layer, children):
    return torch_classes().ClassToken(layer.embed_dim, torch_dtype(layer.dtype))


@register(PositionalEmbedding)
def _positional_embedding(layer, children):
    return torch_classes().PositionalEmbedding(layer.seq_length, layer.embed_dim,
                                               torch_dtype(layer.dtype))


@register(SelectToken)
def _select_token(layer, children):
    return torch_classes().SelectToken(layer.index)


@register(EncoderBlock)
def _encoder_block(layer, children):
    return torch_classes().EncoderBlock(children)
