"""Weight averaging: an exponential moving average of a model's weights (EMA)."""

import copy

import numpy as np

from cnnlib.checks import check_number
from cnnlib.nn.module import Module


class EMA:
    """A copy of a model whose weights follow an exponential moving average of the model's.

    After every optimiser step, :meth:`update_parameters` moves each
    averaged array towards the model's:
    ``avg = decay * avg + (1 - decay) * current`` (written
    ``avg += (1 - decay) (current - avg)``, as PyTorch's ``lerp_``). The first
    update copies the model, as ``torch.optim.swa_utils.AveragedModel`` does
    with ``get_ema_multi_avg_fn(decay)``.

    BatchNorm's running statistics are averaged with the same rule, like the
    parameters (``AveragedModel(use_buffers=True)`` and timm's ``ModelEmaV2``
    do the same), so the averaged model can be evaluated at once, without a
    pass to recompute them; the integer batch counters are copied.

    Parameters
    ----------
    model : Module
        The model being trained; it is copied once, here, and never changed.
    decay : float in (0, 1)
        Closer to 1 averages over more steps: about ``1 / (1 - decay)``.

    Attributes
    ----------
    module : Module
        The averaged model, in evaluation mode; use it with ``predict`` or
        ``evaluate``.
    n_averaged : int
        Updates so far.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> fc = cnnlib.Linear(1, 1, rng=np.random.default_rng(0))
    >>> fc.params["weight"][...] = 1.0
    >>> ema = EMA(fc, decay=0.9)
    >>> ema.update_parameters(fc)
    >>> fc.params["weight"][...] = 2.0
    >>> ema.update_parameters(fc)
    >>> round(float(ema.module.params["weight"][0, 0]), 6)
    1.1
    """

    def __init__(self, model, decay=0.999):
        if not isinstance(model, Module):
            raise TypeError(f"EMA: model must be a cnnlib Module, got {type(model).__name__}")
        self.decay = check_number("EMA: decay", decay, low=0, high=1, low_open=True,
                                  high_open=True)
        self.module = copy.deepcopy(model).eval()
        self.n_averaged = 0

    def update_parameters(self, model):
        """Move the averaged weights and running statistics towards ``model``'s.

        ``model`` must have the same parameter names and shapes as the
        averaged copy; it is checked before anything changes.
        """
        mine = {**self.module.params, **self.module.buffers}
        theirs = {**model.params, **model.buffers} if isinstance(model, Module) else None
        if theirs is None or theirs.keys() != mine.keys() or any(
                theirs[k].shape != v.shape for k, v in mine.items()):
            raise ValueError("EMA.update_parameters: model does not have the averaged "
                             "model's parameters and buffers (names and shapes)")
        w = 1.0 - self.decay
        for key, avg in mine.items():
            if self.n_averaged == 0:
                np.copyto(avg, theirs[key])
            else:
                avg += avg.dtype.type(w) * (theirs[key] - avg)
        for m_avg, m in zip(self.module.modules(), model.modules()):
            if hasattr(m, "num_batches_tracked"):
                m_avg.num_batches_tracked = m.num_batches_tracked
        self.n_averaged += 1

    def __repr__(self):
        return f"EMA(decay={self.decay}, n_averaged={self.n_averaged})"
