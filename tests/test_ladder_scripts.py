"""The ConvNeXt ladder and the batch-size norm comparison: their networks and tiny runs."""

import json

import numpy as np
import pytest

from cnnlib import ConvNeXtBlock
from cnnlib.book import convnext_ladder, norm_batch
from cnnlib.nn.layers import Conv2d, ReLU
from cnnlib.tools.gradcheck import check_layer


def _tiny_data():
    rng = np.random.default_rng(0)
    return (rng.random((40, 1, 28, 28), dtype=np.float32), np.arange(40) % 10,
            rng.random((20, 1, 28, 28), dtype=np.float32), np.arange(20) % 10)


@pytest.mark.parametrize("activation", [None, ReLU()])
def test_residual_gradients(activation):
    rng = np.random.default_rng(1)
    block = convnext_ladder.Residual(Conv2d(2, 2, 3, padding=1, rng=rng), activation)
    errors = check_layer(block, rng.standard_normal((2, 2, 5, 5)), rng=rng)
    assert max(errors.values()) < 1e-7


def test_residual_refuses_a_branch_that_changes_the_shape():
    block = convnext_ladder.Residual(Conv2d(2, 3, 1, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="Residual: the branch maps"):
        block.out_shape((1, 2, 4, 4))


@pytest.mark.parametrize("rung", range(len(convnext_ladder.RUNGS)))
def test_every_rung_classifies_28x28_images(rung):
    model = convnext_ladder.ladder_net(rung, rng=np.random.default_rng(0), widths=(8, 16))
    assert model.forward(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape == (2, 10)


def test_the_last_rung_is_convnexts_block_without_layer_scale():
    rng = np.random.default_rng(2)
    ours = convnext_ladder.ladder_net(7, rng=rng, widths=(8, 16), dtype=np.float64)[2]
    theirs = ConvNeXtBlock(8, layer_scale=1.0, rng=rng, approximate="tanh")
    for key, value in theirs.params.items():
        if key != "layer_scale":
            value[...] = ours.params[key.replace("dwconv", "branch.0").replace(
                "norm", "branch.1").replace("pwconv1", "branch.2").replace(
                "pwconv2", "branch.4")]
    x = rng.standard_normal((2, 8, 9, 9))
    np.testing.assert_allclose(ours.forward(x), theirs.forward(x), rtol=0, atol=1e-12)


def test_bad_rung_is_refused():
    with pytest.raises(ValueError, match="ladder_net: rung must be 0 to 7"):
        convnext_ladder.ladder_net(8, rng=np.random.default_rng(0))


def test_tiny_ladder_run_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(convnext_ladder, "fashion_mnist", lambda root=None: _tiny_data())
    out = tmp_path / "ladder.json"
    convnext_ladder.main(["--epochs", "1", "--seeds", "1", "--rungs", "0", "7", "--fraction",
                          "0.5", "--batch-size", "10", "--no-progress", "--out", str(out)])
    record = json.loads(out.read_text())
    assert [r["label"] for r in record["rungs"]] == ["ResNet", "layer norm"]
    assert all(0 <= r["runs"][0]["test_acc"] <= 1 for r in record["rungs"])
    assert record["settings"]["train_images"] == 20
    assert [p.name for p in tmp_path.iterdir()] == ["ladder.json"]


def test_norm_cnn_uses_the_norm_asked_for():
    names = {n: [type(layer).__name__ for layer in norm_batch.norm_cnn(
        n, rng=np.random.default_rng(0))] for n in norm_batch.NORMS}
    assert names["batch"].count("BatchNorm2d") == 2 and names["group"].count("GroupNorm") == 2
    with pytest.raises(ValueError, match="norm_cnn: norm must be one of"):
        norm_batch.norm_cnn("instance", rng=np.random.default_rng(0))


def test_tiny_norm_run_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(norm_batch, "fashion_mnist", lambda root=None: _tiny_data())
    out = tmp_path / "norm.json"
    norm_batch.main(["--images", "20", "--batch-sizes", "4", "10", "--seeds", "1",
                     "--out", str(out)])
    runs = json.loads(out.read_text())["runs"]
    assert [(r["norm"], r["batch_size"]) for r in runs] == [
        ("batch", 4), ("batch", 10), ("group", 4), ("group", 10)]


def test_parallel_runs_give_the_same_record(tmp_path, monkeypatch):
    monkeypatch.setattr(convnext_ladder, "fashion_mnist", lambda root=None: _tiny_data())
    records = []
    for jobs in ("1", "2"):
        out = tmp_path / f"ladder_{jobs}.json"
        convnext_ladder.main(["--epochs", "1", "--seeds", "2", "--rungs", "1", "--fraction",
                              "0.5", "--batch-size", "10", "--no-progress", "--jobs", jobs,
                              "--out", str(out)])
        records.append(json.loads(out.read_text()))
    accs = [[r["test_acc"] for r in rec["rungs"][0]["runs"]] for rec in records]
    assert accs[0] == accs[1]
    runs = records[1]["rungs"][0]["runs"]
    assert records[1]["cpu_seconds"] >= sum(r["cpu_seconds"] for r in runs)
