"""Tests for the segmentation helpers: per-pixel cross-entropy, mean IoU, boundaries, builders."""

import numpy as np
import pytest

from cnnlib.optim import Adam
from cnnlib.segmentation import (PixelCrossEntropyLoss, boundary_pixels, confusion,
                                 fit_segmenter, mean_iou, predict_masks, small_fcn, small_unet)
from cnnlib.tools.average_precision import match_detections


def test_pixel_cross_entropy_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 3, 4))
    target = rng.integers(0, 5, (2, 3, 4))
    loss_fn = PixelCrossEntropyLoss()
    loss = loss_fn.forward(logits, target)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(target))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    np.testing.assert_allclose(loss_fn.backward(), t.grad.numpy(), rtol=0, atol=1e-14)


def test_pixel_cross_entropy_matches_finite_differences():
    r = np.random.default_rng(1)
    scores = r.standard_normal((2, 3, 4, 5))
    mask = r.integers(0, 3, (2, 4, 5))
    loss = PixelCrossEntropyLoss()
    loss.forward(scores, mask)
    grad = loss.backward()
    h = 1e-6
    for idx in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 1, 2, 1)]:
        d = np.zeros_like(scores)
        d[idx] = h
        numeric = (PixelCrossEntropyLoss().forward(scores + d, mask)
                   - PixelCrossEntropyLoss().forward(scores - d, mask)) / (2 * h)
        assert abs(numeric - grad[idx]) < 1e-9
    zero = PixelCrossEntropyLoss().forward(np.zeros((1, 2, 3, 3)), mask[:1, :3, :3] % 2)
    assert np.isclose(zero, np.log(2), rtol=0, atol=1e-15)


def test_pixel_cross_entropy_refuses_bad_targets():
    loss_fn = PixelCrossEntropyLoss()
    with pytest.raises(ValueError, match="PixelCrossEntropyLoss: target must have shape"):
        loss_fn.forward(np.zeros((1, 3, 2, 2)), np.zeros((1, 2, 3), np.int64))
    with pytest.raises(ValueError, match="labels must lie in"):
        loss_fn.forward(np.zeros((1, 3, 2, 2)), np.full((1, 2, 2), 3))
    with pytest.raises(RuntimeError, match="before forward"):
        PixelCrossEntropyLoss().backward()


def test_mean_iou_by_hand():
    pred = np.array([[0, 0, 1], [1, 2, 2]])
    target = np.array([[0, 1, 1], [1, 2, 0]])
    # class 0: both at (0,0); union (0,0),(0,1),(1,2) -> 1/3; class 1: 2/3; class 2: 1/2
    miou, per_class = mean_iou(pred, target, 4)
    np.testing.assert_allclose(per_class[:3], [1 / 3, 2 / 3, 1 / 2], rtol=0, atol=1e-15)
    assert np.isnan(per_class[3]) and abs(miou - (1 / 3 + 2 / 3 + 1 / 2) / 3) < 1e-15
    assert confusion(pred, target, 4).sum() == 6
    with pytest.raises(ValueError, match="confusion: pred must lie in"):
        mean_iou([5], [0], 4)


def test_boundary_pixels_mark_both_sides_of_a_change():
    masks = np.zeros((1, 4, 5), np.int64)
    masks[0, 1:3, 1:3] = 2
    edge = boundary_pixels(masks)
    want = np.zeros((4, 5), bool)
    want[1:3, 1:3] = True
    want[0, 1:3] = want[3, 1:3] = want[1:3, 0] = want[1:3, 3] = True
    assert (edge[0] == want).all()


@pytest.mark.parametrize("builder, kwargs", [(small_fcn, {}), (small_unet, {"skips": False}),
                                             (small_unet, {"skips": True})])
def test_segmenters_keep_the_size_and_learn_one_scene(builder, kwargs):
    rng = np.random.default_rng(0)
    images = np.zeros((2, 1, 16, 16), np.float32)
    images[:, :, 4:12, 4:12] = 1
    masks = (images[:, 0] > 0).astype(np.int64) * 2
    net = builder(3, rng=rng, width=4, **kwargs)
    assert net.forward(images).shape == (2, 3, 16, 16)
    history = fit_segmenter(net, images, masks, Adam(net, 1e-2), rng=rng, steps=30, batch_size=2)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert predict_masks(net, images).shape == (2, 16, 16) and net.training


def test_match_detections_takes_the_best_unclaimed_object_of_the_class():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    dets = [[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10], [20, 0, 30, 10]]
    m = match_detections(dets, [0.9, 0.8, 0.7, 0.95], [0, 0, 0, 1], gt, [0, 0])
    assert m.tolist() == [0, -1, 1, -1]      # a duplicate finds nothing; class 1 has no object
    assert match_detections(dets[:1], [1.0], [0], gt, [0, 0], 1.0).tolist() == [0]
    assert match_detections(np.zeros((0, 4)), [], np.zeros(0, int), gt, [0, 0]).size == 0
