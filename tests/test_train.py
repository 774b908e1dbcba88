"""Training loops: a tiny model overfits, dtypes hold, and runs are reproducible."""

import numpy as np
import pytest

import cnnlib
from cnnlib.train import History, evaluate, fit


def tiny_cnn(rng, dtype=np.float64):
    return cnnlib.Sequential(cnnlib.Conv2d(1, 4, 3, rng=rng, dtype=dtype), cnnlib.ReLU(),
                             cnnlib.MaxPool2d(2), cnnlib.Flatten(),
                             cnnlib.Linear(36, 3, rng=rng, dtype=dtype))


def test_tiny_model_overfits_20_samples(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 1, 8, 8))
    y = rng.integers(0, 3, 20)
    model = tiny_cnn(rng)
    history = fit(model, cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, 0.01), x, y, epochs=150,
                  batch_size=10, rng=rng, verbose=False)
    assert evaluate(model, x, y) == 1.0
    assert history.loss[-1] < 0.05 < history.loss[0]
    assert capsys.readouterr().out == ""


def test_float32_model_stays_float32():
    rng = np.random.default_rng(1)
    model = tiny_cnn(rng, np.float32)
    out = model.forward(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    assert out.dtype == np.float32
    loss = cnnlib.CrossEntropyLoss()
    loss.forward(out, np.array([0, 2]))
    dx = model.backward(loss.backward())
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    cnnlib.SGD(model, 0.1, momentum=0.9).step()
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_early_stopping_restores_best_and_history_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((30, 1, 8, 8)), rng.integers(0, 3, 30)
    xv, yv = rng.standard_normal((10, 1, 8, 8)), rng.integers(0, 3, 10)
    model = tiny_cnn(rng)
    history = fit(model, cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, 0.05), x, y, epochs=40,
                  batch_size=10, rng=rng, x_val=xv, y_val=yv, patience=3)
    assert len(history.val_loss) < 40
    assert "stopping early" in capsys.readouterr().out
    best = history.val_loss[history.best_epoch]
    restored = cnnlib.CrossEntropyLoss().forward(cnnlib.train.predict(model, xv), yv)
    assert abs(restored - best) < 1e-12
    history.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json") == history


def test_same_seed_same_result():
    def run():
        rng = np.random.default_rng(3)
        x, y = rng.standard_normal((16, 1, 8, 8)), rng.integers(0, 3, 16)
        model = tiny_cnn(rng)
        fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1, momentum=0.9), x, y,
            epochs=3, batch_size=4, rng=rng, verbose=False)
        return model.params["4.weight"]
    np.testing.assert_array_equal(run(), run())


def snapshot(model):
    return {k: v.copy() for k, v in {**model.params, **model.buffers}.items()}


@pytest.mark.parametrize("kwargs, message", [
    (dict(y=np.zeros(29, dtype=int)), "fit: x has 30 examples but y has 29 labels"),
    (dict(y=np.full(30, 3)), r"fit: labels must lie in \[0, 2\] for 3 classes"),
    (dict(y=np.zeros(30)), "fit: labels must be integers"),
    (dict(y=np.zeros((30, 1), dtype=int)), r"one-hot or \(N, 1\) labels"),
    (dict(batch_size=0), "fit: batch_size must be a positive int, got 0"),
    (dict(epochs=-1), r"fit: epochs must be an int >= 0, got -1"),
    (dict(x_val=np.zeros((5, 1, 8, 8))), "give both x_val and y_val"),
    (dict(x_val=np.zeros((5, 1, 8, 8)), y_val=np.zeros(4, dtype=int)),
     "x_val has 5 examples but y_val has 4"),
    (dict(x_val=np.zeros((5, 1, 8, 8)), y_val=np.full(5, 7)), r"labels must lie in \[0, 2\]"),
    (dict(x_val=np.zeros((5, 1, 6, 6)), y_val=np.zeros(5, dtype=int)),
     r"x_val examples have shape \(1, 6, 6\)"),
    (dict(patience=2), "patience .* needs x_val and y_val"),
    (dict(rng=0), "fit: rng must be a numpy Generator"),
    (dict(x=np.zeros((30, 2, 8, 8))), "input has 2 channels but the layer expects 1"),
])
def test_fit_validates_everything_before_the_first_update(kwargs, message):
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    before = snapshot(model)
    args = dict(x=rng.standard_normal((30, 1, 8, 8)), y=rng.integers(0, 3, 30), epochs=2,
                batch_size=8, rng=rng, verbose=False)
    args.update(kwargs)
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises((ValueError, TypeError), match=message):
        fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, **args)
    for k, v in snapshot(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_zero_epochs_changes_nothing():
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    before = snapshot(model)
    h = fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1),
            rng.standard_normal((4, 1, 8, 8)), np.array([0, 1, 2, 0]), epochs=0, batch_size=2,
            rng=rng)
    assert h.loss == []
    for k, v in snapshot(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_transform_sees_every_training_batch_and_never_validation():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 1, 8, 8)), rng.integers(0, 3, 20)
    seen = []

    def transform(xb, generator):
        assert generator is rng
        seen.append(len(xb))
        return xb * 0

    model = tiny_cnn(np.random.default_rng(1))
    conv_before = model.params["0.weight"].copy()
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), x, y, epochs=2, batch_size=6,
        rng=rng, x_val=x[:5], y_val=y[:5], transform=transform, verbose=False)
    assert seen == [6, 6, 6, 2] * 2
    # a zeroed input trains only the biases: the first kernel never moves
    np.testing.assert_array_equal(model.params["0.weight"], conv_before)


def test_validation_uses_the_callers_batch_size():
    rng = np.random.default_rng(0)
    sizes = []

    class Recorder(cnnlib.Identity):
        def _forward(self, x):
            sizes.append(len(x))
            return x

    model = cnnlib.Sequential(Recorder(), cnnlib.Flatten(), cnnlib.Linear(4, 2, rng=rng))
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), np.ones((6, 1, 2, 2)),
        np.zeros(6, dtype=int), epochs=1, batch_size=4, rng=rng, x_val=np.ones((7, 1, 2, 2)),
        y_val=np.zeros(7, dtype=int), verbose=False)
    assert sizes == [4, 2, 4, 3]


def test_snapshots_are_taken_only_for_early_stopping(monkeypatch):
    calls = []
    monkeypatch.setattr(cnnlib.train, "_snapshot", lambda m: calls.append(1) or {})
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    fit(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 0.1), rng.standard_normal((8, 1, 8, 8)),
        rng.integers(0, 3, 8), epochs=3, batch_size=4, rng=rng,
        x_val=rng.standard_normal((4, 1, 8, 8)), y_val=rng.integers(0, 3, 4), verbose=False)
    assert calls == []


def test_predict_restores_the_mode_even_when_forward_fails():
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng).train()
    with pytest.raises(ValueError, match="channels"):
        cnnlib.train.predict(model, np.ones((2, 3, 8, 8)))
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    cnnlib.train.predict(model, np.ones((2, 1, 8, 8)))
    assert not model.training


def test_train_step_is_one_forward_backward_and_update():
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    before = model.params["4.bias"].copy()
    loss, out = cnnlib.train.train_step(model, cnnlib.CrossEntropyLoss(), cnnlib.SGD(model, 1.0),
                                        np.ones((2, 1, 8, 8)), np.array([0, 1]))
    assert out.shape == (2, 3) and loss > 0
    np.testing.assert_allclose(model.params["4.bias"], before - model.grads["4.bias"])


def test_lr_schedule_sets_the_rate_of_every_epoch():
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    opt = cnnlib.SGD(model, 0.1)
    seen = []

    class Spy(cnnlib.CrossEntropyLoss):
        def forward(self, out, y):
            seen.append(opt.lr)
            return super().forward(out, y)

    fit(model, Spy(), opt, rng.standard_normal((4, 1, 8, 8)), np.array([0, 1, 2, 0]), epochs=3,
        batch_size=4, rng=rng, lr_schedule=lambda e: 0.1 / (e + 1), verbose=False)
    assert seen == [0.1, 0.05, 0.1 / 3]
    with pytest.raises(ValueError, match=r"fit: lr_schedule\(epoch\) must be a finite number > 0"):
        fit(model, Spy(), opt, np.ones((2, 1, 8, 8)), np.array([0, 1]), epochs=1, batch_size=2,
            rng=rng, lr_schedule=lambda e: 0.0, verbose=False)


def test_cosine_schedule_falls_from_lr_to_the_final_fraction():
    s = cnnlib.train.cosine_schedule(0.1, 5, final=0.1)
    rates = [s(e) for e in range(5)]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.01)
    assert rates[2] == pytest.approx(0.055)
    assert all(a > b for a, b in zip(rates, rates[1:]))
