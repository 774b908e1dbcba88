"""The learning-rate range test: its curve, its stopping rule, and a model left as it was."""

import numpy as np
import pytest

import cnnlib
from cnnlib.train import lr_find, suggest_lr, train_step


def setup(seed=0):
    rng = np.random.default_rng(seed)
    model = cnnlib.Sequential(
        cnnlib.Conv2d(1, 3, 3, rng=rng), cnnlib.BatchNorm2d(3), cnnlib.ReLU(),
        cnnlib.Flatten(), cnnlib.Dropout(0.2, rng=np.random.default_rng(seed + 1)),
        cnnlib.Linear(12, 3, rng=rng))
    x, y = rng.standard_normal((24, 1, 4, 4)), rng.integers(0, 3, 24)
    loss_fn, opt = cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, 0.01)
    for _ in range(2):  # give Adam moments and a step count, BatchNorm a counter
        train_step(model, loss_fn, opt, x[:8], y[:8])
    model.eval()
    model[1].train()  # mixed modes must come back as they were
    return model, loss_fn, opt, x, y


def everything(model, opt):
    """Every array and flag lr_find may touch, as copies."""
    state = {f"param {k}": v.copy() for k, v in model.params.items()}
    state.update({f"grad {k}": v.copy() for k, v in model.grads.items()})
    state.update({f"buffer {k}": v.copy() for k, v in model.buffers.items()})
    for i, m in enumerate(model.modules()):
        state[f"training {i}"] = np.array(m.training)
        if hasattr(m, "num_batches_tracked"):
            state[f"counter {i}"] = np.array(m.num_batches_tracked)
        if hasattr(m, "rng"):
            state[f"rng {i}"] = np.array(m.rng.bit_generator.state["state"]["state"])
    for k, (m, v) in opt.state.items():
        state[f"adam m {k}"], state[f"adam v {k}"] = m.copy(), v.copy()
    state["adam t"], state["lr"] = np.array(opt.t), np.array(opt.lr)
    state["betas"] = np.array(opt.betas)
    return state


def assert_same(before, after):
    assert before.keys() == after.keys()
    for k in before:
        assert np.array_equal(before[k], after[k]), k


def test_curve_is_exponential_smoothed_and_stops_when_the_loss_diverges():
    model, loss_fn, opt, x, y = setup()
    lrs, losses = lr_find(model, loss_fn, opt, x, y, batch_size=8,
                          rng=np.random.default_rng(5), start_lr=1e-4, end_lr=1e3, steps=60)
    full = 1e-4 * (1e3 / 1e-4) ** (np.arange(60) / 59)
    assert 2 <= len(lrs) < 60  # Adam at lr 1000 diverges
    assert losses[-1] > 4 * losses[:-1].min()  # the stopping rule, and its point is kept
    np.testing.assert_array_equal(lrs, full[: len(lrs)])
    model2, loss2, opt2, x2, y2 = setup()
    _, raw = lr_find(model2, loss2, opt2, x2, y2, batch_size=8, rng=np.random.default_rng(5),
                     start_lr=1e-4, end_lr=1e3, steps=60, beta=0.0)
    n = min(len(raw), len(losses))
    avg, smooth = 0.0, []
    for i, value in enumerate(raw[:n]):  # the debiased moving average of the raw losses
        avg = 0.98 * avg + 0.02 * value
        smooth.append(avg / (1 - 0.98 ** (i + 1)))
    np.testing.assert_allclose(losses[:n], smooth, rtol=1e-12)


def test_everything_is_restored_bit_for_bit():
    model, loss_fn, opt, x, y = setup()
    before = everything(model, opt)
    lr_find(model, loss_fn, opt, x, y, batch_size=8, rng=np.random.default_rng(1), steps=30)
    assert_same(before, everything(model, opt))


def test_training_afterwards_is_as_if_lr_find_never_ran():
    a, loss_a, opt_a, x, y = setup()
    b, loss_b, opt_b, _, _ = setup()
    lr_find(a, loss_a, opt_a, x, y, batch_size=8, rng=np.random.default_rng(1), steps=20)
    for model, loss_fn, opt in ((a, loss_a, opt_a), (b, loss_b, opt_b)):
        model.train()
        for i in range(3):
            train_step(model, loss_fn, opt, x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8])
    assert_same(everything(b, opt_b), everything(a, opt_a))


class FailingLoss(cnnlib.CrossEntropyLoss):
    def __init__(self, at, error):
        super().__init__()
        self.calls, self.at, self.error = 0, at, error

    def forward(self, out, y):
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return super().forward(out, y)


@pytest.mark.parametrize("error", [RuntimeError("injected"), KeyboardInterrupt()])
def test_a_failure_midway_restores_everything(error):
    model, _, opt, x, y = setup()
    before = everything(model, opt)
    with pytest.raises(type(error)):
        lr_find(model, FailingLoss(6, error), opt, x, y, batch_size=8,
                rng=np.random.default_rng(1), steps=30)
    assert_same(before, everything(model, opt))


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=1), "lr_find: steps must be an int >= 2, got 1"),
    (dict(start_lr=1.0, end_lr=1.0), r"lr_find: start_lr \(1.0\) must be less than end_lr"),
    (dict(start_lr=10.0, end_lr=1.0), r"lr_find: start_lr \(10.0\) must be less than end_lr"),
    (dict(start_lr=0.0), "lr_find: start_lr must be a finite number > 0"),
    (dict(start_lr=-1e-3), "lr_find: start_lr must be a finite number > 0"),
    (dict(end_lr=float("inf")), "lr_find: end_lr must be a finite number > 0"),
    (dict(batch_size=0), "lr_find: batch_size must be a positive int, got 0"),
    (dict(batch_size=25), "lr_find: batch_size 25 is more than the 24 examples"),
    (dict(beta=1.0), r"lr_find: beta must be a finite number in \[0, 1\)"),
    (dict(y=np.full(24, 3)), r"lr_find: labels must lie in \[0, 2\]"),
])
def test_bad_arguments_are_refused_before_anything_changes(kwargs, message):
    model, loss_fn, opt, x, y = setup()
    before = everything(model, opt)
    args = dict(batch_size=8, rng=np.random.default_rng(1), y=y)
    args.update(kwargs)
    y_arg = args.pop("y")
    with pytest.raises(ValueError, match=message):
        lr_find(model, loss_fn, opt, x, y_arg, **args)
    assert_same(before, everything(model, opt))


def test_suggested_rate():
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0])
    losses = np.array([2.0, 1.95, 1.2, 1.0, 8.0])
    # slopes against log10(lr): -0.05, -0.4, -0.475, 3.4, 7.0; the steepest before the minimum
    assert suggest_lr(lrs, losses) == 0.1
    assert suggest_lr(lrs, losses, method="minimum") == 0.1
    assert suggest_lr(lrs[:2], np.array([1.0, 2.0])) == 1e-3
    with pytest.raises(ValueError, match="suggest_lr: method must be 'steepest' or 'minimum'"):
        suggest_lr(lrs, losses, method="valley")
    with pytest.raises(ValueError, match="suggest_lr: lrs and losses must be 1-D"):
        suggest_lr(lrs, losses[:3])
