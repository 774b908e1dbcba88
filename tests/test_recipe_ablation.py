"""The recipes chapter's ablation script: its schedules, settings and a tiny run's record."""

import json

import numpy as np
import pytest

from cnnlib.book import recipe_ablation as ra


def test_step_decay_drops_tenfold_at_half_and_three_quarters():
    sched = ra.StepDecay(0.1, 8)
    np.testing.assert_allclose(sched.lrs(), [0.1] * 4 + [0.01] * 2 + [0.001] * 2, rtol=1e-12)
    np.testing.assert_array_equal(ra.constant(0.3, 5).lrs(), [0.3] * 5)


def test_schedules_share_the_peak():
    for name, build in ra.SCHEDULES.items():
        lrs = build(0.02, 40).lrs()
        assert len(lrs) == 40 and abs(lrs.max() - 0.02) < 1e-12, name
    assert ra.warmup_cosine(0.02, 40)(0) < ra.warmup_cosine(0.02, 40)(4) == 0.02


def test_settings_of_applies_changes_to_the_base():
    assert ra.settings_of("warm-up + cosine") == ra.BASE
    assert ra.settings_of("one-cycle, 5x peak")["peak"] == 5.0
    tta = ra.settings_of("+ hflip TTA")
    assert tta["tta"] == "hflip" and "reuse" not in tta and tta["schedule"] == "warm-up + cosine"


def test_tiny_run_writes_its_record(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((130, 1, 28, 28), dtype=np.float32)
    y = np.arange(130) % 10
    monkeypatch.setattr(ra, "subset", lambda n, root=None: (x[:n], y[:n], x[:20], y[:20]))
    out = tmp_path / "r.json"
    ra.main(["--out", str(out), "--train", "130", "--epochs", "1", "--seeds", "2",
             "--configs", "+ hflip TTA", "constant", "--no-progress"])
    record = json.loads(out.read_text())
    assert list(record["configs"]) == ["constant", "warm-up + cosine", "+ hflip TTA"]
    base, tta = record["configs"]["warm-up + cosine"], record["configs"]["+ hflip TTA"]
    assert [r["seed"] for r in tta["runs"]] == [0, 1]
    # flipping test images reuses the trained models: same training record, new evaluation
    assert tta["runs"][0]["loss"] == base["runs"][0]["loss"]
    assert tta["runs"][0]["cpu_seconds"] == base["runs"][0]["cpu_seconds"]
    for run in tta["runs"] + base["runs"]:
        assert 0 <= run["test_acc"] <= 1 and 0 <= run["ece"] <= 1
    assert record["settings"]["n_train"] == 130 and record["settings"]["n_test"] == 20
    assert (tmp_path / "recipe_base.npz").exists()
    assert not (tmp_path / "recipe_smooth.npz").exists()


def test_bad_configuration_is_refused():
    with pytest.raises(SystemExit):
        ra.main(["--configs", "no such thing"])


def test_merge_joins_parts_in_order_and_refuses_overlaps(tmp_path):
    def part(name, configs, seconds):
        path = tmp_path / name
        path.write_text(json.dumps({"settings": {"seeds": 3},
                                    "configs": {c: {"runs": []} for c in configs},
                                    "total_seconds": seconds, "total_cpu_seconds": seconds}))
        return str(path)

    a = part("a.json", ["+ EMA", "constant"], 10.0)
    b = part("b.json", ["cosine"], 30.0)
    out = tmp_path / "m.json"
    ra.main(["--merge", a, b, "--out", str(out)])
    record = json.loads(out.read_text())
    assert list(record["configs"]) == ["constant", "cosine", "+ EMA"]
    assert record["total_cpu_seconds"] == 40.0 and record["total_seconds"] == 30.0
    with pytest.raises(SystemExit, match="in two parts"):
        ra.main(["--merge", a, a, "--out", str(out)])
