"""Attention: scaled dot-product attention (forward beside backward) and multi-head self-attention.

For queries Q (L, E), keys K (S, E) and values V (S, Ev),
``attention(Q, K, V) = softmax(Q K^T / sqrt(E) + mask) V``: each of the L
outputs is an average of the S values, weighted by how well its query
matches each key. Leading (batch, head) axes are carried along.
"""

import math
from dataclasses import dataclass

import numpy as np

from cnnlib.checks import check_float_dtype, check_int, check_ndim, check_real, check_rng
from cnnlib.init import fan_in_uniform, xavier_uniform
from cnnlib.nn.activations import as_float
from cnnlib.nn.layers import Linear
from cnnlib.nn.module import Module


@dataclass
class AttentionSaved:
    """What :func:`scaled_dot_product_attention_backward` needs: the inputs and the weights."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    weights: np.ndarray
    scale: float


def _check_qkv(name, q, k, v):
    q, k, v = (as_float(a, name) for a in (q, k, v))
    for what, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim < 2:
            raise ValueError(f"{name}: {what} must have at least 2 dimensions (..., L, E), "
                             f"got shape {a.shape}")
    if len({q.dtype, k.dtype, v.dtype}) > 1:
        raise TypeError(f"{name}: query, key and value have dtypes {q.dtype}, {k.dtype}, "
                        f"{v.dtype}; use one float dtype")
    if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
        raise ValueError(f"{name}: query, key and value must share their leading (batch) axes, "
                         f"got shapes {q.shape}, {k.shape} and {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{name}: query and key must have the same embedding size E, got "
                         f"{q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: key and value must have the same length S, got "
                         f"{k.shape[-2]} and {v.shape[-2]}")
    return q, k, v


def _additive_mask(name, attn_mask, is_causal, shape, dtype):
    """The mask as a float array to add to the scores (-inf where a bool mask is False)."""
    L, S = shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: give attn_mask or is_causal=True, not both")
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is None:
        return None
    mask = check_real(name, attn_mask, "attn_mask")
    try:
        np.broadcast_shapes(mask.shape, shape)
    except ValueError:
        raise ValueError(f"{name}: attn_mask of shape {mask.shape} does not broadcast to the "
                         f"scores' shape {shape} (..., L, S)") from None
    if np.broadcast_shapes(mask.shape, shape) != shape:
        raise ValueError(f"{name}: attn_mask of shape {mask.shape} would enlarge the scores' "
                         f"shape {shape}")
    if mask.dtype == bool:
        return np.where(mask, dtype.type(0), dtype.type(-np.inf))
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: attn_mask must be bool (True = take part) or float (added "
                        f"to the scores), got {mask.dtype}")
    return mask.astype(dtype, copy=False)


def _masked_softmax(scores):
    """Softmax over the last axis; a row that is all -inf gives zeros, as PyTorch does."""
    top = scores.max(axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0
    e = np.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    return e / total


def scaled_dot_product_attention_forward(q, k, v, attn_mask=None, *, is_causal=False,
                                         scale=None, name="scaled_dot_product_attention"):
    """:func:`scaled_dot_product_attention` that also returns what the backward needs."""
    q, k, v = _check_qkv(name, q, k, v)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = q @ np.swapaxes(k, -1, -2)
    scores *= q.dtype.type(scale)
    mask = _additive_mask(name, attn_mask, is_causal, scores.shape, q.dtype)
    if mask is not None:
        scores += mask
    weights = _masked_softmax(scores)
    return weights @ v, AttentionSaved(q.copy(), k.copy(), v.copy(), weights, scale)


def scaled_dot_product_attention(q, k, v, attn_mask=None, *, is_causal=False, scale=None):
    """Attention ``softmax(q k^T scale + mask) v``, as PyTorch's ``F.scaled_dot_product_attention``.

    Parameters
    ----------
    q : ndarray (..., L, E)
    k : ndarray (..., S, E)
    v : ndarray (..., S, Ev)
        The three share their leading axes (for example (N, heads)).
    attn_mask : ndarray, optional, broadcastable to (..., L, S)
        Boolean: True marks the pairs that take part (False pairs get weight
        0). Float: added to the scores before the softmax. A query whose
        every key is masked out gets an output of zeros, as in PyTorch.
    is_causal : bool
        Query i sees keys 0..i only (a lower-triangular mask).
    scale : float, optional
        Defaults to ``1 / sqrt(E)``.

    Returns
    -------
    out : ndarray (..., L, Ev)
    """
    return scaled_dot_product_attention_forward(q, k, v, attn_mask, is_causal=is_causal,
                                                scale=scale)[0]


def scaled_dot_product_attention_backward(dout, saved):
    """Gradients of attention with respect to q, k and v.

    With P the attention weights, ``dv = P^T dout`` and ``dP = dout v^T``;
    the softmax turns dP into ``dS = P (dP - sum(dP P))`` (row sums), and
    ``dq = scale dS k``, ``dk = scale dS^T q``. A float mask gets no gradient.

    Parameters
    ----------
    dout : ndarray (..., L, Ev)
    saved : AttentionSaved
        The second output of :func:`scaled_dot_product_attention_forward`.

    Returns
    -------
    dq, dk, dv : ndarray, the shapes of q, k and v
    """
    p = saved.weights
    expected = p.shape[:-1] + saved.v.shape[-1:]
    if np.shape(dout) != expected:
        raise ValueError(f"scaled_dot_product_attention_backward: gradient has shape "
                         f"{np.shape(dout)} but the output had {expected}")
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(saved.v, -1, -2)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    ds *= p.dtype.type(saved.scale)
    return ds @ saved.k, np.swapaxes(ds, -1, -2) @ saved.q, dv


class MultiheadAttention(Module):
    """Multi-head self-attention on token sequences, as ``torch.nn.MultiheadAttention``.

    The input is projected to queries, keys and values by one (3E, E)
    matrix, split into ``num_heads`` heads of ``E / num_heads`` features,
    each head attends with :func:`scaled_dot_product_attention`, and the
    heads' outputs, joined again, go through the output projection.

    Parameters
    ----------
    embed_dim : int
        E, divisible by ``num_heads``.
    num_heads : int
    bias : bool, default True
    rng : numpy.random.Generator
        Draws the weights as PyTorch does: ``in_proj_weight`` Xavier-uniform,
        ``out_proj.weight`` U(-1/sqrt(E), 1/sqrt(E)); biases start at zero.
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, L, E) -> (N, L, E), batch first (PyTorch's ``batch_first=True``).
    Parameters carry PyTorch's names and layout, so a PyTorch state dict
    loads directly: "in_proj_weight" (3E, E), "in_proj_bias" (3E,),
    "out_proj.weight" (E, E), "out_proj.bias" (E,).

    Notes
    -----
    Only self-attention (query = key = value = x) without a mask or dropout.
    ``forward`` returns the output alone, like PyTorch with
    ``need_weights=False``; the weights of the latest forward are available
    from :meth:`attention_weights`.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> mha = cnnlib.MultiheadAttention(8, 2, rng=np.random.default_rng(0))
    >>> mha.forward(np.ones((3, 5, 8))).shape, mha.attention_weights().shape
    ((3, 5, 8), (3, 5, 5))
    """

    global_receptive_field = True
    """Every output depends on the whole input (see :func:`cnnlib.tools.shapes.receptive_field`)."""

    def __init__(self, embed_dim, num_heads, bias=True, *, rng, dtype=np.float64):
        super().__init__()
        self.embed_dim = check_int("MultiheadAttention: embed_dim", embed_dim)
        self.num_heads = check_int("MultiheadAttention: num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {self.embed_dim} is not divisible "
                             f"by num_heads {self.num_heads}")
        self.head_dim = self.embed_dim // self.num_heads
        self.dtype = check_float_dtype("MultiheadAttention", dtype)
        check_rng("MultiheadAttention", rng)
        e = self.embed_dim
        self._params["in_proj_weight"] = xavier_uniform((3 * e, e), rng=rng, dtype=self.dtype)
        self._grads["in_proj_weight"] = np.zeros((3 * e, e), dtype=self.dtype)
        if bias:
            self._params["in_proj_bias"] = np.zeros(3 * e, dtype=self.dtype)
            self._grads["in_proj_bias"] = np.zeros(3 * e, dtype=self.dtype)
        self.out_proj = self.add("out_proj", Linear(e, e, bias, rng=rng, dtype=self.dtype))
        self.out_proj.params["weight"][...] = fan_in_uniform((e, e), rng=rng, dtype=self.dtype)
        self._cache = None

    def _forward(self, x):
        check_ndim("MultiheadAttention", x, 3, "(N, L, E)")
        if x.shape[2] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: input has {x.shape[2]} features but the "
                             f"layer expects embed_dim {self.embed_dim} (input shape {x.shape})")
        n, length, e = x.shape
        x2 = x.reshape(n * length, e).copy()
        qkv = x2 @ self._params["in_proj_weight"].T
        if "in_proj_bias" in self._params:
            qkv += self._params["in_proj_bias"]
        qkv = qkv.reshape(n, length, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        out, saved = scaled_dot_product_attention_forward(*qkv, name="MultiheadAttention")
        self._cache = (x2, saved)
        y = self.out_proj.forward(out.transpose(0, 2, 1, 3).reshape(n * length, e))
        return y.reshape(n, length, e)

    def _backward(self, dy):
        x2, saved = self._cache
        n, _, length, _ = saved.q.shape
        e = self.embed_dim
        d_out = self.out_proj.backward(dy.reshape(n * length, e))
        d_out = d_out.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)
        dq, dk, dv = scaled_dot_product_attention_backward(d_out, saved)
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(n * length, 3 * e)
        self._grads["in_proj_weight"] = dqkv.T @ x2
        if "in_proj_bias" in self._params:
            self._grads["in_proj_bias"] = dqkv.sum(axis=0)
        return (dqkv @ self._params["in_proj_weight"]).reshape(n, length, e)

    def attention_weights(self, average=True):
        """The attention weights of the latest forward.

        Returns (N, L, L) averaged over the heads (PyTorch's default with
        ``need_weights=True``), or (N, heads, L, L) with ``average=False``.
        """
        if self._cache is None:
            raise RuntimeError("MultiheadAttention.attention_weights called before forward")
        weights = self._cache[1].weights
        return weights.mean(axis=1) if average else weights.copy()

    def out_shape(self, in_shape):
        if len(in_shape) != 3 or in_shape[2] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: expected an input (N, L, {self.embed_dim}), "
                             f"got shape {tuple(in_shape)}")
        return tuple(in_shape)

    def macs(self, in_shape):
        """``N (4 L E^2 + 2 L^2 E)``: the four projections, ``Q K^T`` and the weighted sum ``P V``.

        Each of ``Q K^T`` and ``P V`` costs ``L^2 E / heads`` per head; the
        softmax and the scaling are not multiply-accumulates and are not counted.
        """
        n, length, e = self.out_shape(in_shape)
        return n * (4 * length * e * e + 2 * length * length * e)

    def windows(self):
        raise ValueError("MultiheadAttention: every token attends to every other, so the "
                         "receptive field is the whole input")

    def extra_repr(self):
        return (f"{self.embed_dim}, num_heads={self.num_heads}"
                + ("" if "in_proj_bias" in self._params else ", bias=False"))
