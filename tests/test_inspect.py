"""Inside a network: receptive boxes, top patches, attributions, Grad-CAM, FGSM, calibration."""

import numpy as np
import pytest

import cnnlib
from cnnlib.models import letters_cnn
from cnnlib.tools import (expected_calibration_error, fgsm, fgsm_accuracy, grad_cam,
                          gradient_times_input, input_gradient, integrated_gradients,
                          layer_outputs, loss_gradient, occlusion, patches_to_pixels, rank,
                          receptive_box, receptive_field, reliability, saliency, spearman,
                          top_k_accuracy, top_patches)


def linear_model(rng, n_in=16, n_out=3, bias=True):
    """Flatten then one Linear layer, float64: every attribution of it is known by hand."""
    return cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(n_in, n_out, bias=bias, rng=rng))


def small_cnn(rng):
    """conv3x3 -> GELU -> maxpool 2 -> flatten -> linear, float64, on (N, 1, 8, 8)."""
    return cnnlib.Sequential(cnnlib.Conv2d(1, 3, 3, rng=rng), cnnlib.GELU(), cnnlib.MaxPool2d(2),
                             cnnlib.Flatten(), cnnlib.Linear(27, 4, rng=rng))


def test_receptive_box_sizes_match_receptive_field():
    net = letters_cnn(rng=np.random.default_rng(0))
    sizes = {int(name): size for name, _, size, _ in receptive_field(net)[1:]}
    for layer, hand in ((2, 4), (5, 10), (8, 22)):       # the three blocks' outputs
        assert receptive_box(net, layer, 0, 0) == (0, 0, hand) and sizes[layer] == hand
    assert receptive_box(net, 5, 3, 5) == (12, 20, 10)   # jump 4 after two poolings
    padded = cnnlib.Sequential(cnnlib.Conv2d(1, 1, 3, padding=1, rng=np.random.default_rng(0)),
                               cnnlib.MaxPool2d(2))
    assert receptive_box(padded, 0, 0, 0) == (-1, -1, 3)
    assert receptive_box(padded, 1, 2, 1) == (3, 1, 4)


def test_unit_depends_only_on_pixels_in_its_box(rng):
    net = letters_cnn(rng=rng, dtype=np.float64)
    unit = cnnlib.Sequential(*net[:6], cnnlib.Flatten())       # block 2: (N, 64 * 6 * 6)
    x = rng.random((1, 1, 28, 28))
    channel, row, col = 7, 3, 5
    grad = input_gradient(unit, x, channel * 36 + row * 6 + col)[0, 0]
    top, left, size = receptive_box(net, 5, row, col)
    inside = np.zeros_like(grad, dtype=bool)
    inside[top:top + size, left:left + size] = True
    assert np.all(grad[~inside] == 0) and np.any(grad[inside] != 0)


def test_layer_outputs_are_the_prefixes(rng):
    net = small_cnn(rng)
    x = rng.random((2, 1, 8, 8))
    outs = layer_outputs(net, x)
    assert len(outs) == len(net)
    for k in (0, 2, 4):
        np.testing.assert_array_equal(outs[k], net[:k + 1].forward(x))
    np.testing.assert_array_equal(outs[-1], net.forward(x))


def test_top_patches_are_the_boxes_of_the_strongest_units(rng):
    net = cnnlib.Sequential(cnnlib.Conv2d(1, 2, 3, padding=1, rng=rng), cnnlib.MaxPool2d(2))
    x = rng.random((6, 1, 6, 6))
    patches, values, where = top_patches(net, x, 1, [1, 0], k=4)
    maps = net.forward(x)
    assert patches.shape == (2, 4, 1, 4, 4) and values.shape == (2, 4)
    for c, channel in enumerate([1, 0]):
        assert np.all(np.diff(values[c]) <= 0)
        assert len(set(where[c, :, 0])) == 4                          # one per image
        best = maps[:, channel].reshape(6, -1).max(axis=1)
        np.testing.assert_allclose(values[c], np.sort(best)[::-1][:4])
        for j, (n, r, col) in enumerate(where[c]):
            assert maps[n, channel, r, col] == values[c, j]
            top, left, size = receptive_box(net, 1, r, col)
            padded = np.pad(x[n, 0], 1)                               # the box may start at -1
            np.testing.assert_array_equal(patches[c, j, 0],
                                          padded[top + 1:top + 1 + size, left + 1:left + 1 + size])


def test_linear_model_attributions_by_hand(rng):
    net = linear_model(rng)
    w, b = net[1].params["weight"], net[1].params["bias"]
    b[...] = rng.normal(size=3)
    x = rng.normal(size=(5, 1, 4, 4))
    target = np.array([0, 2, 1, 2, 0])
    grad = input_gradient(net, x, target)
    np.testing.assert_array_equal(grad, w[target].reshape(5, 1, 4, 4))
    np.testing.assert_array_equal(saliency(net, x, target), np.abs(w[target]).reshape(5, 4, 4))
    score = net.forward(x)[np.arange(5), target]
    total = gradient_times_input(net, x, target).sum(axis=(1, 2))
    np.testing.assert_allclose(total, score - b[target], rtol=1e-12)   # the bias is not in x
    np.testing.assert_array_equal(input_gradient(net, x, 1), np.broadcast_to(
        w[1].reshape(1, 1, 4, 4), x.shape))


def test_input_gradient_matches_finite_differences(rng):
    net = small_cnn(rng)
    x = rng.random((2, 1, 8, 8))
    grad = input_gradient(net, x, [3, 1], batch_size=1)
    h = 1e-6
    for n, i, j in [(0, 2, 3), (1, 5, 5), (0, 7, 0)]:
        up, down = x.copy(), x.copy()
        up[n, 0, i, j] += h
        down[n, 0, i, j] -= h
        t = [3, 1][n]
        numeric = (net.forward(up)[n, t] - net.forward(down)[n, t]) / (2 * h)
        assert abs(grad[n, 0, i, j] - numeric) < 1e-6


def test_integrated_gradients_completeness(rng):
    net = small_cnn(rng)
    x = rng.random((3, 1, 8, 8))
    ig = integrated_gradients(net, x, 2, steps=200)
    gap = net.forward(x)[:, 2] - net.forward(np.zeros_like(x))[:, 2]
    np.testing.assert_allclose(ig.sum(axis=(1, 2, 3)), gap, rtol=1e-3, atol=1e-6)
    lin = linear_model(rng)                 # constant gradient: exact for any number of steps
    base = np.full_like(x[:, :, :4, :4], 0.5)
    np.testing.assert_allclose(
        integrated_gradients(lin, x[:, :, :4, :4], 1, baseline=0.5, steps=3),
        input_gradient(lin, x[:, :, :4, :4], 1) * (x[:, :, :4, :4] - base), rtol=1e-12)


def test_occlusion_of_a_linear_model_by_hand(rng):
    net = linear_model(rng, n_out=1)
    w = net[1].params["weight"]
    w[...] = np.arange(16.0)
    x = np.ones((1, 1, 4, 4))
    drops = occlusion(net, x, 0, patch=2, stride=2, fill=0.0)
    # covering a 2x2 block removes exactly the weights under it
    blocks = np.arange(16.0).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).sum(axis=(2, 3))
    np.testing.assert_allclose(drops[0], blocks)
    drops = occlusion(net, x, 0, patch=3, stride=1, fill=1.0)
    np.testing.assert_array_equal(drops, np.zeros((1, 2, 2)))     # the fill equals the image


def test_occlusion_compares_probabilities(rng):
    net = cnnlib.Sequential(*linear_model(rng), cnnlib.LogSoftmax())
    x = rng.random((2, 1, 4, 4))
    drops = occlusion(net, x, [1, 2], patch=4, fill=0.0, probability=True)
    p_clean = np.exp(net.forward(x))[[0, 1], [1, 2]]
    p_blank = np.exp(net.forward(np.zeros((1, 1, 4, 4))))[0, [1, 2]]
    np.testing.assert_allclose(drops[:, 0, 0], p_clean - p_blank, rtol=1e-12)


def test_patches_to_pixels_by_hand():
    maps = np.arange(9.0).reshape(1, 3, 3)
    pixels = patches_to_pixels(maps, patch=2, stride=1, size=4)
    assert pixels[0, 0, 0] == 0 and pixels[0, 3, 3] == 8          # one patch covers a corner
    assert pixels[0, 1, 1] == (0 + 1 + 3 + 4) / 4                 # four patches cover it
    gaps = patches_to_pixels(np.ones((1, 1, 2)), patch=1, stride=2, size=(1, 4))
    np.testing.assert_array_equal(gaps[0], [[1, 0, 1, 0]])        # the stride skips columns


def test_grad_cam_is_cam_for_a_global_average_pooling_head(rng):
    net = cnnlib.Sequential(cnnlib.Conv2d(1, 5, 3, rng=rng), cnnlib.ReLU(), cnnlib.AvgPool2d(6),
                            cnnlib.Flatten(), cnnlib.Linear(5, 3, rng=rng))
    x = rng.random((4, 1, 8, 8))
    target = np.array([0, 1, 2, 1])
    maps = net[:2].forward(x)                                      # (4, 5, 6, 6)
    w = net[4].params["weight"]
    cam = np.einsum("nf,nfij->nij", w[target], maps)               # Zhou et al.'s CAM
    np.testing.assert_allclose(grad_cam(net, x, target, layer=1), np.maximum(cam, 0) / 36,
                               rtol=1e-12, atol=1e-15)


def test_rank_averages_ties():
    np.testing.assert_array_equal(rank(np.array([10, 30, 20, 30])), [1, 3.5, 2, 3.5])
    np.testing.assert_array_equal(rank(np.array([[5, 5, 5], [3, 1, 2]])),
                                  [[2, 2, 2], [3, 1, 2]])
    np.testing.assert_array_equal(rank(np.array([0.0, 0.0, 1.0, 0.0, 1.0])),
                                  [2, 2, 4.5, 2, 4.5])


def test_spearman_by_hand(rng):
    a = rng.normal(size=(3, 5, 5))
    np.testing.assert_allclose(spearman(a, np.exp(a)), 1.0)       # any increasing function
    np.testing.assert_allclose(spearman(a, -a), -1.0)
    x, y = np.array([[1.0, 2, 3, 4, 5]]), np.array([[2.0, 1, 4, 3, 5]])
    # 1 - 6 sum(d^2) / (n (n^2 - 1)) with d = (1, 1, 1, 1, 0): 1 - 24 / 120
    np.testing.assert_allclose(spearman(x, y), [0.8])
    assert np.isnan(spearman(np.ones((1, 4)), np.arange(4.0)[None]))[0]


def test_loss_gradient_is_per_image(rng):
    net = small_cnn(rng)
    x = rng.random((3, 1, 8, 8))
    y = np.array([0, 3, 1])
    loss = cnnlib.CrossEntropyLoss()
    batch = loss_gradient(net, loss, x, y, batch_size=2)
    for n in range(3):
        alone = loss_gradient(net, loss, x[n:n + 1], y[n:n + 1])
        np.testing.assert_allclose(batch[n:n + 1], alone, rtol=1e-10, atol=1e-14)


def test_fgsm_moves_every_pixel_by_epsilon_uphill(rng):
    net = linear_model(rng, n_out=4)
    loss = cnnlib.CrossEntropyLoss()
    x = rng.uniform(0.2, 0.8, size=(6, 1, 4, 4))
    y = np.array([0, 1, 2, 3, 0, 1])
    adv = fgsm(net, loss, x, y, 0.1)
    direction = np.sign(loss_gradient(net, loss, x, y))
    np.testing.assert_allclose(adv - x, 0.1 * direction, rtol=1e-12)
    assert loss.forward(net.forward(adv), y) > loss.forward(net.forward(x), y)
    big = fgsm(net, loss, x, y, 0.5)
    assert big.min() >= 0 and big.max() <= 1 and np.abs(big - x).max() <= 0.5
    assert fgsm(net, loss, x, y, 0.5, clip=None).min() < 0


def test_fgsm_accuracy_matches_fgsm(rng):
    net = cnnlib.Sequential(*small_cnn(rng), cnnlib.LogSoftmax())
    loss = cnnlib.NLLLoss()
    x = rng.random((10, 1, 8, 8))
    y = rng.integers(0, 4, size=10)
    acc, preds = fgsm_accuracy(net, loss, x, y, [0.0, 0.05, 0.3], batch_size=4)
    assert acc[0] == np.mean(net.forward(x).argmax(axis=1) == y)
    for i, eps in enumerate([0.0, 0.05, 0.3]):
        np.testing.assert_array_equal(preds[i], net.forward(fgsm(net, loss, x, y, eps))
                                      .argmax(axis=1))
    assert acc[2] < acc[0]


def test_top_k_accuracy_by_hand():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.4, 0.2]])
    y = np.array([1, 2, 0, 1])
    # ranks of the label: 1st, 3rd, 2nd (tied), 1st (tied)
    assert top_k_accuracy(scores, y, 1) == 0.5
    assert top_k_accuracy(scores, y, 2) == 0.75
    assert top_k_accuracy(np.log(scores), y, 3) == 1.0


def test_reliability_and_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.85, 0.62, 0.58, 0.1, 0.0])
    right = np.array([True, True, False, True, False, False, False])
    rel = reliability(conf, right, bins=10)
    assert rel.count.tolist() == [2, 0, 0, 0, 0, 1, 1, 0, 1, 2]   # 0.1 is in (0, 0.1]
    np.testing.assert_allclose(rel.accuracy[[0, 5, 6, 8, 9]], [0, 0, 1, 0, 1])
    np.testing.assert_allclose(rel.confidence[9], 0.95)
    assert np.isnan(rel.accuracy[1])
    gaps = [2 * 0.05, 0.58, 1 - 0.62, 0.85, 2 * 0.05]             # count x |accuracy - confidence|
    np.testing.assert_allclose(expected_calibration_error(conf, right, bins=10), sum(gaps) / 7)
    perfect = reliability(np.full(4, 0.75), np.array([True, True, True, False]))
    assert perfect.ece == pytest.approx(0.0)


@pytest.mark.parametrize("call, message", [
    (lambda net, x: receptive_box(net, 9, 0, 0), "receptive_box: layer must be"),
    (lambda net, x: top_patches(net, x, 4, [0], k=1), "expected feature maps"),
    (lambda net, x: top_patches(net, x, 0, [3], k=1), "channels must be"),
    (lambda net, x: top_patches(net, x, 0, [0], k=5), "k = 5 patches"),
    (lambda net, x: input_gradient(net, x, 4), "input_gradient: target"),
    (lambda net, x: occlusion(net, x, 0, patch=9), "occlusion: patch 9"),
    (lambda net, x: grad_cam(net, x, 0, layer=4), "grad_cam: layer must come before"),
    (lambda net, x: grad_cam(net, x, 0, layer=3), "expected feature maps"),
    (lambda net, x: input_gradient(net, x[0], 0), "input_gradient: expected a 4-D"),
    (lambda net, x: patches_to_pixels(np.ones((1, 4, 4)), patch=2, size=4), "does not fit"),
])
def test_bad_arguments_are_named(rng, call, message):
    with pytest.raises(ValueError, match=message):
        call(small_cnn(rng), rng.random((2, 1, 8, 8)))


def test_bad_types_and_ranges_are_named(rng):
    with pytest.raises(TypeError, match="grad_cam: model must be a Sequential"):
        grad_cam(cnnlib.Linear(4, 2, rng=rng), np.zeros((1, 1, 2, 2)), 0, layer=0)
    with pytest.raises(ValueError, match="top_k_accuracy: k = 4 exceeds the 3 classes"):
        top_k_accuracy(np.zeros((2, 3)), np.array([0, 1]), 4)
    with pytest.raises(ValueError, match="not log-probabilities"):
        reliability(np.array([-0.1, 0.5]), np.array([True, False]))
    with pytest.raises(ValueError, match="reliability: correct must be a boolean"):
        reliability(np.array([0.2, 0.5]), np.array([1, 0]))
    with pytest.raises(ValueError, match="fgsm: epsilon must be"):
        fgsm(small_cnn(rng), cnnlib.CrossEntropyLoss(), np.zeros((1, 1, 8, 8)), [0], -0.1)
    with pytest.raises(ValueError, match="spearman: a and b must have the same shape"):
        spearman(np.zeros((2, 3)), np.zeros((3, 2)))


def test_integer_images_are_not_truncated(rng):
    net = linear_model(rng, n_out=2)
    x = rng.integers(0, 2, size=(3, 1, 4, 4))
    y = np.array([0, 1, 1])
    cnn, x8 = small_cnn(rng), rng.integers(0, 2, size=(3, 1, 8, 8))
    np.testing.assert_allclose(integrated_gradients(cnn, x8, y, steps=4),
                               integrated_gradients(cnn, x8.astype(float), y, steps=4))
    np.testing.assert_allclose(occlusion(net, x, y, patch=2, fill=0.5),
                               occlusion(net, x.astype(float), y, patch=2, fill=0.5))
    loss = cnnlib.CrossEntropyLoss()
    np.testing.assert_allclose(fgsm(net, loss, x, y, 0.25, clip=None) - x,
                               0.25 * np.sign(loss_gradient(net, loss, x, y)))
