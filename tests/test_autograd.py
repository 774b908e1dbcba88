"""The scalar Value engine: each operation's gradient, and a convolution built from it."""

import math

import numpy as np
import pytest

import cnnlib
from cnnlib import Value


def test_operations_against_calculus():
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + a ** 2).relu() + (a / 4).exp() - (b * b).log() + Value.max(a, b)
    out.backward()
    # out = relu(ab + a^2) + e^(a/4) - log(b^2) + max(a, b); ab + a^2 = -2 < 0
    assert out.data == pytest.approx(0 + math.exp(0.5) - math.log(9) + 2)
    assert a.grad == pytest.approx(0 + math.exp(0.5) / 4 + 1)
    assert b.grad == pytest.approx(-2 / -3)


def test_shared_nodes_accumulate():
    x = Value(3.0)
    y = x * x + x
    y.backward()
    assert x.grad == 7.0


def test_max_tie_goes_to_first():
    a, b = Value(1.0), Value(1.0)
    Value.max(a, b).backward()
    assert (a.grad, b.grad) == (1.0, 0.0)


def test_scalar_convolution_matches_layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 5, 5))
    layer = cnnlib.Conv2d(1, 1, 3, rng=rng)
    w = layer.params["weight"][0, 0]
    xs = [[Value(v) for v in row] for row in x[0, 0]]
    ws = [[Value(v) for v in row] for row in w]
    outs = []
    for i in range(3):
        for j in range(3):
            total = Value(0.0)
            for a in range(3):
                for b in range(3):
                    total = total + xs[i + a][j + b] * ws[a][b]
            outs.append(total)
    loss = sum((o * o for o in outs), Value(0.0))
    loss.backward()
    y = layer.forward(x)
    layer.backward(2 * y)
    np.testing.assert_allclose([[v.grad for v in row] for row in ws],
                               layer.grads["weight"][0, 0], rtol=1e-12)
