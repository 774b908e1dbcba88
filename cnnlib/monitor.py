"""Training diagnostics: per-layer activation, gradient and update statistics over the steps."""

import numpy as np

from cnnlib.checks import check_int, check_number
from cnnlib.nn.layers import GELU, ReLU
from cnnlib.nn.module import Module

GELU_DEAD_BELOW = -3.0
"""A GELU unit counts as dead where its input is below this: its output is then within
0.005 of zero and its slope within 0.013 of zero, so almost no gradient flows back."""


def named_modules(model, prefix=""):
    """(dotted name, module) for every sub-module, depth first; the model itself is ``""``."""
    yield prefix, model
    for name, child in model._children.items():
        yield from named_modules(child, f"{prefix}.{name}" if prefix else name)


def dead_fraction(layer, x, y):
    """Fraction of a layer's outputs that pass (almost) no gradient; nan for other layers.

    ReLU: outputs ``<= 0`` (its slope there is 0). GELU: inputs below
    :data:`GELU_DEAD_BELOW`.
    """
    if x.size == 0:
        return float("nan")
    if isinstance(layer, ReLU):
        return float(np.count_nonzero(y <= 0) / y.size)
    if isinstance(layer, GELU):
        return float(np.count_nonzero(x < GELU_DEAD_BELOW) / x.size)
    return float("nan")


class Monitor:
    """Per-layer statistics recorded during training, every ``every`` optimiser steps.

    At a recorded step it keeps, for each watched layer's output (a light
    hook on the layer's ``forward``, removed by :meth:`detach`): the mean,
    the standard deviation, the dead fraction (:func:`dead_fraction`) and a
    histogram of the values; and for every parameter: the norm of its
    gradient (as the optimiser received it, after any clipping) and the
    update-to-weight ratio ``||w_after - w_before|| / ||w_before||`` (nan
    where ``w_before`` is all zeros). :func:`cnnlib.train.fit` drives it
    with ``fit(..., monitor=Monitor())``; a hand-written loop calls
    :meth:`attach`, then :meth:`begin_step` and :meth:`end_step` around each
    step, then :meth:`detach`.

    With ``workers > 1`` in ``fit`` the activation statistics come from the
    first worker's slice of each batch; the gradient and update statistics
    are the whole batch's.

    Parameters
    ----------
    layers : list of str, optional
        Dotted names of the layers to watch (as in ``model.params`` keys,
        without the parameter name, e.g. ``"1"`` or ``"3.body.2"``); every
        ReLU and GELU by default.
    every : int, >= 1, keyword-only
    bins : int, >= 1, keyword-only
    hist_range : (float, float), keyword-only
        The histogram's range; values outside are not counted. The default
        (0, 10) with 40 bins is fast.ai's for its "colorful dimension" plots.

    Attributes
    ----------
    steps : list of int
        The recorded steps (counted from 0).
    activations : dict
        ``activations[layer]`` is a dict of lists, one entry per recorded
        step: "mean", "std", "dead" (floats) and "hist" (int arrays of ``bins``).
    grad_norm, update_ratio : dict
        Lists of floats by parameter name.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> net = cnnlib.Sequential(cnnlib.Linear(3, 4, rng=rng), cnnlib.ReLU(),
    ...                         cnnlib.Linear(4, 2, rng=rng))
    >>> mon = Monitor(every=2)
    >>> h = cnnlib.train.fit(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1),
    ...                      rng.standard_normal((8, 3)), rng.integers(0, 2, 8), epochs=2,
    ...                      batch_size=4, rng=rng, verbose=False, monitor=mon)
    >>> mon.steps, list(mon.activations)
    ([0, 2], ['1'])
    """

    def __init__(self, layers=None, *, every=1, bins=40, hist_range=(0.0, 10.0)):
        if layers is not None:
            if isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
                raise TypeError(f"Monitor: layers must be a list of layer names, got {layers!r}")
            layers = list(layers)
        self.layers = layers
        self.every = check_int("Monitor: every", every)
        self.bins = check_int("Monitor: bins", bins)
        try:
            lo, hi = hist_range
        except (TypeError, ValueError):
            raise ValueError(f"Monitor: hist_range must be a pair (low, high), got "
                             f"{hist_range!r}") from None
        lo = check_number("Monitor: hist_range[0]", lo)
        hi = check_number("Monitor: hist_range[1]", hi, low=lo, low_open=True)
        self.hist_range = (lo, hi)
        self.steps, self.activations, self.grad_norm, self.update_ratio = [], {}, {}, {}
        self._model, self._hooked, self._recording, self._before = None, [], False, None

    def attach(self, model):
        """Hook the watched layers of ``model``; unknown layer names are refused first."""
        if not isinstance(model, Module):
            raise TypeError(f"Monitor.attach: model must be a cnnlib Module, got "
                            f"{type(model).__name__}")
        if self._model is not None:
            raise RuntimeError("Monitor.attach: already attached; call detach first")
        modules = dict(named_modules(model))
        if self.layers is None:
            names = [n for n, m in modules.items() if isinstance(m, (ReLU, GELU))]
        else:
            missing = [n for n in self.layers if n not in modules]
            if missing:
                raise ValueError(f"Monitor.attach: the model has no layer named {missing[0]!r}; "
                                 f"names are dotted paths such as {list(modules)[1:4]}")
            names = self.layers
        self._model = model
        for name in names:
            layer = modules[name]
            layer.forward = self._hook(name, layer)
            self._hooked.append(layer)
            self.activations.setdefault(name, {"mean": [], "std": [], "dead": [], "hist": []})
        return self

    def _hook(self, name, layer):
        plain = type(layer).forward

        def forward(x):
            y = plain(layer, x)
            if self._recording:
                self._record(name, layer, np.asarray(x), y)
            return y

        return forward

    def _record(self, name, layer, x, y):
        row = self.activations[name]
        values = y.astype(np.float64, copy=False)
        row["mean"].append(float(values.mean()) if values.size else float("nan"))
        row["std"].append(float(values.std()) if values.size else float("nan"))
        row["dead"].append(dead_fraction(layer, x, y))
        row["hist"].append(np.histogram(values, self.bins, self.hist_range)[0])

    def detach(self):
        """Remove the hooks; the statistics stay."""
        for layer in self._hooked:
            vars(layer).pop("forward", None)
        self._hooked, self._model, self._recording = [], None, False

    def begin_step(self, step):
        """Start optimiser step ``step``; returns whether it is recorded."""
        if self._model is None:
            raise RuntimeError("Monitor.begin_step: attach the monitor to a model first")
        step = check_int("Monitor.begin_step: step", step, minimum=0)
        self._recording = step % self.every == 0
        if self._recording:
            self.steps.append(step)
            self._before = {k: p.copy() for k, p in self._model.params.items()}
        return self._recording

    def end_step(self):
        """Finish the step begun last: record gradient norms and update ratios."""
        if not self._recording:
            return
        self._recording = False
        params, grads = self._model.params, self._model.grads
        for key, before in self._before.items():
            self.grad_norm.setdefault(key, []).append(float(np.linalg.norm(grads[key])))
            scale = float(np.linalg.norm(before))
            moved = float(np.linalg.norm(params[key] - before))
            self.update_ratio.setdefault(key, []).append(moved / scale if scale else float("nan"))
        self._before = None

    def __repr__(self):
        return (f"Monitor(layers={self.layers}, every={self.every}, bins={self.bins}, "
                f"hist_range={self.hist_range}, recorded={len(self.steps)})")
