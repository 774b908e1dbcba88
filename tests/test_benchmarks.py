"""The benchmark scripts time what they say: the engine's products alone, and the same network
in both libraries; their tables compute the ratios they print."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import conv_scaling  # noqa: E402
import inference  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib.nn import conv_engine  # noqa: E402


def test_products_time_is_part_of_the_step_and_the_engine_is_restored():
    rng = np.random.default_rng(0)
    layer = cnnlib.Conv2d(8, 8, 3, padding=1, rng=rng, dtype=np.float32)
    x = rng.standard_normal((4, 8, 12, 12), dtype=np.float32)
    calls = []

    def step():
        calls.append(conv_engine.matmul)
        layer.forward(x)
        layer.backward(np.ones((4, 8, 12, 12), np.float32))

    spent = conv_scaling.products_time(step, 3)
    assert 0 < spent
    assert all(fn is not np.matmul for fn in calls)  # the products were timed
    assert conv_engine.matmul is np.matmul

    def failing():
        raise RuntimeError("inside")
    with pytest.raises(RuntimeError):
        conv_scaling.products_time(failing, 1)
    assert conv_engine.matmul is np.matmul


def test_report_prints_the_median_of_the_ratios(capsys):
    rows = list(conv_scaling.ROWS)
    ours = {label: [2.0, 3.0, "kernel rows/correlation", 0.5] for label in rows}
    theirs = {label: [1.0] for label in rows}
    ours[rows[0]] = [8.0, 3.0, "kernel rows/correlation", 4.0]  # the worst row
    results = {"cnnlib": [{"rows": ours, "peak": 100.0, "stream": [20.0, 22.0]}],
               "torch": [{"rows": theirs}]}
    conv_scaling.report(results, 2)
    out = capsys.readouterr().out
    assert "20.0 GB/s on 1 thread, 22.0 GB/s on 2" in out
    assert f"median 2.00, worst 8.00 ({rows[0]})" in out
    assert f"GEMM only, the same rows: median 0.50, worst 4.00 ({rows[0]})" in out


def test_inference_times_the_same_network_in_both_libraries():
    torch = pytest.importorskip("torch")
    from cnnlib.interop import to_torch
    from cnnlib.train import predict
    for label in inference.NETWORKS:
        model, x = inference.build(label)
        x = x[:8]
        with torch.inference_mode():
            expected = to_torch(model).eval()(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(predict(model, x), expected, rtol=1e-4, atol=1e-4)
