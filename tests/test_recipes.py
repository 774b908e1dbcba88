"""Training recipes: EMA arithmetic, hflip TTA, monitor statistics, progress bars, refusals."""

import io
import sys

import numpy as np
import pytest

import cnnlib
from cnnlib.averaging import EMA
from cnnlib.monitor import GELU_DEAD_BELOW, Monitor
from cnnlib.progress import TextProgress, progress_bar
from cnnlib.train import evaluate, fit, predict, train_step


def tiny(rng, bn=False):
    layers = [cnnlib.Conv2d(1, 2, 3, padding=1, rng=rng)]
    layers += [cnnlib.BatchNorm2d(2)] if bn else []
    layers += [cnnlib.ReLU(), cnnlib.Flatten(), cnnlib.Linear(18, 3, rng=rng)]
    return cnnlib.Sequential(*layers)


def data(rng, n=12):
    return rng.standard_normal((n, 1, 3, 3)), rng.integers(0, 3, n)


def test_ema_arithmetic_by_hand():
    fc = cnnlib.Linear(1, 1, rng=np.random.default_rng(0))
    ema = EMA(fc, decay=0.9)
    for w in (1.0, 2.0, 4.0):
        fc.params["weight"][...] = w
        ema.update_parameters(fc)
    # first update copies: 1; then 1 + 0.1 (2 - 1) = 1.1; then 1.1 + 0.1 (4 - 1.1) = 1.39
    assert abs(ema.module.params["weight"][0, 0] - 1.39) < 1e-15
    assert fc.params["weight"][0, 0] == 4.0 and ema.n_averaged == 3


def test_ema_averages_batchnorm_statistics_and_copies_the_counter():
    rng = np.random.default_rng(1)
    model = tiny(rng, bn=True)
    ema = EMA(model, 0.5)
    x = rng.standard_normal((4, 1, 3, 3))
    means = []
    for _ in range(2):
        model.forward(x * (len(means) + 1))
        means.append(model.buffers["1.running_mean"].copy())
        ema.update_parameters(model)
    np.testing.assert_allclose(ema.module.buffers["1.running_mean"], (means[0] + means[1]) / 2,
                               rtol=1e-15)
    assert ema.module[1].num_batches_tracked == 2 and not ema.module.training


def test_fit_with_ema_matches_a_manual_loop_and_ends_with_the_average():
    def run(manual):
        rng = np.random.default_rng(2)
        model, (x, y) = tiny(rng), data(rng)
        opt, loss_fn = cnnlib.SGD(model, 0.1), cnnlib.CrossEntropyLoss()
        if not manual:
            fit(model, loss_fn, opt, x, y, epochs=2, batch_size=4, rng=rng, verbose=False,
                ema=0.8)
            return model
        ema = EMA(model, 0.8)
        for _ in range(2):
            for idx in cnnlib.train.batches(12, 4, rng=rng):
                train_step(model, loss_fn, opt, x[idx], y[idx])
                ema.update_parameters(model)
        return ema.module

    a, b = run(False), run(True)
    assert all(np.array_equal(p, b.params[k]) for k, p in a.params.items())


def test_fit_with_an_ema_object_validates_it_and_leaves_the_model_its_own_weights():
    rng = np.random.default_rng(3)
    model, (x, y) = tiny(rng), data(rng)
    ema = EMA(model, 0.9)
    loss_fn = cnnlib.CrossEntropyLoss()
    history = fit(model, loss_fn, cnnlib.SGD(model, 0.1), x, y, epochs=1, batch_size=4, rng=rng,
                  x_val=x, y_val=y, verbose=False, ema=ema)
    assert ema.n_averaged == 3
    assert history.val_loss[0] == loss_fn.forward(predict(ema.module, x), y)
    assert not np.array_equal(ema.module.params["0.weight"], model.params["0.weight"])


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan")])
def test_ema_decay_outside_0_1_is_refused_before_anything_changes(bad):
    rng = np.random.default_rng(4)
    model, (x, y) = tiny(rng), data(rng)
    before = model.params["0.weight"].copy()
    with pytest.raises(ValueError, match=r"EMA: decay must be a finite number in \(0, 1\)"):
        EMA(model, bad)
    with pytest.raises(ValueError, match=r"fit: ema \(the decay\) must be a finite number"):
        fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=1,
            batch_size=4, rng=rng, verbose=False, ema=bad)
    assert np.array_equal(before, model.params["0.weight"])


def test_hflip_tta_is_the_average_of_both_softmaxes():
    rng = np.random.default_rng(5)
    model, (x, y) = tiny(rng), data(rng, 10)
    x = rng.standard_normal((10, 1, 3, 3))
    probs = predict(model, x, batch_size=4, tta="hflip")
    soft = cnnlib.functional.softmax
    by_hand = (soft(predict(model, x, batch_size=4), axis=1)
               + soft(predict(model, x[..., ::-1], batch_size=4), axis=1)) / 2
    np.testing.assert_allclose(probs, by_hand, rtol=1e-14, atol=0)
    assert not np.allclose(probs, soft(predict(model, x), axis=1))
    assert evaluate(model, x, y, tta="hflip") == np.mean(by_hand.argmax(axis=1) == y)


@pytest.mark.parametrize("tta, x, message", [
    ("vflip", np.zeros((2, 1, 3, 3)), "predict: tta must be None or 'hflip', got 'vflip'"),
    (True, np.zeros((2, 1, 3, 3)), "predict: tta must be None or 'hflip', got True"),
    ("hflip", np.zeros((2, 9)), r"predict: tta='hflip' mirrors images, so x must have shape")])
def test_bad_tta_is_refused(tta, x, message):
    model = cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(9, 2, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match=message):
        predict(model, x, tta=tta)


def hand_network(activation):
    fc = cnnlib.Linear(2, 2, rng=np.random.default_rng(0))
    fc.params["weight"][...] = np.eye(2)
    fc.params["bias"][...] = 0.0
    return cnnlib.Sequential(fc, activation)


def test_monitor_statistics_by_hand():
    model = hand_network(cnnlib.ReLU())
    x = np.array([[1.0, -2.0], [3.0, 4.0]])
    mon = Monitor(bins=5, hist_range=(0, 5)).attach(model)
    assert mon.begin_step(0)
    train_step(model, cnnlib.MSELoss(), cnnlib.SGD(model, 0.1), x, np.zeros((2, 2)))
    mon.end_step()
    mon.detach()
    # ReLU output [[1, 0], [3, 4]]
    stats = mon.activations["1"]
    assert stats["mean"] == [2.0] and stats["std"] == [np.sqrt(2.5)] and stats["dead"] == [0.25]
    assert stats["hist"][0].tolist() == [1, 1, 0, 1, 1]
    # dL/dy = y / 2, so dW = dz^T x = [[5, 5], [6, 8]] and db = [2, 2]
    assert abs(mon.grad_norm["0.weight"][0] - np.sqrt(150)) < 1e-12
    assert abs(mon.grad_norm["0.bias"][0] - np.sqrt(8)) < 1e-12
    # the step moves W by 0.1 dW, and W = I has norm sqrt(2); b starts at zero
    assert abs(mon.update_ratio["0.weight"][0] - 0.1 * np.sqrt(75)) < 1e-12
    assert np.isnan(mon.update_ratio["0.bias"][0])
    assert "forward" not in vars(model[1])


def test_monitor_gelu_rule_and_recording_every_other_step_in_fit():
    model = hand_network(cnnlib.GELU())
    x = np.array([[-4.0, -1.0], [2.0, -3.5]])
    mon = Monitor(every=2)
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 1e-9), x, np.array([0, 1]),
        epochs=5, batch_size=2, rng=np.random.default_rng(0), verbose=False, monitor=mon)
    assert mon.steps == [0, 2, 4]
    assert GELU_DEAD_BELOW == -3.0
    assert mon.activations["1"]["dead"] == [0.5, 0.5, 0.5]  # -4 and -3.5 are below -3
    assert "forward" not in vars(model[1])


def test_monitor_refuses_unknown_layers_and_a_second_attach():
    model = hand_network(cnnlib.ReLU())
    with pytest.raises(ValueError, match="Monitor.attach: the model has no layer named '7'"):
        Monitor(layers=["7"]).attach(model)
    mon = Monitor(layers=["0"]).attach(model)
    with pytest.raises(RuntimeError, match="already attached"):
        mon.attach(model)
    with pytest.raises(ValueError, match="Monitor: every must be a positive int"):
        Monitor(every=0)


def test_text_progress_shows_counts_elapsed_and_remaining_time():
    out = io.StringIO()
    with TextProgress(4, "epoch 1/1", file=out, mininterval=0) as bar:
        for i in range(4):
            bar.set_postfix_str(f"loss {i}")
            bar.update()
    frames = out.getvalue().split("\r")[1:]
    assert frames[1] == "epoch 1/1  2/4 [ 50%] elapsed 0:00 remaining 0:00  loss 1"
    assert frames[-1] == "epoch 1/1  4/4 [100%] elapsed 0:00 remaining 0:00  loss 3\n"


def test_progress_falls_back_to_text_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert isinstance(progress_bar(3, progress=True), TextProgress)
    with pytest.raises(ImportError, match="progress='tqdm' needs tqdm"):
        progress_bar(3, progress="tqdm")
    rng = np.random.default_rng(6)
    model, (x, y) = tiny(rng), data(rng)
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=1, batch_size=4,
        rng=rng, verbose=False, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1  3/3 [100%] elapsed 0:00 remaining 0:00  loss " in err


def test_progress_is_off_by_default_and_bad_values_are_refused(capsys):
    rng = np.random.default_rng(7)
    model, (x, y) = tiny(rng), data(rng)
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=1, batch_size=4,
        rng=rng, verbose=False)
    evaluate(model, x, y)
    assert capsys.readouterr() == ("", "")
    for bad in ("bar", 2):
        with pytest.raises(ValueError, match="fit: progress must be False, True, 'text' or"):
            fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=1,
                batch_size=4, rng=rng, progress=bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(clip_grad_norm=0), "fit: clip_grad_norm must be a finite number > 0"),
    (dict(clip_grad_norm=-1.0), "fit: clip_grad_norm must be a finite number > 0"),
    (dict(step_schedule=cnnlib.schedules.OneCycleLR(0.1, 5)),
     "fit: the run takes 6 steps .* but step_schedule has total_steps=5"),
    (dict(step_schedule=lambda t: 0.1, lr_schedule=lambda e: 0.1),
     "give lr_schedule .* or step_schedule .*, not both"),
    (dict(monitor="yes"), "fit: monitor must be a cnnlib.monitor.Monitor"),
])
def test_fit_refuses_bad_recipe_options_before_anything_changes(kwargs, message):
    rng = np.random.default_rng(8)
    model, (x, y) = tiny(rng), data(rng)
    before = model.params["0.weight"].copy()
    with pytest.raises((ValueError, TypeError), match=message):
        fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=2,
            batch_size=4, rng=rng, verbose=False, **kwargs)
    assert np.array_equal(before, model.params["0.weight"])


def test_fit_clips_like_train_step_with_one_or_two_workers():
    pytest.importorskip("threadpoolctl")

    def run(workers):
        rng = np.random.default_rng(9)
        model, (x, y) = tiny(rng), data(rng)
        fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.5), x * 50, y, epochs=1,
            batch_size=6, rng=rng, verbose=False, clip_grad_norm=0.1, workers=workers)
        return model

    a, b = run(1), run(2)
    for k, p in a.params.items():
        np.testing.assert_allclose(p, b.params[k], rtol=1e-12, atol=1e-14)


def test_random_erasing_blanks_one_box_of_the_drawn_size():
    from cnnlib.data.augment import random_erasing

    rng = np.random.default_rng(10)
    images = rng.random((20, 2, 28, 28)) + 1
    out = random_erasing(images, rng=rng, p=1.0)
    for img in out:
        rows, cols = np.nonzero(img[0] == 0)
        assert np.array_equal(img[0] == 0, img[1] == 0)  # every channel of the box
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert box == len(rows) and 0.02 * 784 * 0.8 < box < 0.33 * 784 * 1.2
    assert np.array_equal(random_erasing(images, rng=rng, p=0.0), images)
    assert np.all(images >= 1)  # the input is not changed
    with pytest.raises(ValueError, match="random_erasing: p must be a finite number in"):
        random_erasing(images, rng=rng, p=2)
