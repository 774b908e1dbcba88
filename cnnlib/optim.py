"""Optimisers that update a model's parameters in place with PyTorch's rules."""

import numpy as np


class _Optimizer:
    def __init__(self, model, lr, weight_decay):
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.model, self.lr, self.weight_decay = model, lr, weight_decay
        self.state = {}

    def zero_grad(self):
        """Set the model's gradients to zero."""
        self.model.zero_grad()

    def _grad(self, name, p, g):
        if g.shape != p.shape:
            raise ValueError(f"{type(self).__name__}: gradient of {name!r} has shape "
                             f"{g.shape} but the parameter has shape {p.shape}")
        return g + self.weight_decay * p if self.weight_decay else g


class SGD(_Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay.

    As in PyTorch: ``g += wd * p``; ``buf = g`` on the first step, then
    ``buf = momentum * buf + g``; ``p -= lr * buf``.
    """

    def __init__(self, model, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        self.momentum = momentum

    def step(self):
        grads = self.model.grads
        for name, p in self.model.params.items():
            g = self._grad(name, p, grads[name])
            if self.momentum:
                buf = self.state.get(name)
                if buf is None:
                    buf = self.state[name] = np.array(g, dtype=p.dtype)
                else:
                    buf *= self.momentum
                    buf += g
                g = buf
            p -= self.lr * g


class Adam(_Optimizer):
    """Adam (Kingma and Ba), with PyTorch's bias correction and L2 weight decay."""

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        self.betas, self.eps = betas, eps
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        grads = self.model.grads
        for name, p in self.model.params.items():
            g = self._grad(name, p, grads[name])
            if name not in self.state:
                self.state[name] = (np.zeros_like(p), np.zeros_like(p))
            m, v = self.state[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
