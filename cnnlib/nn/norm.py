"""Batch normalisation and dropout: layers that behave differently in training and evaluation."""

import numpy as np

from cnnlib.checks import check_float_dtype, check_int, check_ndim, check_number, check_rng
from cnnlib.nn.activations import as_float
from cnnlib.nn.module import Module, check_kept, is_grad_enabled


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) for each channel, with PyTorch's conventions.

    Training mode normalises with the batch mean and (biased) variance and
    updates ``running = (1 - momentum) * running + momentum * batch_stat``,
    where the running variance takes the unbiased batch variance. With
    ``momentum=None`` the running statistics are the cumulative average of
    every batch seen, as in PyTorch. Evaluation mode normalises with the
    running statistics. The input is validated before any statistic changes.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps : float, > 0
    momentum : float in [0, 1], or None
    dtype : numpy float dtype, default float64

    Shape
    -----
    (N, C, H, W) -> (N, C, H, W); ``params`` "weight" and "bias" and
    ``buffers`` "running_mean" and "running_var" are (C,).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> bn = cnnlib.BatchNorm2d(2)
    >>> y = bn.forward(np.arange(16.0).reshape(2, 2, 2, 2))
    >>> np.allclose(y.mean(axis=(0, 2, 3)), 0)
    True
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, *, dtype=np.float64):
        super().__init__()
        self.num_features = check_int("BatchNorm2d: num_features", num_features)
        self.eps = check_number("BatchNorm2d: eps", eps, low=0, low_open=True)
        self.momentum = (None if momentum is None
                         else check_number("BatchNorm2d: momentum", momentum, low=0, high=1))
        self.dtype = check_float_dtype("BatchNorm2d", dtype)
        c = self.num_features
        self._params["weight"] = np.ones(c, dtype=self.dtype)
        self._params["bias"] = np.zeros(c, dtype=self.dtype)
        self._grads["weight"] = np.zeros(c, dtype=self.dtype)
        self._grads["bias"] = np.zeros(c, dtype=self.dtype)
        self._buffers["running_mean"] = np.zeros(c, dtype=self.dtype)
        self._buffers["running_var"] = np.ones(c, dtype=self.dtype)
        self.num_batches_tracked = 0

    def _forward(self, x):
        check_ndim("BatchNorm2d", x, 4, "(N, C, H, W)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d: input has {x.shape[1]} channels but the layer expects "
                f"{self.num_features} (input shape {x.shape})")
        if self.training:
            if not np.all(np.isfinite(x)):
                raise ValueError("BatchNorm2d: input contains NaN or infinite values, which "
                                 "would corrupt the running statistics; nothing was changed")
            count = x.shape[0] * x.shape[2] * x.shape[3]
            if count < 2:
                raise ValueError("BatchNorm2d: training needs more than one value per channel "
                                 f"(input shape {x.shape}); use .eval() for a single pixel")
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            self.num_batches_tracked += 1
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            self._buffers["running_mean"] *= 1 - m
            self._buffers["running_mean"] += m * mean
            self._buffers["running_var"] *= 1 - m
            self._buffers["running_var"] += m * var * count / (count - 1)
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + self.dtype.type(self.eps))
        x_hat = np.subtract(x, mean[:, None, None])
        x_hat *= inv_std[:, None, None]
        keep = is_grad_enabled()
        self._cache = (x_hat, inv_std, self.training) if keep else None
        # without a backward pass to come, the output overwrites x_hat
        y = np.multiply(x_hat, self._params["weight"][:, None, None],
                        out=None if keep else x_hat)
        y += self._params["bias"][:, None, None]
        return y

    def _backward(self, dy):
        check_kept(self, self._cache)
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

    Shape
    -----
    Any shape; integer input is computed in float64. In evaluation mode the
    layer is the identity.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> drop = cnnlib.Dropout(0.5, rng=np.random.default_rng(0))
    >>> sorted(set(drop.forward(np.ones(8)).tolist()))
    [0.0, 2.0]
    """

    def __init__(self, p, *, rng):
        super().__init__()
        self.p = check_number("Dropout: p", p, low=0, high=1, high_open=True)
        self.rng = check_rng("Dropout", rng)

    def _forward(self, x):
        x = as_float(x, "Dropout")
        if not self.training or self.p == 0:
            self._mask = None
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        self._mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._mask

    def _backward(self, dy):
        return dy.copy() if self._mask is None else dy * self._mask

    def extra_repr(self):
        return f"p={self.p}"
