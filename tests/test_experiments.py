"""Tests for the chapters' experiments: T/L training loops, side-by-side training, the letters run."""

import json

import numpy as np
import pytest

import cnnlib
from cnnlib.tools.gradcheck import check_layer
from cnnlib import models
from cnnlib.book import datasets, train_letters
from cnnlib.book.experiments import (GroupedLinear, accuracy, predict_t, train_mse,
                                     train_side_by_side)
from cnnlib.models import tl_cnn, tl_dense


@pytest.fixture(scope="module")
def data():
    return cnnlib.data.tl_letters()


def test_shapes_and_parameter_counts(rng):
    x = np.zeros((5, 1, 8, 8))
    for model, n_params in ((tl_cnn(1, rng=rng), 55), (tl_cnn(4, rng=rng), 345),
                            (tl_dense(16, rng=rng), 1057)):
        assert model.forward(x).shape == (5, 1)
        assert model.num_params() == n_params
    four = tl_cnn(4, rng=rng)
    assert four[1](four[0](x)).shape == (5, 4, 6, 6)


def test_predict_t_thresholds_at_one_half(rng):
    model = tl_dense(2, rng=rng)
    for p in model.params.values():
        p[...] = 0
    model.params["3.bias"][...] = 0.6
    assert predict_t(model, np.zeros((3, 1, 8, 8))).tolist() == [1, 1, 1]
    model.params["3.bias"][...] = 0.4
    assert accuracy(model, np.zeros((2, 1, 8, 8)), np.array([0, 1])) == 0.5


def test_train_mse_matches_the_mse_loss_and_decreases(data, rng):
    model = tl_cnn(1, rng=rng)
    target = data["y_train"][:, None].astype(float)
    start = cnnlib.MSELoss().forward(model.forward(data["x_train"]), target)
    losses = train_mse(model, data["x_train"], data["y_train"], epochs=30, lr=0.1)
    assert losses.shape == (30,)
    assert losses[0] == pytest.approx(start)
    assert losses[-1] < losses[0]


def test_side_by_side_equals_training_one_at_a_time(data):
    x, y = data["x_train"], data["y_train"]
    for build in (lambda r: tl_cnn(1, rng=r), lambda r: tl_cnn(4, rng=r),
                  lambda r: tl_dense(8, rng=r)):
        together = [build(np.random.default_rng(s)) for s in (3, 7)]
        alone = [build(np.random.default_rng(s)) for s in (3, 7)]
        losses = train_side_by_side(together, x, y, epochs=15, lr=0.1)
        assert losses.shape == (15, 2)
        for i, model in enumerate(alone):
            np.testing.assert_allclose(losses[:, i], train_mse(model, x, y, epochs=15, lr=0.1),
                                       rtol=1e-10)
            for key, value in model.params.items():
                np.testing.assert_allclose(together[i].params[key], value, rtol=0, atol=1e-10)


def test_side_by_side_rejects_layers_it_cannot_stack(data, rng):
    models = [cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(64, 1, rng=rng), cnnlib.GELU())]
    with pytest.raises(TypeError, match="GELU"):
        train_side_by_side(models, data["x_train"], data["y_train"], epochs=1, lr=0.1)


def test_grouped_linear_gradients(rng):
    layer = GroupedLinear([cnnlib.Linear(3, 2, rng=rng) for _ in range(4)])
    assert layer.forward(np.zeros((5, 12))).shape == (5, 8)
    errors = check_layer(layer, rng.standard_normal((5, 12)), rng=rng)
    assert max(errors.values()) < 1e-7


def test_four_kernel_model_fits_every_training_image(data):
    model = tl_cnn(4, rng=np.random.default_rng(5))
    train_mse(model, data["x_train"], data["y_train"], epochs=400, lr=0.1)
    assert accuracy(model, data["x_train"], data["y_train"]) == 1.0
    assert accuracy(model, data["x_test"], data["y_test"]) > 0.89   # 35 of 38 here


@pytest.mark.slow
def test_train_letters_command_writes_results(tmp_path, capsys):
    train_letters.main(["--out", str(tmp_path), "--per-glyph", "1", "--epochs", "1",
                        "--sweep-epochs", "1", "--sweep-size", "200", "--rates", "1e-4", "3e-4",
                        "1e-3", "3e-3",
                        "--models", "letters_dense", "letters_dense_aug"])
    out = capsys.readouterr().out
    assert "held-out-font accuracy" in out and "sweep dense" in out
    for name in ("letters_dense", "letters_dense_aug"):
        model = models.letters_dense(rng=np.random.default_rng(1))
        cnnlib.load_weights(model, tmp_path / f"{name}.npz")
        history = cnnlib.train.History.from_json(tmp_path / f"{name}.json")
        assert len(history.loss) == len(history.val_acc) == 1
    run = json.loads((tmp_path / "letters_run.json").read_text())
    assert run["n_train"] + run["n_val"] == len(datasets.LETTER_FONTS_TRAIN) * 52
    sweep = run["sweeps"]["dense"]
    assert set(run["sweeps"]) == {"dense"} and sweep["rates"] == [1e-4, 3e-4, 1e-3, 3e-3]
    best = int(np.argmin(sweep["val_loss"]))
    assert best >= 2                  # so "one step below the best" is not the lowest rate
    assert len(sweep["val_loss"]) == 4 and sweep["lr"] == sweep["rates"][best - 1]
    for name in ("letters_dense", "letters_dense_aug"):          # the same method for both
        assert run["models"][name]["lr"] == sweep["lr"]
        assert run["models"][name]["epochs_run"] == 1


def test_train_letters_families_and_rates():
    assert train_letters.family("letters_cnn_aug") == "cnn"
    assert train_letters.family("letters_dense") == "dense"
    rates = list(train_letters.RATES)
    assert rates == sorted(rates) and len(rates) >= 5


def test_train_letters_takes_an_emnist_folder(tmp_path, capsys):
    from cnnlib.data.idx import write_idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "emnist"
    folder.mkdir()
    for split, n in (("train", 260), ("test", 52)):
        write_idx(folder / f"emnist-letters-{split}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"emnist-letters-{split}-labels-idx1-ubyte.gz",
                  (np.arange(n) % 26 + 1).astype(np.uint8))
    train_letters.main(["--out", str(tmp_path / "out"), "--emnist", str(folder), "--epochs", "1",
                        "--sweep-epochs", "1", "--sweep-size", "100", "--rates", "1e-3",
                        "--models", "letters_dense"])
    out = capsys.readouterr().out
    assert "EMNIST letters from" in out and "234 training, 26 validation, 52 test images" in out
    assert "letters_dense: test accuracy" in out
    assert (tmp_path / "out" / "letters_dense.npz").exists()
