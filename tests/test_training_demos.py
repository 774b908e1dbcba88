"""Tests for the seed studies of chapters 6 and 7 (cnnlib.book.training_demos), on tiny data."""

import numpy as np

from cnnlib.book import training_demos as td
from cnnlib.models import letters_cnn


def test_digits_become_letter_sized_images():
    x = np.zeros((3, 1, 8, 8))
    x[:, 0, 2:6, 3] = 1.0                       # a vertical stroke
    big = td.as_letter_image(x)
    assert big.shape == (3, 1, 28, 28) and big.dtype == np.float32
    assert big.min() >= 0 and big.max() <= 1
    assert not big[:, :, :4].any() and not big[:, :, :, :4].any()  # the 4-pixel border
    assert big[:, :, 4:24, 4:24].any()


def test_few_digits_draws_the_same_number_of_each_class():
    rng = np.random.default_rng(0)
    digits = {"x_train": rng.random((60, 1, 8, 8)), "y_train": np.repeat(np.arange(10), 6)}
    x, y = td.few_digits(digits, 3, seed=1)
    assert x.shape == (30, 1, 28, 28) and np.all(np.bincount(y) == 3)
    x2, y2 = td.few_digits(digits, 3, seed=1)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)     # a seed fixes the draw


def test_overfitting_net_and_letters_body_shapes():
    plain, dropped = td.overfitting_net(0.0, seed=0), td.overfitting_net(0.5, seed=0)
    assert plain.num_params() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 26 + 26
    assert plain.num_params() == dropped.num_params()
    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    assert plain(x).shape == (2, 26) and plain(x).dtype == np.float32
    net = letters_cnn(rng=np.random.default_rng(0))
    body = td.letters_body(net)
    assert body(x).shape == (2, 512)
    assert body[0] is net[0]                     # the weights are shared, not copied


def test_early_stopping_run_stops_and_matches_the_full_run_until_then():
    rng = np.random.default_rng(3)
    n = 52
    d = {"x": rng.random((n, 1, 28, 28)).astype(np.float32), "y": np.arange(n) % 26,
         "x_val": rng.random((26, 1, 28, 28)).astype(np.float32), "y_val": np.arange(26),
         "x_test": rng.random((26, 1, 28, 28)).astype(np.float32), "y_test": np.arange(26)}
    r = td.early_stopping_run(d, seed=0, epochs=12, patience=2, lr=1e-2)
    assert r["epochs_run"] <= 12 and r["best_epoch"] <= r["epochs_run"]
    curve = np.array(r["val_loss_curve"])
    assert len(curve) == 12
    np.testing.assert_allclose(r["val_loss_best"], curve[:r["epochs_run"]].min(), rtol=1e-6)
