"""Training recipes against PyTorch: label smoothing, gradient clipping, one-cycle and warm-up."""

import numpy as np
import pytest

import cnnlib
from cnnlib.optim import clip_grad_norm_
from cnnlib.schedules import OneCycleLR, WarmupCosine
from cnnlib.train import fit, train_step

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
def test_label_smoothing_matches_torch_forward_and_backward(eps):
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((7, 5)) * 3, rng.integers(0, 5, 7)
    loss = cnnlib.CrossEntropyLoss(label_smoothing=eps)
    value = loss.forward(logits, target)
    grad = loss.backward()
    z = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=eps)(z, torch.tensor(target))
    ref.backward()
    assert abs(value - ref.item()) < 1e-12
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=0, atol=1e-15)


def test_label_smoothing_keeps_float32():
    loss = cnnlib.CrossEntropyLoss(0.2)
    loss.forward(np.ones((3, 4), dtype=np.float32), np.array([0, 1, 3]))
    assert loss.backward().dtype == np.float32


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.1", True])
def test_label_smoothing_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must be a finite "
                                         r"number in \[0, 1\]"):
        cnnlib.CrossEntropyLoss(label_smoothing=bad)


def test_empty_batch_gives_nan_like_torch_without_a_warning(recwarn):
    for eps in (0.0, 0.2):
        loss = cnnlib.CrossEntropyLoss(label_smoothing=eps)
        assert np.isnan(loss.forward(np.zeros((0, 3)), np.zeros(0, dtype=int)))
        assert loss.backward().shape == (0, 3)
        ref = torch.nn.CrossEntropyLoss(label_smoothing=eps)(torch.zeros(0, 3),
                                                            torch.zeros(0, dtype=torch.long))
        assert torch.isnan(ref)
    assert len(recwarn) == 0


def net_and_twin(rng):
    net = cnnlib.Sequential(cnnlib.Conv2d(2, 3, 3, rng=rng), cnnlib.ReLU(), cnnlib.Flatten(),
                            cnnlib.Linear(12, 4, rng=rng))
    twin = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(12, 4)).double()
    named = dict(twin.named_parameters())
    for key, g in net.grads.items():
        g[...] = rng.standard_normal(g.shape)
        named[key].grad = torch.tensor(g)
    return net, twin


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (1e3, 2.0), (0.3, 1.0),
                                                 (0.1, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    net, twin = net_and_twin(np.random.default_rng(1))
    total = clip_grad_norm_(net, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(twin.parameters(), max_norm, norm_type)
    assert abs(total - ref.item()) < 1e-12 * ref.item()
    named = dict(twin.named_parameters())
    for key, g in net.grads.items():
        np.testing.assert_allclose(g, named[key].grad.numpy(), rtol=1e-13, atol=0)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf")])
def test_clip_grad_norm_refuses_a_non_positive_max_norm_before_changing_anything(bad):
    net, _ = net_and_twin(np.random.default_rng(2))
    before = {k: g.copy() for k, g in net.grads.items()}
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be a finite number > 0"):
        clip_grad_norm_(net, bad)
    with pytest.raises(ValueError, match="train_step: clip_grad_norm must be"):
        train_step(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1),
                   np.zeros((1, 2, 4, 4)), np.array([0]), clip_grad_norm=bad)
    assert all(np.array_equal(before[k], g) for k, g in net.grads.items())


def test_train_step_clips_before_the_step():
    rng = np.random.default_rng(3)
    net, _ = net_and_twin(rng)
    x, y = rng.standard_normal((5, 2, 4, 4)) * 10, rng.integers(0, 4, 5)
    start = {k: p.copy() for k, p in net.params.items()}
    train_step(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 1.0), x, y, clip_grad_norm=0.01)
    moved = np.sqrt(sum(np.sum((p - start[k]) ** 2) for k, p in net.params.items()))
    assert abs(moved - 0.01) < 1e-6


def torch_one_cycle(max_lr, total, **kwargs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, **kwargs)
    lrs, moms = [], []
    for t in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if t < total - 1:
            sched.step()
    return np.array(lrs), np.array(moms)


@pytest.mark.parametrize("total, kwargs", [
    (10, {}), (37, dict(pct_start=0.25, div_factor=10.0, final_div_factor=100.0)),
    (50, dict(three_phase=True)), (8, dict(base_momentum=0.8, max_momentum=0.9))])
def test_one_cycle_matches_torch_with_momentum_cycling(total, kwargs):
    lrs, moms = torch_one_cycle(0.4, total, **kwargs)
    mine = OneCycleLR(0.4, total, cycle_momentum=True, **kwargs)
    np.testing.assert_allclose(mine.lrs(), lrs, rtol=1e-15, atol=0)
    np.testing.assert_allclose([mine.momentum(t) for t in range(total)], moms, rtol=1e-15)


def test_warmup_cosine_matches_torch_linear_then_cosine():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.2)
    w, total = 4, 25
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=w),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - w, eta_min=0.002)],
        milestones=[w])
    ref = []
    for _ in range(total):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    mine = WarmupCosine(0.2, total, warmup_steps=w, start_factor=0.25, min_lr=0.002)
    np.testing.assert_allclose(mine.lrs(), ref, rtol=1e-13, atol=0)


def tiny(rng):
    return cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(8, 6, rng=rng), cnnlib.ReLU(),
                             cnnlib.Linear(6, 3, rng=rng))


@pytest.mark.parametrize("make_opt", [lambda m: cnnlib.SGD(m, 0.1, momentum=0.9),
                                      lambda m: cnnlib.Adam(m, 0.01)])
def test_fit_applies_a_step_schedule_and_its_momentum_at_every_step(make_opt):
    def run(manual):
        rng = np.random.default_rng(4)
        x, y = rng.standard_normal((10, 2, 2, 2)), rng.integers(0, 3, 10)
        model = tiny(rng)
        opt, loss_fn = make_opt(model), cnnlib.CrossEntropyLoss()
        sched = OneCycleLR(0.05, 6, cycle_momentum=True)
        if not manual:
            fit(model, loss_fn, opt, x, y, epochs=2, batch_size=4, rng=rng, verbose=False,
                step_schedule=sched)
            return model, opt
        step = 0
        for _ in range(2):
            for idx in cnnlib.train.batches(10, 4, rng=rng):
                opt.lr = sched(step)
                if hasattr(opt, "betas"):
                    opt.betas = (sched.momentum(step), opt.betas[1])
                else:
                    opt.momentum = sched.momentum(step)
                train_step(model, loss_fn, opt, x[idx], y[idx])
                step += 1
        return model, opt

    (a, opt_a), (b, opt_b) = run(False), run(True)
    assert all(np.array_equal(p, b.params[k]) for k, p in a.params.items())
    assert opt_a.lr == opt_b.lr == OneCycleLR(0.05, 6)(5)


def test_ema_matches_torch_averaged_model_with_buffers():
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from cnnlib.averaging import EMA

    rng = np.random.default_rng(5)
    net = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=rng), cnnlib.BatchNorm2d(2))
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).double()
    ema = EMA(net, 0.75)
    ref = AveragedModel(twin, multi_avg_fn=get_ema_multi_avg_fn(0.75), use_buffers=True)
    for _ in range(4):
        state = twin.state_dict()
        for key, array in {**net.params, **net.buffers}.items():
            array[...] = rng.standard_normal(array.shape)
            state[key].copy_(torch.tensor(array))
        ema.update_parameters(net)
        ref.update_parameters(twin)
    averaged = ref.module.state_dict()
    for key, array in {**ema.module.params, **ema.module.buffers}.items():
        np.testing.assert_allclose(array, averaged[key].numpy(), rtol=1e-14, atol=1e-15)
