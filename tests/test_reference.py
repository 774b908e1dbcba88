"""The loop-free convolution variants agree with F.conv2d; the timing tools behave."""

import re

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F
from cnnlib.book.reference import conv2d_einsum, conv2d_offsets
from cnnlib.book.reference import conv2d_naive
from cnnlib.tools.timing import format_time, matmul_peak, median_time, profile_layers

VARIANTS = [conv2d_offsets, conv2d_einsum]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stride", [1, 2, (1, 3)])
@pytest.mark.parametrize("padding", [0, 1, (2, 0)])
@pytest.mark.parametrize("kernel", [(1, 1), (3, 3), (2, 4)])
def test_variants_agree_with_conv2d(variant, stride, padding, kernel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 9))
    w = rng.standard_normal((4, 3, *kernel))
    b = rng.standard_normal(4)
    expected = F.conv2d(x, w, b, stride=stride, padding=padding)
    got = variant(x, w, b, stride=stride, padding=padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(variant(x, w, stride=stride, padding=padding),
                               F.conv2d(x, w, stride=stride, padding=padding), atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_keep_float32_and_match_the_loops(variant):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y = variant(x, w)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, conv2d_naive(x, w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_reject_bad_shapes(variant):
    with pytest.raises(ValueError, match="channels"):
        variant(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)))


def test_format_time_matches_the_sanitize_rule():
    rule = re.compile(r"\[time: [0-9]+(\.[0-9]+)? m?s\]")
    for seconds, text in [(2.5, "[time: 2.50 s]"), (0.0123, "[time: 12.3 ms]"),
                          (1.5e-5, "[time: 0.015 ms]"), (0.99999, "[time: 1000 ms]")]:
        assert format_time(seconds) == text
        assert rule.fullmatch(text)


def test_median_time_is_the_median_of_the_timed_calls(monkeypatch):
    calls = []
    ticks = iter([0.0, 1.0, 10.0, 13.0, 20.0, 30.0])  # durations 1, 3 and 10 s
    monkeypatch.setattr("cnnlib.tools.timing.time.perf_counter", lambda: next(ticks))
    assert median_time(lambda: calls.append(1), repeat=3, warmup=2) == 3.0
    assert len(calls) == 5
    products = []
    monkeypatch.setattr("cnnlib.tools.timing.median_time",
                        lambda f, repeat: products.append(f()) or 0.5e-3)
    assert matmul_peak(64, repeat=2) == pytest.approx(2 * 64 ** 3 / 0.5e-3 / 1e9)
    assert products[0].shape == (64, 64) and products[0].dtype == np.float32


def test_profile_layers_covers_every_layer(monkeypatch):
    rng = np.random.default_rng(2)
    model = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, rng=rng), cnnlib.MaxPool2d(2),
                              cnnlib.GELU(), cnnlib.Flatten())
    shapes = []

    def fake_time(f, repeat):
        out = f()
        shapes.append(out.shape)
        return float(len(shapes))

    monkeypatch.setattr("cnnlib.tools.timing.median_time", fake_time)
    rows = profile_layers(model, rng.standard_normal((2, 1, 6, 6)), repeat=1)
    assert [name for name, _, _ in rows] == ["0 Conv2d", "1 MaxPool2d", "2 GELU", "3 Flatten"]
    assert [(f, b) for _, f, b in rows] == [(1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)]
    # each layer is timed on the output of the layers before it: forward, then backward
    assert shapes == [(2, 2, 4, 4), (2, 1, 6, 6), (2, 2, 2, 2), (2, 2, 4, 4),
                      (2, 2, 2, 2), (2, 2, 2, 2), (2, 8), (2, 2, 2, 2)]
