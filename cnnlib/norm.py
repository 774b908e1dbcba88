"""Batch normalisation and dropout: layers that behave differently in training."""

import numpy as np

from cnnlib.checks import check_ndim
from cnnlib.module import Module, as_layer_input


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) for each channel, with PyTorch's conventions.

    Training mode normalises with the batch mean and (biased) variance and
    updates ``running = (1 - momentum) * running + momentum * batch_stat``,
    where the running variance takes the unbiased batch variance. Evaluation
    mode normalises with the running statistics.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps : float
    momentum : float

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, *, dtype=np.float64):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.dtype = np.dtype(dtype)
        c = num_features
        self._params["weight"] = np.ones(c, dtype=dtype)
        self._params["bias"] = np.zeros(c, dtype=dtype)
        self._grads["weight"] = np.zeros(c, dtype=dtype)
        self._grads["bias"] = np.zeros(c, dtype=dtype)
        self._buffers["running_mean"] = np.zeros(c, dtype=dtype)
        self._buffers["running_var"] = np.ones(c, dtype=dtype)

    def forward(self, x):
        x = as_layer_input("BatchNorm2d", x, self.dtype)
        check_ndim("BatchNorm2d", x, 4, "(N, C, H, W)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d: input has {x.shape[1]} channels but the layer expects "
                f"{self.num_features} (input shape {x.shape})")
        if self.training:
            count = x.shape[0] * x.shape[2] * x.shape[3]
            if count < 2:
                raise ValueError("BatchNorm2d: training needs more than one value per channel")
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            m = self.momentum
            self._buffers["running_mean"] *= 1 - m
            self._buffers["running_mean"] += m * mean
            self._buffers["running_var"] *= 1 - m
            self._buffers["running_var"] += m * var * count / (count - 1)
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]
        self._cache = (x_hat, inv_std, self.training)
        return x_hat * self._params["weight"][:, None, None] + self._params["bias"][:, None, None]

    def backward(self, dy):
        x_hat, inv_std, training = self._cache
        gamma = self._params["weight"]
        self._grads["weight"] = (dy * x_hat).sum(axis=(0, 2, 3))
        self._grads["bias"] = dy.sum(axis=(0, 2, 3))
        dx_hat = dy * gamma[:, None, None]
        if not training:
            return dx_hat * inv_std[:, None, None]
        # The batch mean and variance depend on every input, which adds two
        # terms: dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / std.
        mean_d = dx_hat.mean(axis=(0, 2, 3), keepdims=True)
        mean_dx = (dx_hat * x_hat).mean(axis=(0, 2, 3), keepdims=True)
        return (dx_hat - mean_d - x_hat * mean_dx) * inv_std[:, None, None]

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p).

    Parameters
    ----------
    p : float in [0, 1)
    rng : numpy.random.Generator
        Draws the masks, so a run is reproducible.

    In evaluation mode the layer is the identity. Any input shape.
    """

    def __init__(self, p, *, rng):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self.rng = p, rng

    def forward(self, x):
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def extra_repr(self):
        return f"p={self.p}"
