"""The detection and segmentation scenes, made from synthetic source items."""

import numpy as np
import pytest

from cnnlib.data import Scenes, make_scenes


def sources(n=30, seed=0):
    """Filled ellipses of several sizes on a zero background, uint8, with labels 0-4."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:28, :28]
    items = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(10, 18, 2)
        ry, rx = rng.uniform(4, 10, 2)
        inside = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
        items[i][inside] = rng.integers(60, 256, inside.sum())
    return items, np.arange(n) % 5


def tight_box(pixels):
    rows, cols = np.nonzero(pixels)
    return [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_shapes_and_types():
    items, labels = sources()
    scenes = make_scenes(items, labels, 6, rng=np.random.default_rng(0), size=48)
    assert isinstance(scenes, Scenes) and len(scenes) == 6
    assert scenes.images.shape == (6, 1, 48, 48) and scenes.images.dtype == np.float32
    assert scenes.masks.shape == scenes.instances.shape == (6, 48, 48)
    assert 0 <= scenes.images.min() and scenes.images.max() <= 1
    for boxes, lab, src in zip(scenes.boxes, scenes.labels, scenes.sources):
        assert boxes.dtype == np.float32 and boxes.shape == (len(lab), 4)
        assert lab.dtype == np.int64 and 1 <= len(lab) <= 4
        np.testing.assert_array_equal(lab, labels[src])
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 48)
    assert scenes.targets()[0]["boxes"] is scenes.boxes[0]


def test_same_seed_same_scenes():
    items, labels = sources()
    a = make_scenes(items, labels, 5, rng=np.random.default_rng(3))
    b = make_scenes(items, labels, 5, rng=np.random.default_rng(3))
    c = make_scenes(items, labels, 5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    for x, y in zip(a.boxes, b.boxes):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_boxes_are_tight_and_masks_match_without_overlap():
    items, labels = sources()
    scenes = make_scenes(items, labels, 8, rng=np.random.default_rng(1), max_cover=0,
                         clutter=0)
    for n in range(len(scenes)):
        assert np.array_equal(scenes.images[n, 0] > 0, scenes.instances[n] > 0)
        for k, (box, label) in enumerate(zip(scenes.boxes[n], scenes.labels[n])):
            pixels = scenes.instances[n] == k + 1
            assert tight_box(pixels) == box.tolist()
            assert np.all(scenes.masks[n][pixels] == label + 1)
        assert np.array_equal(scenes.masks[n] > 0, scenes.instances[n] > 0)


def test_later_items_occlude_earlier_ones_and_boxes_keep_their_extent():
    items, labels = sources()
    scenes = make_scenes(items, labels, 20, rng=np.random.default_rng(2), size=40,
                         objects=(4, 4), max_cover=1, clutter=0)
    occluded = 0
    for n in range(len(scenes)):
        boxes = scenes.boxes[n].astype(int)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            seen = scenes.instances[n] == k + 1
            assert not np.any(seen[:y1]) and not np.any(seen[y2:])
            assert not np.any(seen[:, :x1]) and not np.any(seen[:, x2:])
            # the last item is never occluded: it shows its whole extent
            if k == len(boxes) - 1:
                assert tight_box(seen) == [x1, y1, x2, y2]
            elif not seen.any() or tight_box(seen) != [x1, y1, x2, y2]:
                occluded += 1
        assert np.array_equal(scenes.images[n, 0] > 0, scenes.instances[n] > 0)
    assert occluded > 0


def test_sources_come_from_the_given_indices():
    items, labels = sources()
    train = make_scenes(items, labels, 10, rng=np.random.default_rng(5), indices=np.arange(20))
    test = make_scenes(items, labels, 10, rng=np.random.default_rng(5),
                       indices=np.arange(20, 30))
    assert set(np.concatenate(train.sources)) <= set(range(20))
    assert set(np.concatenate(test.sources)) <= set(range(20, 30))


def test_clutter_is_background():
    items, labels = sources()
    scenes = make_scenes(items, labels, 4, rng=np.random.default_rng(6), objects=(0, 0),
                         clutter=3)
    assert scenes.images.max() > 0 and scenes.masks.max() == 0
    assert all(len(b) == 0 for b in scenes.boxes)


def test_float_and_channel_sources():
    items, labels = sources()
    as_float = make_scenes(items[:, None] / 255.0, labels, 3, rng=np.random.default_rng(7))
    as_uint8 = make_scenes(items, labels, 3, rng=np.random.default_rng(7))
    np.testing.assert_allclose(as_float.images, as_uint8.images, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(images=np.zeros((3, 28)), labels=[0, 1, 2]), "make_scenes: expected a 3-D images"),
    (dict(labels=[0, 1]), r"make_scenes: labels must be 30 integers"),
    (dict(images=np.full((30, 28, 28), 2.0)), r"make_scenes: float images must lie in \[0, 1\]"),
    (dict(images=np.zeros((30, 28, 28), np.int32)), "make_scenes: images must be uint8"),
    (dict(indices=[0, 40]), r"make_scenes: indices must lie in \[0, 29\]"),
    (dict(indices=[]), "make_scenes: indices is empty"),
    (dict(rng=0), "make_scenes: rng must be a numpy Generator"),
    (dict(count=-1), "make_scenes: count"),
    (dict(objects=(3, 1)), "make_scenes: objects must have low <= high"),
    (dict(scale=(0, 1)), "make_scenes: scale"),
    (dict(max_cover=1.5), "make_scenes: max_cover"),
    (dict(size=4), "make_scenes: size"),
])
def test_bad_input(kwargs, match):
    items, labels = sources()
    args = dict(images=items, labels=labels, count=2, rng=np.random.default_rng(0)) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        make_scenes(args.pop("images"), args.pop("labels"), args.pop("count"), **args)
