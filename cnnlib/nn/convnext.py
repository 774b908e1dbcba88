"""The ConvNeXt block (Liu et al., 2022): a ResNet block redesigned with a transformer's habits."""

import numpy as np

from cnnlib.checks import check_int, check_number
from cnnlib.init import trunc_normal
from cnnlib.nn.layers import Conv2d, GELU
from cnnlib.nn.module import Module, Sequential, _container_repr
from cnnlib.nn.normalization import LayerNorm2d


class ConvNeXtBlock(Module):
    """``x + gamma * pwconv2(gelu(pwconv1(norm(dwconv(x)))))``, torchvision's ``CNBlock``.

    A 7x7 depthwise convolution mixes space (each channel on its own), a
    channels-first layer norm normalises each position, and two pointwise
    layers (C -> 4C, GELU, 4C -> C) mix channels, as a transformer's MLP
    does. The branch is scaled per channel by a learned ``layer_scale``
    that starts at 1e-6, so the block starts close to the identity, and the
    input is added back. There is no activation after the sum.

    Parameters
    ----------
    dim : int
        Channels C.
    layer_scale : float, default 1e-6
        Initial value of every entry of ``layer_scale``.
    rng : numpy.random.Generator
        Weights drawn as torchvision does: truncated normal with std 0.02,
        biases zero.
    dtype : numpy float dtype, default float64
    approximate : {"none", "tanh"}, default "none"
        The GELU's form; "none" (exact) is torchvision's.
    expansion : int, default 4

    Shape
    -----
    (N, C, H, W) -> (N, C, H, W).

    Notes
    -----
    torchvision writes the pointwise layers as ``Linear`` on channels-last
    tensors between two permutes; here they are 1x1 convolutions on
    channels-first tensors, which compute the same thing with the same
    parameters (a torchvision weight (4C, C) is ours reshaped to (4C, C, 1, 1)).
    Names map as ``block.0`` -> ``dwconv``, ``block.2`` -> ``norm``,
    ``block.3`` -> ``pwconv1``, ``block.5`` -> ``pwconv2``; ``layer_scale``
    is (C, 1, 1) in both. Stochastic depth, which drops the whole branch at
    random in training, is not implemented (it is the identity at test time).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> block = cnnlib.ConvNeXtBlock(8, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((2, 8, 7, 7))).shape, block.num_params()
    ((2, 8, 7, 7), 976)
    """

    def __init__(self, dim, layer_scale=1e-6, *, rng, dtype=np.float64, approximate="none",
                 expansion=4):
        super().__init__()
        self.dim = c = check_int("ConvNeXtBlock: dim", dim)
        self.expansion = check_int("ConvNeXtBlock: expansion", expansion)
        scale = check_number("ConvNeXtBlock: layer_scale", layer_scale)
        hidden = self.expansion * c
        layers = [("dwconv", Conv2d(c, c, 7, padding=3, groups=c, rng=rng, dtype=dtype)),
                  ("norm", LayerNorm2d(c, eps=1e-6, dtype=dtype)),
                  ("pwconv1", Conv2d(c, hidden, 1, rng=rng, dtype=dtype)),
                  ("act", GELU(approximate)),
                  ("pwconv2", Conv2d(hidden, c, 1, rng=rng, dtype=dtype))]
        for name, layer in layers:
            self.add(name, layer)
            if isinstance(layer, Conv2d):
                w = layer.params["weight"]
                w[...] = trunc_normal(w.shape, rng=rng, std=0.02, dtype=w.dtype)
        self.block = Sequential(*(layer for _, layer in layers))
        self.dtype = self._children["dwconv"].dtype
        self._params["layer_scale"] = np.full((c, 1, 1), scale, dtype=self.dtype)
        self._grads["layer_scale"] = np.zeros((c, 1, 1), dtype=self.dtype)
        self._branch = None

    def _forward(self, x):
        branch = self.block.forward(x)
        self._branch = branch
        return x + self._params["layer_scale"] * branch

    def _backward(self, dy):
        gamma = self._params["layer_scale"]
        self._grads["layer_scale"] = (dy * self._branch).sum(axis=(0, 2, 3))[:, None, None]
        return dy + self.block.backward(dy * gamma)

    def out_shape(self, in_shape):
        return self.block.out_shape(in_shape)

    def macs(self, in_shape):
        """The three convolutions; the layer scale, the norm and the sum are not counted."""
        return self.block.macs(in_shape)

    def windows(self):
        return self.block.windows()

    def extra_repr(self):
        return f"{self.dim}"

    def __repr__(self):
        return _container_repr(self)
