"""Optimisers that update a model's parameters in place with PyTorch's rules."""

import numpy as np

from cnnlib.checks import check_number
from cnnlib.nn.module import Module


class _Optimizer:
    def __init__(self, model, lr, weight_decay):
        name = type(self).__name__
        if not isinstance(model, Module):
            raise TypeError(f"{name}: model must be a cnnlib Module, got {type(model).__name__}")
        self.model = model
        self.lr = check_number(f"{name}: lr", lr, low=0, low_open=True)
        self.weight_decay = check_number(f"{name}: weight_decay", weight_decay, low=0)
        self.state = {}

    def zero_grad(self):
        """Set the model's gradients to zero (see the gradient contract of Module)."""
        self.model.zero_grad()

    def _grads(self):
        """(name, parameter, gradient) for every parameter, all checked before any update."""
        params, grads = self.model.params, self.model.grads
        rows = []
        for name, p in params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"{type(self).__name__}: gradient of {name!r} has shape "
                                 f"{g.shape} but the parameter has shape {p.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError(f"{type(self).__name__}: gradient of {name!r} contains NaN "
                                 f"or infinite values; no parameter was changed")
            rows.append((name, p, g + self.weight_decay * p if self.weight_decay else g))
        return rows


class SGD(_Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay.

    As in PyTorch: ``g += wd * p``; ``buf = g`` on the first step, then
    ``buf = momentum * buf + g``; ``p -= lr * buf``.

    Parameters
    ----------
    model : Module
    lr : float, > 0
    momentum : float in [0, 1), keyword-only
    weight_decay : float, >= 0, keyword-only

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> fc = cnnlib.Linear(2, 1, rng=np.random.default_rng(0))
    >>> opt = cnnlib.SGD(fc, 0.1, momentum=0.9)
    """

    def __init__(self, model, lr, *, momentum=0.0, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        self.momentum = check_number("SGD: momentum", momentum, low=0, high=1, high_open=True)

    def step(self):
        """Update every parameter in place from the gradients of the latest backward."""
        for name, p, g in self._grads():
            if self.momentum:
                buf = self.state.get(name)
                if buf is None:
                    buf = self.state[name] = np.array(g, dtype=p.dtype)
                else:
                    buf *= self.momentum
                    buf += g
                g = buf
            p -= p.dtype.type(self.lr) * g


class Adam(_Optimizer):
    """Adam (Kingma and Ba), with PyTorch's bias correction and L2 weight decay.

    Parameters
    ----------
    model : Module
    lr : float, > 0
    betas : (float, float), each in [0, 1), keyword-only
    eps : float, > 0, keyword-only
    weight_decay : float, >= 0, keyword-only
    """

    def __init__(self, model, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam: betas must be a pair of numbers, got {betas!r}") from None
        self.betas = (check_number("Adam: betas[0]", b1, low=0, high=1, high_open=True),
                      check_number("Adam: betas[1]", b2, low=0, high=1, high_open=True))
        self.eps = check_number("Adam: eps", eps, low=0, low_open=True)
        self.t = 0

    def step(self):
        """Update every parameter in place from the gradients of the latest backward."""
        rows = self._grads()
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for name, p, g in rows:
            if name not in self.state:
                self.state[name] = (np.zeros_like(p), np.zeros_like(p))
            m, v = self.state[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def clip_grad_norm_(model, max_norm, norm_type=2.0, *, error_if_nonfinite=False):
    """Scale the model's gradients in place so that their global norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``
    norm of every gradient taken together (the norm of the per-parameter
    norms), and every gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. Call it between ``backward``
    and the optimiser's ``step``.

    Parameters
    ----------
    model : Module
        Its ``grads`` (from the latest backward) are scaled in place.
    max_norm : float, > 0
    norm_type : float, > 0, or inf (the largest absolute gradient)
    error_if_nonfinite : bool, keyword-only
        Raise, leaving the gradients unchanged, if the total norm is NaN or
        infinite; otherwise they are scaled anyway, as in PyTorch.

    Returns
    -------
    float
        The total norm before clipping.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> fc = cnnlib.Linear(2, 1, rng=np.random.default_rng(0))
    >>> fc.grads["weight"][...] = [[3.0, 4.0]]
    >>> fc.grads["bias"][...] = 0.0
    >>> clip_grad_norm_(fc, 1.0)
    5.0
    >>> np.round(fc.grads["weight"], 4)
    array([[0.6, 0.8]])
    """
    if not isinstance(model, Module):
        raise TypeError(f"clip_grad_norm_: model must be a cnnlib Module, got "
                        f"{type(model).__name__}")
    max_norm = check_number("clip_grad_norm_: max_norm", max_norm, low=0, low_open=True)
    if norm_type != np.inf:
        norm_type = check_number("clip_grad_norm_: norm_type", norm_type, low=0, low_open=True)
    grads = list(model.grads.values())
    if not grads:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads])
        total = float(np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise ValueError(f"clip_grad_norm_: the total {norm_type} norm of the gradients is "
                         f"{total}; no gradient was changed")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)
    return total
