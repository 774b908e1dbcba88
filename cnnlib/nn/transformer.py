"""The vision transformer's pieces: patch and positional embeddings, class token, encoder block.

A vision transformer (Dosovitskiy et al., 2021) cuts the image into
patches, embeds each as a token (N, L, E), prepends a learned class token,
adds a learned positional embedding, runs encoder blocks over the tokens
and classifies from the class token. The names follow torchvision's
``VisionTransformer``.
"""

import numpy as np

from cnnlib.checks import check_float_dtype, check_int, check_ndim, check_number, check_rng
from cnnlib.init import trunc_normal, xavier_uniform
from cnnlib.nn.activations import check_approximate
from cnnlib.nn.attention import MultiheadAttention
from cnnlib.nn.layers import Conv2d, GELU, Linear
from cnnlib.nn.module import Module, Sequential, _container_repr
from cnnlib.nn.norm import Dropout
from cnnlib.nn.normalization import LayerNorm


def _check_tokens(name, x, embed_dim):
    check_ndim(name, x, 3, "(N, L, E) of tokens")
    if x.shape[2] != embed_dim:
        raise ValueError(f"{name}: tokens have {x.shape[2]} features but the layer expects "
                         f"{embed_dim} (input shape {x.shape})")


def _check_token_shape(name, in_shape, embed_dim):
    if len(in_shape) != 3 or in_shape[2] != embed_dim:
        raise ValueError(f"{name}: expected tokens (N, L, {embed_dim}), got shape "
                         f"{tuple(in_shape)}")


class PatchEmbedding(Module):
    """Cut an image into P x P patches and embed each linearly: a convolution with stride P.

    A P x P kernel applied with stride P sees each patch exactly once, so
    the convolution is one Linear layer shared by all patches. The (N, E,
    H/P, W/P) maps are then read row by row as H W / P^2 tokens.

    Parameters
    ----------
    in_channels, embed_dim, patch_size : int
    rng : numpy.random.Generator
        Weights truncated normal with std ``sqrt(1 / fan_in)``, bias zero,
        as torchvision's ``conv_proj``.
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, C, H, W) -> (N, (H / P) (W / P), E); H and W must be multiples of P.
    Parameters "proj.weight" (E, C, P, P) and "proj.bias" (E,).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> embed = cnnlib.PatchEmbedding(1, 16, 7, rng=np.random.default_rng(0))
    >>> embed.forward(np.ones((2, 1, 28, 28))).shape
    (2, 16, 16)
    """

    def __init__(self, in_channels, embed_dim, patch_size, *, rng, dtype=np.float64):
        super().__init__()
        self.patch_size = check_int("PatchEmbedding: patch_size", patch_size)
        self.proj = self.add("proj", Conv2d(in_channels, embed_dim, self.patch_size,
                                            self.patch_size, rng=rng, dtype=dtype))
        self.embed_dim = self.proj.out_channels
        w = self.proj.params["weight"]
        w[...] = trunc_normal(w.shape, rng=rng, std=np.sqrt(1 / w[0].size), dtype=w.dtype)
        self.dtype = self.proj.dtype
        self._grid = None

    def _check_size(self, shape):
        p = self.patch_size
        if len(shape) == 4 and (shape[2] % p or shape[3] % p):
            raise ValueError(f"PatchEmbedding: image {shape[2]}x{shape[3]} is not divisible "
                             f"into {p}x{p} patches")

    def _forward(self, x):
        self._check_size(x.shape)
        maps = self.proj.forward(x)
        self._grid = maps.shape
        n, e = maps.shape[:2]
        return maps.reshape(n, e, -1).transpose(0, 2, 1).copy()

    def _backward(self, dy):
        return self.proj.backward(np.ascontiguousarray(dy.transpose(0, 2, 1)).reshape(self._grid))

    def out_shape(self, in_shape):
        self._check_size(in_shape)
        n, e, h, w = self.proj.out_shape(in_shape)
        return (n, h * w, e)

    def macs(self, in_shape):
        return self.proj.macs(in_shape)

    def windows(self):
        return self.proj.windows()

    def extra_repr(self):
        return f"{self.proj.in_channels}, {self.embed_dim}, patch_size={self.patch_size}"


class ClassToken(Module):
    """Prepend one learned token to every sequence: its final state is what the head reads.

    Parameters
    ----------
    embed_dim : int
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, L, E) -> (N, L + 1, E); parameter "class_token" (1, 1, E), zeros at
    the start, as in torchvision.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.ClassToken(4).forward(np.ones((2, 3, 4))).shape
    (2, 4, 4)
    """

    def __init__(self, embed_dim, *, dtype=np.float64):
        super().__init__()
        self.embed_dim = check_int("ClassToken: embed_dim", embed_dim)
        self.dtype = check_float_dtype("ClassToken", dtype)
        self._params["class_token"] = np.zeros((1, 1, self.embed_dim), dtype=self.dtype)
        self._grads["class_token"] = np.zeros((1, 1, self.embed_dim), dtype=self.dtype)

    def _forward(self, x):
        _check_tokens("ClassToken", x, self.embed_dim)
        token = np.broadcast_to(self._params["class_token"], (x.shape[0], 1, self.embed_dim))
        return np.concatenate([token, x], axis=1)

    def _backward(self, dy):
        self._grads["class_token"] = dy[:, :1].sum(axis=0, keepdims=True)
        return dy[:, 1:].copy()

    def out_shape(self, in_shape):
        _check_token_shape("ClassToken", in_shape, self.embed_dim)
        n, length, e = in_shape
        return (n, length + 1, e)

    def extra_repr(self):
        return f"{self.embed_dim}"


class PositionalEmbedding(Module):
    """Add a learned vector to each position of the sequence, so that attention can tell them apart.

    Attention treats its tokens as a set; without this the transformer would
    not know where in the image a patch came from.

    Parameters
    ----------
    seq_length, embed_dim : int
        L (patches plus the class token) and E.
    rng : numpy.random.Generator
        Draws the embedding from N(0, 0.02^2), as torchvision does.
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, L, E) -> (N, L, E); parameter "pos_embedding" (1, L, E).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> pos = cnnlib.PositionalEmbedding(5, 4, rng=np.random.default_rng(0))
    >>> pos.forward(np.zeros((2, 5, 4))).shape
    (2, 5, 4)
    """

    def __init__(self, seq_length, embed_dim, *, rng, dtype=np.float64):
        super().__init__()
        self.seq_length = check_int("PositionalEmbedding: seq_length", seq_length)
        self.embed_dim = check_int("PositionalEmbedding: embed_dim", embed_dim)
        self.dtype = check_float_dtype("PositionalEmbedding", dtype)
        check_rng("PositionalEmbedding", rng)
        shape = (1, self.seq_length, self.embed_dim)
        self._params["pos_embedding"] = rng.normal(0.0, 0.02, size=shape).astype(self.dtype)
        self._grads["pos_embedding"] = np.zeros(shape, dtype=self.dtype)

    def _forward(self, x):
        self.out_shape(x.shape)
        return x + self._params["pos_embedding"]

    def _backward(self, dy):
        self._grads["pos_embedding"] = dy.sum(axis=0, keepdims=True)
        return dy.copy()

    def out_shape(self, in_shape):
        _check_token_shape("PositionalEmbedding", in_shape, self.embed_dim)
        if in_shape[1] != self.seq_length:
            raise ValueError(f"PositionalEmbedding: the sequence has {in_shape[1]} tokens but "
                             f"the embedding has seq_length {self.seq_length}")
        return tuple(in_shape)

    def extra_repr(self):
        return f"{self.seq_length}, {self.embed_dim}"


class SelectToken(Module):
    """Keep one token of each sequence, the class token by default: (N, L, E) -> (N, E).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> cnnlib.SelectToken().forward(np.arange(12.0).reshape(1, 3, 4))
    array([[0., 1., 2., 3.]])
    """

    def __init__(self, index=0):
        super().__init__()
        self.index = check_int("SelectToken: index", index, minimum=0)
        self._x_shape = None

    def _forward(self, x):
        check_ndim("SelectToken", x, 3, "(N, L, E) of tokens")
        if self.index >= x.shape[1]:
            raise ValueError(f"SelectToken: index {self.index} is out of range for "
                             f"{x.shape[1]} tokens")
        self._x_shape = x.shape
        return x[:, self.index].copy()

    def _backward(self, dy):
        dx = np.zeros(self._x_shape, dtype=dy.dtype)
        dx[:, self.index] = dy
        return dx

    def out_shape(self, in_shape):
        if len(in_shape) != 3 or self.index >= in_shape[1]:
            raise ValueError(f"SelectToken: expected tokens (N, L, E) with more than "
                             f"{self.index} tokens, got shape {tuple(in_shape)}")
        return (in_shape[0], in_shape[2])

    def extra_repr(self):
        return f"index={self.index}"


class EncoderBlock(Module):
    """A pre-norm transformer encoder block, torchvision's ViT ``EncoderBlock``.

    ``x = x + attention(ln_1(x))``, then ``x = x + mlp(ln_2(x))``, where the
    MLP is Linear (E -> mlp_dim), GELU, Linear (mlp_dim -> E), applied to
    each token on its own. Attention mixes information between tokens; the
    MLP works within each token.

    Parameters
    ----------
    num_heads, hidden_dim, mlp_dim : int
        Heads, E (divisible by the heads) and the MLP's width.
    dropout : float, default 0.0
        After the attention and after each Linear layer of the MLP (torchvision's places).
    rng : numpy.random.Generator
        Draws the weights as torchvision does (MLP: Xavier-uniform weights,
        biases N(0, 1e-6^2)) and the dropout masks.
    dtype : numpy float dtype, default float64
    eps : float, default 1e-6
        The layer norms' eps (torchvision's ViT uses 1e-6).
    approximate : {"none", "tanh"}, default "none"
        The GELU's form; "none" (exact) is torchvision's.

    Shape
    -----
    (N, L, E) -> (N, L, E). Parameter names are torchvision's: "ln_1.*",
    "self_attention.in_proj_weight", ..., "ln_2.*", "mlp.0.*", "mlp.3.*".

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> block = cnnlib.EncoderBlock(2, 8, 16, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((3, 5, 8))).shape, block.num_params()
    ((3, 5, 8), 600)
    """

    global_receptive_field = True
    """Every output depends on the whole input (see :func:`cnnlib.tools.shapes.receptive_field`)."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout=0.0, *, rng, dtype=np.float64,
                 eps=1e-6, approximate="none"):
        super().__init__()
        e = check_int("EncoderBlock: hidden_dim", hidden_dim)
        m = check_int("EncoderBlock: mlp_dim", mlp_dim)
        p = check_number("EncoderBlock: dropout", dropout, low=0, high=1, high_open=True)
        check_approximate("EncoderBlock", approximate)
        self.hidden_dim, self.mlp_dim, self.dropout_p = e, m, p
        self.ln_1 = self.add("ln_1", LayerNorm(e, eps, dtype=dtype))
        self.self_attention = self.add("self_attention",
                                       MultiheadAttention(e, num_heads, rng=rng, dtype=dtype))
        self.dropout = self.add("dropout", Dropout(p, rng=rng))
        self.ln_2 = self.add("ln_2", LayerNorm(e, eps, dtype=dtype))
        self.mlp = self.add("mlp", Sequential(
            Linear(e, m, rng=rng, dtype=dtype), GELU(approximate), Dropout(p, rng=rng),
            Linear(m, e, rng=rng, dtype=dtype), Dropout(p, rng=rng)))
        for linear in (self.mlp[0], self.mlp[3]):
            w, b = linear.params["weight"], linear.params["bias"]
            w[...] = xavier_uniform(w.shape, rng=rng, dtype=w.dtype)
            b[...] = rng.normal(0.0, 1e-6, size=b.shape)
        self.dtype = self.ln_1.dtype
        self._shape = None

    def _forward(self, x):
        _check_tokens("EncoderBlock", x, self.hidden_dim)
        n, length, e = self._shape = x.shape
        x = x + self.dropout.forward(self.self_attention.forward(self.ln_1.forward(x)))
        h = self.ln_2.forward(x).reshape(n * length, e)
        return x + self.mlp.forward(h).reshape(n, length, e)

    def _backward(self, dy):
        n, length, e = self._shape
        d_mlp = self.mlp.backward(dy.reshape(n * length, e)).reshape(n, length, e)
        dx = dy + self.ln_2.backward(d_mlp)
        d_att = self.self_attention.backward(self.dropout.backward(dx))
        return dx + self.ln_1.backward(d_att)

    def out_shape(self, in_shape):
        _check_token_shape("EncoderBlock", in_shape, self.hidden_dim)
        return tuple(in_shape)

    def macs(self, in_shape):
        """The attention's MACs (:meth:`MultiheadAttention.macs`) plus the MLP's 2 N L E mlp_dim."""
        n, length, e = self.out_shape(in_shape)
        return self.self_attention.macs(in_shape) + 2 * n * length * e * self.mlp_dim

    def windows(self):
        return self.self_attention.windows()

    def extra_repr(self):
        return (f"num_heads={self.self_attention.num_heads}, hidden_dim={self.hidden_dim}, "
                f"mlp_dim={self.mlp_dim}")

    def __repr__(self):
        return _container_repr(self)
