"""The CNN / ConvNeXt / ViT comparison script: schedule, subset, budget and its JSON record."""

import json

import numpy as np
import pytest

from cnnlib.book import compare_vit


def test_learning_rate_warms_up_then_follows_a_cosine():
    rates = [compare_vit.learning_rate(1.0, t, 100.0) for t in (0, 2.5, 5, 52.5, 100, 150)]
    assert rates[0] == pytest.approx(0.01) and rates[1] == pytest.approx(0.5)
    assert rates[2] == pytest.approx(1.0)
    assert rates[3] == pytest.approx(0.02 + 0.98 * 0.5)
    assert rates[4] == rates[5] == pytest.approx(0.02)


def test_stratified_keeps_the_class_proportions():
    y = np.repeat(np.arange(3), [100, 50, 10])
    picks = compare_vit.stratified(y, 0.2, np.random.default_rng(0))
    assert np.bincount(y[picks]).tolist() == [20, 10, 2]
    assert len(set(picks.tolist())) == len(picks)


def test_a_tiny_run_writes_its_record(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = (rng.random((40, 1, 28, 28), dtype=np.float32), np.arange(40) % 10,
            rng.random((20, 1, 28, 28), dtype=np.float32), np.arange(20) % 10)
    monkeypatch.setattr(compare_vit, "fashion_mnist", lambda root=None: data)
    out = tmp_path / "vit.json"
    compare_vit.main(["--budget", "0.05", "--batch-size", "16", "--out", str(out)])
    record = json.loads(out.read_text())
    assert list(record["networks"]) == ["CNN", "ConvNeXt", "ViT"]
    for entry in record["networks"].values():
        run = entry["runs"][0]
        assert run["steps"] >= 1 and run["cpu_seconds"] >= 0.05 and 0 <= run["test_acc"] <= 1
        assert entry["params"] > 50_000 and entry["macs"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["vit.json"]  # no temporary file left


def test_bad_settings_are_refused(capsys):
    with pytest.raises(SystemExit):
        compare_vit.main(["--fraction", "1.5"])
    assert "--fraction: 1.5 is not in (0, 1]" in capsys.readouterr().err
