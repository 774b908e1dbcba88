"""The model zoo: torchvision's parameter counts, summaries without a forward pass, small nets."""

import inspect

import numpy as np
import pytest

import cnnlib
from cnnlib import models
from cnnlib.tools.shapes import receptive_field, summary

IMAGENET = {  # builder: (torchvision's parameter count, forward MACs at 224x224)
    "alexnet": (61_100_840, 714_188_480),
    "vgg16": (138_357_544, 15_470_264_320),
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet50": (25_557_032, 4_089_184_256),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "vgg16" else n
                                  for n in IMAGENET])
@pytest.mark.slow
def test_imagenet_counts_equal_torchvision(name, capsys):
    params, macs = IMAGENET[name]
    model = getattr(models, name)(rng=np.random.default_rng(0))
    assert model.num_params() == params
    assert all(p.dtype == np.float32 for p in model.params.values())
    table = summary(model, (3, 224, 224))  # traces shapes only: no 224x224 forward pass
    assert table.total_params == params and table.total_macs == macs
    assert table.rows[-1].out_shape == (1, 1000)
    printed = capsys.readouterr().out
    assert f"{params:,}" in printed and f"{macs:,}" in printed


def test_builders_share_one_signature():
    for name in ("lenet5", *IMAGENET):
        parameters = inspect.signature(getattr(models, name)).parameters
        assert list(parameters)[:3] == ["num_classes", "rng", "dtype"]
        assert parameters["rng"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["dtype"].default is np.float32
    assert inspect.signature(models.lenet5).parameters["num_classes"].default == 10
    assert inspect.signature(models.resnet18).parameters["num_classes"].default == 1000


def test_num_classes_and_dtype():
    model = models.resnet18(7, rng=np.random.default_rng(0), dtype=np.float64)
    assert model[-1].params["weight"].shape == (7, 512)
    assert model[0].params["weight"].dtype == np.float64
    with pytest.raises(ValueError, match="resnet18: num_classes must be a positive int"):
        models.resnet18(0, rng=np.random.default_rng(0))


def test_resnet_receptive_field_and_stages():
    model = models.resnet18(rng=np.random.default_rng(0))
    table = summary(model, (3, 224, 224), print_table=False)
    shapes = [row.out_shape for row in table.rows if row.layer == "ResidualBlock"]
    assert [s[1:] for s in shapes[::2]] == [(64, 56, 56), (128, 28, 28), (256, 14, 14),
                                            (512, 7, 7)]
    sizes = {row[0]: row[2] for row in receptive_field(model, (3, 224, 224))}
    assert sizes["11"] == 435  # ResNet-18's theoretical receptive field
    with pytest.raises(ValueError, match="receptive_field: layer 12: AdaptiveAvgPool2d: its "
                                         "window depends on the input size"):
        receptive_field(model)


@pytest.mark.slow
def test_alexnet_has_dropout_and_an_adaptive_pool():
    model = models.alexnet(rng=np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in model]
    assert kinds.count("Dropout") == 2 and "AdaptiveAvgPool2d" in kinds
    table = summary(model, (3, 224, 224), print_table=False)
    pool = next(row for row in table.rows if row.layer == "AdaptiveAvgPool2d")
    assert pool.out_shape == (1, 256, 6, 6)


SMALL = ["small_cnn", "small_gap_net", "small_bottleneck_resnet", "small_separable_net"]


@pytest.mark.parametrize("name", SMALL)
def test_small_variants_train(name):
    rng = np.random.default_rng(1)
    model = getattr(models, name)(rng=rng)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 8)
    loss, opt = cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, lr=1e-2)
    losses = []
    for _ in range(5):
        out = model.forward(x)
        assert out.shape == (8, 10) and out.dtype == np.float32
        losses.append(loss.forward(out, labels))
        model.backward(loss.backward())
        opt.step()
    assert losses[-1] < losses[0]
    assert summary(model, (1, 28, 28), print_table=False).total_params == model.num_params()


def test_the_comparison_differs_where_the_chapter_says():
    rng = np.random.default_rng(2)
    plain, gap = models.small_cnn(rng=rng), models.small_gap_net(rng=rng)
    head = lambda m: m.num_params() - sum(l.num_params() for l in list(m)[:8])  # noqa: E731
    assert head(plain) == 32 * 7 * 7 * 10 + 10 and head(gap) == 32 * 10 + 10
    separable = models.small_separable_net(rng=rng)
    groups = [l.groups for l in separable if isinstance(l, cnnlib.Conv2d)]
    assert groups == [1, 16, 1, 32, 1, 64, 1]
    resnet = models.small_bottleneck_resnet(rng=rng, blocks=(1, 2))
    assert sum(isinstance(l, cnnlib.Bottleneck) for l in resnet) == 3
    assert summary(gap, (1, 20, 20), print_table=False).rows[-1].out_shape == (1, 10)
