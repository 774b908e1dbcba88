"""The Fashion-MNIST script's recipes: a record that rebuilds and re-evaluates each model."""

import importlib
import json
import re

import numpy as np
import pytest

import cnnlib
from cnnlib.data import write_idx

train_fashion = pytest.importorskip("cnnlib.book.train_fashion")


def fake_fashion(folder, rng, n_train=90, n_test=20):
    folder.mkdir(parents=True)
    parts = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
             "train-labels-idx1-ubyte.gz": np.arange(n_train, dtype=np.uint8) % 10,
             "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
             "t10k-labels-idx1-ubyte.gz": np.arange(n_test, dtype=np.uint8) % 10}
    for name, array in parts.items():
        write_idx(folder / name, array)


@pytest.mark.parametrize("schedule", ["onecycle", "warmup"])
def test_a_recipe_run_records_what_rebuilds_and_evaluates_the_model(tmp_path, schedule, capsys):
    fake_fashion(tmp_path / "data", np.random.default_rng(0))
    out = tmp_path / "out"
    train_fashion.main(["--out", str(out), "--data", str(tmp_path / "data"), "--val", "20",
                        "--epochs", "1", "--batch-size", "35", "--models", "small_cnn",
                        "--schedule", schedule, "--label-smoothing", "0.1", "--ema", "0.9",
                        "--tta", "hflip", "--erase", "0.5", "--clip", "1", "--no-progress"])
    printed = capsys.readouterr()
    assert f"{schedule} schedule, augmented, label smoothing 0.1, EMA 0.9" in printed.out
    assert printed.err == ""
    record = json.loads((out / "fashion_run.json").read_text())["models"]["small_cnn"]
    assert record["tta"] == "hflip" and record["seconds"] > 0
    assert record["settings"]["schedule"] == schedule and record["settings"]["ema"] == 0.9
    builder = getattr(importlib.import_module("cnnlib.models"), record["builder"])
    model = builder(**record["builder_kwargs"], rng=np.random.default_rng(1))
    cnnlib.load_weights(model, out / record["weights"])
    x_test, y_test = cnnlib.data.fashion_mnist(tmp_path / "data")[2:]
    assert record["test_acc"] == cnnlib.train.evaluate(model, x_test, y_test, tta=record["tta"])


@pytest.mark.parametrize("argv, message", [
    (["--label-smoothing", "0.1", "--models", "letters_cnn"], "--label-smoothing needs"),
    (["--label-smoothing", "-0.1"], r"-0.1 is not a number in \[0, 1\]"),
    (["--ema", "1"], r"1 is not a number in \[0, 1\)"),
    (["--clip", "-2"], "--clip must be 0 .off. or a positive norm"),
    (["--tta", "vflip"], "invalid choice: 'vflip'"),
])
def test_bad_recipe_options_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        train_fashion.main(argv)
    assert re.search(message, capsys.readouterr().err)
