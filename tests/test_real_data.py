"""The real-data chapter's pieces: clothing augmentation, its networks and the training command."""

import json
import re

import numpy as np
import pytest

import cnnlib
from cnnlib.book import compare_blocks, train_fashion
from cnnlib.data import crop_and_flip, random_flip
from cnnlib.data.idx import write_idx
from cnnlib.models import fashion_cnn, fashion_resnet


def test_random_flip_mirrors_about_half_the_images(rng):
    x = rng.random((400, 1, 5, 7))
    y = random_flip(x, rng=np.random.default_rng(1))
    mirrored = np.array([np.array_equal(a, b[..., ::-1]) for a, b in zip(x, y)])
    kept = np.array([np.array_equal(a, b) for a, b in zip(x, y)])
    assert np.all(mirrored ^ kept)
    assert 150 < mirrored.sum() < 250
    assert random_flip(x, rng=rng, p=0.0) is not x
    np.testing.assert_array_equal(random_flip(x, rng=rng, p=0.0), x)


def test_crop_and_flip_keeps_shape_and_moves_at_most_the_padding(rng):
    x = np.zeros((50, 1, 28, 28))
    x[:, :, 13:15, 13:15] = 1
    y = crop_and_flip(x, rng=rng, padding=2)
    assert y.shape == x.shape and np.all(y.sum(axis=(1, 2, 3)) == 4)
    rows, cols = np.nonzero(y[:, 0].any(axis=2))[1], np.nonzero(y[:, 0].any(axis=1))[1]
    assert rows.min() >= 11 and rows.max() <= 16 and cols.min() >= 11 and cols.max() <= 16


@pytest.mark.parametrize("build, kwargs, params", [
    (fashion_cnn, {}, 83_050), (fashion_resnet, {}, 163_378),
    (fashion_resnet, {"channels": [16, 32, 64, 128, 256]}, 1_224_186)])
def test_fashion_networks(build, kwargs, params, rng):
    model = build(rng=rng, **kwargs)
    assert model.num_params() == params
    assert model.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    assert cnnlib.summary(model, (1, 28, 28), print_table=False).total_params == params
    assert fashion_cnn(rng=rng).num_params() < 100_000


@pytest.mark.parametrize("channels, message", [
    ((8,), "channels must be a list of 2 to 6 widths, got (8,)"),
    (8, "channels must be a list of 2 to 6 widths, got 8"),
    ([8, 0], "channels must be a positive int, got 0"),
    ([8, 2.5], "channels must be a positive int, got 2.5"),
])
def test_fashion_resnet_refuses_bad_channels(channels, message, rng):
    with pytest.raises(ValueError, match=re.escape(message)):
        fashion_resnet(rng=rng, channels=channels)


def fake_fashion(folder, rng, n_train=200, n_test=40):
    folder.mkdir(parents=True)
    parts = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
             "train-labels-idx1-ubyte.gz": np.arange(n_train, dtype=np.uint8) % 10,
             "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
             "t10k-labels-idx1-ubyte.gz": np.arange(n_test, dtype=np.uint8) % 10}
    for name, array in parts.items():
        write_idx(folder / name, array)


@pytest.mark.slow
def test_train_fashion_writes_weights_histories_and_the_run_record(tmp_path, rng, capsys):
    fake_fashion(tmp_path / "data", rng)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--data", str(tmp_path / "data"), "--val", "50", "--epochs", "2",
            "--batch-size", "64"]
    train_fashion.main(argv + ["--models", "small_cnn"])
    train_fashion.main(argv + ["--models", "letters_cnn"])
    printed = capsys.readouterr().out
    assert "150 training, 50 validation, 40 test images" in printed
    assert "epoch   2/2" in printed and "small_cnn: test accuracy" in printed
    run = json.loads((out / "fashion_run.json").read_text())
    assert set(run["models"]) == {"small_cnn", "letters_cnn"}  # the second run kept the first
    for name, build in (("small_cnn", fashion_cnn), ("letters_cnn", cnnlib.models.letters_cnn)):
        record = run["models"][name]
        assert record["epochs"] == 2
        model = build(10, rng=np.random.default_rng(5))
        cnnlib.load_weights(model, out / f"fashion_{name}.npz")
        assert record["test_acc"] == cnnlib.train.evaluate(
            model, *cnnlib.data.fashion_mnist(tmp_path / "data")[2:])
        history = cnnlib.train.History.from_json(out / f"fashion_{name}.json")
        assert len(history.val_loss) == 2
        assert history.best_epoch == int(np.argmin(history.val_loss))
        # the recorded wall time covers the epochs, and CPU time is at most both cores' worth
        assert sum(history.seconds) <= record["seconds"] < sum(history.seconds) + 30
        assert 0 < record["cpu_seconds"] <= 2 * record["seconds"] + 1


def test_train_fashion_records_the_workers_of_each_model(tmp_path, rng, capsys):
    fake_fashion(tmp_path / "data", rng, n_train=100, n_test=20)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--data", str(tmp_path / "data"), "--val", "20", "--epochs", "1"]
    train_fashion.main(argv + ["--models", "resnet"])
    train_fashion.main(argv + ["--models", "small_cnn", "--workers", "2"])
    assert "25 epochs" not in capsys.readouterr().out
    run = json.loads((out / "fashion_run.json").read_text())
    assert run["models"]["resnet"]["workers"] == train_fashion.MODELS["resnet"][5] == 2
    kwargs = run["models"]["resnet"]["builder_kwargs"]
    assert kwargs == {"num_classes": 10, **train_fashion.MODELS["resnet"][1]}
    model = getattr(cnnlib.models, run["models"]["resnet"]["builder"])(
        rng=np.random.default_rng(0), **kwargs)
    cnnlib.load_weights(model, out / run["models"]["resnet"]["weights"])
    assert run["models"]["small_cnn"]["workers"] == 2


@pytest.mark.slow
def test_compare_blocks_searches_each_rate_then_runs_the_best_with_more_seeds(tmp_path, rng,
                                                                              capsys):
    fake_fashion(tmp_path / "data", rng)
    out = tmp_path / "blocks.json"
    compare_blocks.main(["--out", str(out), "--data", str(tmp_path / "data"), "--train", "60",
                         "--val", "30", "--epochs", "1", "--seeds", "2", "--lrs", "0.001",
                         "0.01", "--jobs", "1", "--no-progress"])
    assert "60 training, 30 validation, 40 test images" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["settings"]["epochs"] == 1 and list(record["networks"]) == list(
        compare_blocks.NETWORKS)
    x, y, x_val, y_val, x_test, y_test = compare_blocks.subset(60, root=tmp_path / "data",
                                                               n_val=30)
    assert np.bincount(y).tolist() == [6] * 10 and np.bincount(y_val).tolist() == [3] * 10
    target = record["matched_params"]
    assert target == cnnlib.models.small_cnn(10, rng=rng).num_params()
    for label, build in compare_blocks.NETWORKS.items():
        sizes = record["networks"][label]
        assert set(sizes) == ({"own"} if label == "plain CNN" else {"own", "matched"})
        assert sizes["own"]["params"] == build(10, rng=rng).num_params()
        for size, entry in sizes.items():
            assert [r["lr"] for r in entry["search"]] == [0.001, 0.01]
            best = max(entry["search"], key=lambda r: r["val_acc"])
            assert entry["lr"] == best["lr"] and entry["runs"][0] == best
            assert [r["seed"] for r in entry["runs"]] == [0, 1]
            assert all(r["lr"] == entry["lr"] for r in entry["runs"])
        if "matched" in sizes:
            width = sizes["matched"]["width"]
            params = [build(10, rng=rng, width=w).num_params() for w in (width - 1, width + 1)]
            assert all(abs(p - target) >= abs(sizes["matched"]["params"] - target)
                       for p in params)
    entry = record["networks"]["GAP head"]["own"]
    model, history = compare_blocks.train_network(compare_blocks.NETWORKS["GAP head"], x, y,
                                                  seed=1, epochs=1, lr=entry["lr"])
    assert entry["runs"][1]["loss"] == history.loss
    assert entry["runs"][1]["test_acc"] == cnnlib.train.evaluate(model, x_test, y_test)
    assert entry["runs"][1]["val_acc"] == cnnlib.train.evaluate(model, x_val, y_val)


@pytest.mark.parametrize("argv, message", [
    (["--train", "5"], "argument --train: 5 is not a whole number from 10 to 50000"),
    (["--epochs", "0"], "argument --epochs: 0 is not a whole number of at least 1"),
    (["--seeds", "two"], "argument --seeds: two is not a whole number of at least 1"),
    (["--lrs", "0.01", "-1"], "--lrs must all be positive, got [0.01, -1.0]"),
])
def test_compare_blocks_refuses_bad_arguments_before_loading_data(argv, message, capsys,
                                                                  tmp_path):
    with pytest.raises(SystemExit):
        compare_blocks.main(argv + ["--out", str(tmp_path / "out.json")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "argument --batch-size: 0 is not a whole number of at least 1"),
    (["--workers", "65"], "argument --workers: 65 is not a whole number from 0 to 64"),
])
def test_training_commands_refuse_bad_counts(argv, message, capsys):
    with pytest.raises(SystemExit):
        train_fashion.main(argv)
    assert message in capsys.readouterr().err


def test_train_fashion_test_only_evaluates_the_saved_weights_again(tmp_path, rng, capsys):
    fake_fashion(tmp_path / "data", rng, n_train=100, n_test=20)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--data", str(tmp_path / "data"), "--val", "20",
            "--models", "small_cnn"]
    with pytest.raises(SystemExit, match="there is no"):
        train_fashion.main(argv + ["--test-only"])
    out.mkdir()
    (out / "fashion_run.json").write_text('{"models": {}}')
    with pytest.raises(SystemExit, match="has no run of"):
        train_fashion.main(argv + ["--test-only"])
    train_fashion.main(argv + ["--epochs", "1"])
    first = json.loads((out / "fashion_run.json").read_text())["models"]["small_cnn"]
    assert first["tta"] is None and first["test_seconds"] > 0
    train_fashion.main(argv + ["--test-only", "--tta", "hflip"])
    again = json.loads((out / "fashion_run.json").read_text())["models"]["small_cnn"]
    model = fashion_cnn(rng=rng)
    cnnlib.load_weights(model, out / "fashion_small_cnn.npz")
    x_test, y_test = cnnlib.data.fashion_mnist(tmp_path / "data")[2:]
    assert again["tta"] == "hflip"
    assert again["test_acc"] == cnnlib.train.evaluate(model, x_test, y_test, tta="hflip")
    assert {k: v for k, v in again.items() if k not in ("tta", "test_acc", "test_seconds")} == {
        k: v for k, v in first.items() if k not in ("tta", "test_acc", "test_seconds")}
    assert "small_cnn: test accuracy" in capsys.readouterr().out
    record = json.loads((out / "fashion_run.json").read_text())
    record["models"]["small_cnn"]["builder"] = "no_such_builder"  # the record is what is rebuilt
    (out / "fashion_run.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match=r"names builders that cnnlib.models does not have: "
                                         r"\['no_such_builder'\]"):
        train_fashion.main(argv + ["--test-only"])
