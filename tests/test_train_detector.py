"""A tiny run of the detection and segmentation script: its records and weights."""

import json

import numpy as np
import pytest

from cnnlib.book import train_detector
from cnnlib.detection import small_detector
from cnnlib.io import load_weights


@pytest.fixture
def fake_fashion(monkeypatch):
    rng = np.random.default_rng(0)
    x = np.zeros((60, 1, 28, 28), np.float32)
    x[:, :, 6:22, 8:20] = rng.uniform(0.2, 1, (60, 1, 16, 12))
    y = np.arange(60) % 10

    def fashion_mnist(root=None):
        return x, y, x[:20], y[:20]

    monkeypatch.setattr(train_detector, "fashion_mnist", fashion_mnist)
    monkeypatch.setattr(train_detector, "SPLIT", 40)


def test_a_tiny_run_writes_both_records_and_loadable_weights(tmp_path, fake_fashion, capsys):
    train_detector.main(["--seeds", "3", "4", "--steps", "4", "--baseline-steps", "1",
                         "--decay-steps", "2", "--seg-steps", "2", "--width", "4",
                         "--seg-width", "2", "--train-scenes", "8", "--test-scenes", "4",
                         "--batch-size", "4", "--out", str(tmp_path)])
    det = json.loads((tmp_path / "detector_run.json").read_text())
    seg = json.loads((tmp_path / "segmentation_run.json").read_text())
    assert [r["seed"] for r in det["runs"]] == [3, 4] == [r["seed"] for r in seg["runs"]]
    run = det["runs"][0]
    assert [e["steps"] for e in run["evaluations"]] == [1, 2, 4]
    assert len(run["history"]["loss"]) == 4
    assert set(train_detector.SEGMENTERS) <= set(seg["runs"][0])
    assert 0 <= seg["runs"][0]["unet"]["miou"] <= 1
    assert det["settings"]["steps"] == 4 and "parts" not in det["settings"]
    model = small_detector(10, rng=np.random.default_rng(0), width=4)
    load_weights(model, tmp_path / "detector_seed4.npz")
    assert (tmp_path / "segmenter_unet.npz").exists()
    assert not (tmp_path / "segmenter_unet_seed4.npz").exists()
    assert "seed 3: mAP@0.5" in capsys.readouterr().out


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        train_detector.main(["--steps", "10", "--decay-steps", "10", "--out", str(tmp_path)])
