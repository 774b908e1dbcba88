"""Training loops: a tiny model overfits, dtypes hold, and runs are reproducible."""

import numpy as np

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
