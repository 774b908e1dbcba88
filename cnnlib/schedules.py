"""Learning-rate schedules: per-epoch cosine, and per-step one-cycle and warm-up plus cosine."""

import math

import numpy as np

from cnnlib.checks import check_int, check_number


def cosine_schedule(lr, epochs, *, final=0.02):
    """Learning rates that fall from ``lr`` to ``final * lr`` along half a cosine, per epoch.

    ``lr_t = lr (final + (1 - final) (1 + cos(pi t / (epochs - 1))) / 2)`` for
    epoch ``t``: slow at first, fastest in the middle, gentle at the end
    (Loshchilov and Hutter's SGDR, without restarts).

    Returns
    -------
    callable
        ``schedule(epoch) -> float``, for :func:`cnnlib.train.fit`'s ``lr_schedule``.
    """
    lr = check_number("cosine_schedule: lr", lr, low=0, low_open=True)
    epochs = check_int("cosine_schedule: epochs", epochs)
    final = check_number("cosine_schedule: final", final, low=0, high=1)

    def schedule(epoch):
        t = min(epoch, epochs - 1) / max(epochs - 1, 1)
        return lr * (final + (1 - final) * (1 + np.cos(np.pi * t)) / 2)

    return schedule


def check_step_schedule(name, schedule, optimizer, steps):
    """Refuse a per-step schedule that is not callable, too short for ``steps``, or that
    cycles a momentum the optimiser does not have."""
    if schedule is None:
        return
    if not callable(schedule):
        raise TypeError(f"{name}: step_schedule must be a function of the step")
    limit = getattr(schedule, "total_steps", None)
    if limit is not None and steps > limit:
        raise ValueError(f"{name}: the run takes {steps} steps (epochs times batches per "
                         f"epoch) but step_schedule has total_steps={limit}")
    if getattr(schedule, "cycle_momentum", False) and not (
            hasattr(optimizer, "momentum") or hasattr(optimizer, "betas")):
        raise ValueError(f"{name}: step_schedule cycles the momentum, but "
                         f"{type(optimizer).__name__} has neither momentum nor betas")


def apply_step_schedule(name, schedule, optimizer, step):
    """Set the optimiser's rate for ``step``, and its momentum (SGD's ``momentum``, Adam's
    first beta) when the schedule cycles it, as PyTorch's schedulers do."""
    optimizer.lr = check_number(f"{name}: step_schedule(step)", schedule(step), low=0,
                                low_open=True)
    if getattr(schedule, "cycle_momentum", False):
        momentum = schedule.momentum(step)
        if hasattr(optimizer, "betas"):
            optimizer.betas = (momentum, optimizer.betas[1])
        else:
            optimizer.momentum = momentum


def _cos(start, end, pct):
    """Cosine annealing from ``start`` (pct = 0) to ``end`` (pct = 1), as PyTorch writes it."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


class _StepSchedule:
    """A per-step schedule: ``schedule(step) -> lr`` for steps 0 .. total_steps - 1."""

    cycle_momentum = False

    def _check_step(self, step):
        name = type(self).__name__
        if not isinstance(step, (int, np.integer)) or isinstance(step, (bool, np.bool_)):
            raise TypeError(f"{name}: step must be an int, got {step!r}")
        if not 0 <= step < self.total_steps:
            raise ValueError(f"{name}: step {step} is outside the schedule's "
                             f"{self.total_steps} steps (0 to {self.total_steps - 1})")
        return int(step)

    def lrs(self):
        """Every step's learning rate, shape (total_steps,)."""
        return np.array([self(t) for t in range(self.total_steps)])


class OneCycleLR(_StepSchedule):
    """Smith and Topin's one-cycle policy, as ``torch.optim.lr_scheduler.OneCycleLR`` (cos).

    The rate climbs from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of the steps, then falls to
    ``max_lr / (div_factor * final_div_factor)`` at the last step, both
    along half a cosine. With ``cycle_momentum`` the momentum (SGD's
    ``momentum``, Adam's first beta) moves the opposite way, from
    ``max_momentum`` down to ``base_momentum`` and back, and :func:`fit`
    sets it at every step. ``three_phase`` climbs, comes back down to the
    starting rate over the same number of steps, and then anneals to the
    minimum, as in PyTorch.

    Parameters
    ----------
    max_lr : float, > 0
    total_steps : int, >= 2
        The number of optimiser steps of the whole run: epochs times batches per epoch.
    pct_start : float in (0, 1), keyword-only
    div_factor, final_div_factor : float, > 0, keyword-only
    cycle_momentum : bool, keyword-only
        False by default here (PyTorch's default is True).
    base_momentum, max_momentum : float in [0, 1), base <= max, keyword-only
    three_phase : bool, keyword-only

    Examples
    --------
    >>> sched = OneCycleLR(0.1, 10, pct_start=0.3)
    >>> [round(sched(t), 4) for t in (0, 2, 9)]
    [0.004, 0.1, 0.0]
    """

    def __init__(self, max_lr, total_steps, *, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4, cycle_momentum=False, base_momentum=0.85,
                 max_momentum=0.95, three_phase=False):
        self.max_lr = check_number("OneCycleLR: max_lr", max_lr, low=0, low_open=True)
        self.total_steps = check_int("OneCycleLR: total_steps", total_steps, minimum=2)
        self.pct_start = check_number("OneCycleLR: pct_start", pct_start, low=0, high=1,
                                      low_open=True, high_open=True)
        self.div_factor = check_number("OneCycleLR: div_factor", div_factor, low=0,
                                       low_open=True)
        self.final_div_factor = check_number("OneCycleLR: final_div_factor", final_div_factor,
                                             low=0, low_open=True)
        self.cycle_momentum = bool(cycle_momentum)
        self.base_momentum = check_number("OneCycleLR: base_momentum", base_momentum, low=0,
                                          high=1, high_open=True)
        self.max_momentum = check_number("OneCycleLR: max_momentum", max_momentum, low=0,
                                         high=1, high_open=True)
        if self.base_momentum > self.max_momentum:
            raise ValueError(f"OneCycleLR: base_momentum {base_momentum} must not exceed "
                             f"max_momentum {max_momentum}")
        self.three_phase = bool(three_phase)
        initial = self.max_lr / self.div_factor
        low = initial / self.final_div_factor
        up = float(self.pct_start * self.total_steps) - 1
        hi_m, lo_m = self.max_momentum, self.base_momentum
        if self.three_phase:
            self._phases = [(up, initial, self.max_lr, hi_m, lo_m),
                            (2 * up, self.max_lr, initial, lo_m, hi_m),
                            (self.total_steps - 1, initial, low, hi_m, hi_m)]
        else:
            self._phases = [(up, initial, self.max_lr, hi_m, lo_m),
                            (self.total_steps - 1, self.max_lr, low, lo_m, hi_m)]

    def _at(self, step):
        step = self._check_step(step)
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if step <= end or i == len(self._phases) - 1:
                pct = (step - start) / (end - start)
                return _cos(lr0, lr1, pct), _cos(m0, m1, pct)
            start = end

    def __call__(self, step):
        """The learning rate of optimiser step ``step`` (counted from 0)."""
        return self._at(step)[0]

    def momentum(self, step):
        """The momentum of step ``step`` (used by :func:`fit` when ``cycle_momentum``)."""
        return self._at(step)[1]

    def __repr__(self):
        return (f"OneCycleLR(max_lr={self.max_lr}, total_steps={self.total_steps}, "
                f"pct_start={self.pct_start}, div_factor={self.div_factor}, "
                f"final_div_factor={self.final_div_factor}, "
                f"cycle_momentum={self.cycle_momentum})")


class WarmupCosine(_StepSchedule):
    """A linear warm-up to ``lr``, then half a cosine down to ``min_lr``, per step.

    For step ``t < warmup_steps``:
    ``lr (start_factor + (1 - start_factor) t / warmup_steps)``, as PyTorch's
    ``LinearLR``; from then on, with ``T = total_steps - warmup_steps`` and
    ``s = t - warmup_steps``:
    ``min_lr + (lr - min_lr) (1 + cos(pi s / T)) / 2``, as ``CosineAnnealingLR``
    with ``T_max = T``. The two joined with ``SequentialLR(milestones=[warmup_steps])``
    give the same rates.

    Parameters
    ----------
    lr : float, > 0
        The peak rate, reached at the end of the warm-up.
    total_steps : int, >= 2
    warmup_steps : int, in [0, total_steps), keyword-only
    start_factor : float in (0, 1], keyword-only
        The first step's rate as a fraction of ``lr``.
    min_lr : float in [0, lr), keyword-only

    Examples
    --------
    >>> sched = WarmupCosine(0.1, 10, warmup_steps=2, start_factor=0.5)
    >>> [round(sched(t), 4) for t in (0, 1, 2, 6)]
    [0.05, 0.075, 0.1, 0.05]
    """

    def __init__(self, lr, total_steps, *, warmup_steps, start_factor=0.1, min_lr=0.0):
        self.lr = check_number("WarmupCosine: lr", lr, low=0, low_open=True)
        self.total_steps = check_int("WarmupCosine: total_steps", total_steps, minimum=2)
        self.warmup_steps = check_int("WarmupCosine: warmup_steps", warmup_steps, minimum=0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(f"WarmupCosine: warmup_steps {warmup_steps} must be less than "
                             f"total_steps {total_steps}")
        self.start_factor = check_number("WarmupCosine: start_factor", start_factor, low=0,
                                         high=1, low_open=True)
        self.min_lr = check_number("WarmupCosine: min_lr", min_lr, low=0, high=self.lr,
                                   high_open=True)

    def __call__(self, step):
        """The learning rate of optimiser step ``step`` (counted from 0)."""
        t = self._check_step(step)
        w = self.warmup_steps
        if t < w:
            return self.lr * (self.start_factor + (1 - self.start_factor) * t / w)
        span = self.total_steps - w
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * (t - w) / span)) / 2

    def __repr__(self):
        return (f"WarmupCosine(lr={self.lr}, total_steps={self.total_steps}, "
                f"warmup_steps={self.warmup_steps}, start_factor={self.start_factor}, "
                f"min_lr={self.min_lr})")
