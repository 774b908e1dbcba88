"""summary() and receptive_field() on the networks the book uses."""

import numpy as np

import cnnlib
from cnnlib.tools.shapes import receptive_field, summary


def letters_net(rng):
    return cnnlib.Sequential(
        cnnlib.Conv2d(1, 32, 3, rng=rng), cnnlib.MaxPool2d(2), cnnlib.GELU(),
        cnnlib.Conv2d(32, 64, 3, rng=rng), cnnlib.MaxPool2d(2, ceil_mode=True), cnnlib.GELU(),
        cnnlib.Conv2d(64, 128, 3, rng=rng), cnnlib.MaxPool2d(2), cnnlib.GELU(), cnnlib.Flatten(),
        cnnlib.Linear(512, 64, rng=rng), cnnlib.GELU(), cnnlib.Linear(64, 128, rng=rng),
        cnnlib.GELU(), cnnlib.Linear(128, 26, rng=rng), cnnlib.LogSoftmax())


def test_letters_network_shapes(capsys):
    s = summary(letters_net(np.random.default_rng(0)), (1, 28, 28))
    sides = [r.out_shape[-1] for r in s.rows if r.layer in ("Conv2d", "MaxPool2d")]
    assert sides == [26, 13, 11, 6, 4, 2]
    assert s.rows[9].out_shape == (1, 512)
    assert s.total_params == sum(p.size for p in letters_net(np.random.default_rng(0))
                                 .params.values())
    assert "total" in capsys.readouterr().out


def test_parameter_counts_with_and_without_bias():
    rng = np.random.default_rng(0)
    s = summary(cnnlib.Sequential(cnnlib.Conv2d(3, 64, 3, padding=1, rng=rng), cnnlib.MaxPool2d(2),
                                  cnnlib.Conv2d(64, 128, 3, padding=1, rng=rng)),
                (3, 224, 224), print_table=False)
    assert [r.params for r in s.rows] == [1792, 0, 73856]
    assert [r.out_shape for r in s.rows] == [(1, 64, 224, 224), (1, 64, 112, 112),
                                            (1, 128, 112, 112)]
    one = summary(cnnlib.Conv2d(1, 16, 3, rng=rng), (1, 28, 28), print_table=False)
    assert (one.total_params, one.total_params_no_bias) == (160, 144)
    assert one.rows[0].macs == 16 * 26 * 26 * 9
    assert one.rows[0].act_bytes == 16 * 26 * 26 * 8


def test_receptive_field_growth():
    rng = np.random.default_rng(0)
    model = cnnlib.Sequential(*[cnnlib.Conv2d(1, 1, 3, rng=rng) for _ in range(3)],
                              cnnlib.MaxPool2d(2), cnnlib.Conv2d(1, 1, 3, rng=rng))
    sizes = [(size, jump) for _, _, size, jump in receptive_field(model)]
    assert sizes == [(1, 1), (3, 1), (5, 1), (7, 1), (8, 2), (12, 2)]
    block = cnnlib.Sequential(cnnlib.ResidualBlock(2, rng=rng))
    assert receptive_field(block)[-1][2:] == (5, 1)
