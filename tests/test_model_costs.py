"""The script that counts the zoo's parameters and MACs."""

import json

from cnnlib.book import model_costs
from cnnlib.models import fashion_cnn, small_vit


def test_costs_of_the_small_networks():
    vit = model_costs.costs(small_vit, (1, 28, 28))
    assert (vit["builder"], vit["params"], vit["macs"]) == ("small_vit", 105_546, 5_926_016)
    assert vit["params_no_bias"] < vit["params"]


def test_main_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(model_costs, "NETWORKS", ((fashion_cnn, (1, 28, 28)),))
    out = tmp_path / "costs.json"
    model_costs.main(["--out", str(out)])
    record = json.loads(out.read_text())
    assert [n["params"] for n in record["networks"]] == [83_050]
    assert record["cpu_seconds"] >= 0 and [p.name for p in tmp_path.iterdir()] == ["costs.json"]
