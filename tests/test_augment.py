"""Shifts and flipped pixels used for augmentation and the robustness test."""

import numpy as np

from cnnlib.data import augment


def test_shift_moves_content_and_fills_zeros():
    x = np.arange(16.0).reshape(1, 1, 4, 4) + 1
    down_right = augment.shift(x, 1, 2)[0, 0]
    assert np.array_equal(down_right[1:, 2:], x[0, 0, :3, :2])
    assert down_right[0].sum() == 0 and down_right[:, :2].sum() == 0
    up_left = augment.shift(x, -1, -1)[0, 0]
    assert np.array_equal(up_left[:3, :3], x[0, 0, 1:, 1:])
    assert np.array_equal(augment.shift(x, 0, 0), x)
    assert augment.shift(x, 4, 0).sum() == 0


def test_shift_per_image_and_inverse():
    rng = np.random.default_rng(0)
    x = np.zeros((3, 2, 6, 6))
    x[:, :, 2:4, 2:4] = rng.random((3, 2, 2, 2))
    dy, dx = np.array([1, -2, 0]), np.array([0, 2, -1])
    y = augment.shift(x, dy, dx)
    assert np.array_equal(augment.shift(y, -dy, -dx), x)   # nothing fell off the edge
    assert np.array_equal(y[1], augment.shift(x[1:2], -2, 2)[0])


def test_random_shift_stays_in_range_and_is_reproducible():
    x = np.zeros((200, 1, 9, 9))
    x[:, 0, 4, 4] = 1
    y = augment.random_shift(x, 2, rng=np.random.default_rng(1))
    rows, cols = np.nonzero(y[:, 0])[1:]
    assert len(rows) == 200 and set(rows) == set(cols) == {2, 3, 4, 5, 6}
    assert np.array_equal(y, augment.random_shift(x, 2, rng=np.random.default_rng(1)))


def test_flip_pixels_inverts_exactly_n_distinct_pixels():
    x = np.full((10, 1, 5, 5), 0.25)
    y = augment.flip_pixels(x, 5, rng=np.random.default_rng(2))
    assert (np.isclose(y, 0.75).reshape(10, -1).sum(axis=1) == 5).all()
    assert x.max() == 0.25                                  # input unchanged


def test_shift_and_flip_moves_by_the_distance():
    x = np.zeros((50, 1, 12, 12))
    x[:, 0, 5:7, 5:7] = 1
    y = augment.shift_and_flip(x, rng=np.random.default_rng(3), distance=2, n_pixels=0)
    for img in y[:, 0]:
        r, c = np.argwhere(img == 1).min(axis=0)
        assert (abs(r - 5), abs(c - 5)) in {(0, 2), (2, 0), (2, 2)}
    flipped = augment.shift_and_flip(x, rng=np.random.default_rng(3), distance=2, n_pixels=5)
    assert (np.abs(flipped - y).reshape(50, -1).sum(axis=1) == 5).all()
