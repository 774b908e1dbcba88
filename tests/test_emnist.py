"""EMNIST letters: transposed storage undone, labels 1-26 mapped to 0-25, bad files refused."""

import re

import numpy as np
import pytest

from cnnlib.data.emnist import emnist_letters
from cnnlib.data.idx import write_idx

pytestmark = pytest.mark.unit

NAMES = ["emnist-letters-train-images-idx3-ubyte", "emnist-letters-train-labels-idx1-ubyte",
         "emnist-letters-test-images-idx3-ubyte", "emnist-letters-test-labels-idx1-ubyte"]


def letter_f():
    """An upright 28x28 'F': no transpose, flip or rotation of it equals itself."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 6] = 255                 # stem
    image[4, 6:20] = 255                 # top bar
    image[13, 6:15] = 128                # middle bar, shorter
    return image


def make_emnist(folder, rng, *, train_labels=(1, 6, 26), test_labels=(2, 25), suffix=".gz"):
    """Write EMNIST-style files: each image stored transposed. Return the upright images."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = []
    for labels in (train_labels, test_labels):
        upright = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        upright[0] = letter_f()
        write_idx(folder / (NAMES[len(arrays)] + suffix), upright.transpose(0, 2, 1))
        write_idx(folder / (NAMES[len(arrays) + 1] + suffix), np.array(labels, np.uint8))
        arrays += [upright, np.array(labels)]
    return arrays


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_images_come_back_upright_and_labels_from_zero(tmp_path, rng, suffix):
    upright, _, test_upright, _ = make_emnist(tmp_path, rng, suffix=suffix)
    x_train, y_train, x_test, y_test = emnist_letters(tmp_path)
    assert x_train.shape == (3, 1, 28, 28) and x_test.shape == (2, 1, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    f = x_train[0, 0]
    assert f[4, 6:20].tolist() == [1.0] * 14
    assert np.all(f[13, 6:15] == np.float32(128) / np.float32(255))
    assert not np.array_equal(f, f.T)
    assert np.array_equal(x_train[:, 0] * 255, upright)
    assert np.array_equal(x_test[:, 0] * 255, test_upright)
    assert y_train.tolist() == [0, 5, 25] and y_test.tolist() == [1, 24]


def test_root_may_be_a_string_with_a_tilde(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    make_emnist(tmp_path / "emnist", rng)
    assert emnist_letters("~/emnist")[1].tolist() == [0, 5, 25]


@pytest.mark.parametrize("bad", [0, 27])
def test_labels_outside_1_to_26_are_refused(tmp_path, rng, bad):
    make_emnist(tmp_path, rng, test_labels=(3, bad))
    name = re.escape(str(tmp_path / (NAMES[3] + ".gz")))
    with pytest.raises(ValueError, match=f"emnist_letters: {name} has labels outside 1..26, "
                                         f"first {bad} at index 1"):
        emnist_letters(tmp_path)


def test_counts_must_agree(tmp_path, rng):
    make_emnist(tmp_path, rng)
    write_idx(tmp_path / (NAMES[1] + ".gz"), np.array([1, 2], np.uint8))
    with pytest.raises(ValueError, match="emnist_letters: .* has 2 labels but .* has 3 images"):
        emnist_letters(tmp_path)


def test_images_must_be_28_by_28(tmp_path, rng):
    make_emnist(tmp_path, rng)
    write_idx(tmp_path / (NAMES[2] + ".gz"), np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=f"{NAMES[2]}.gz should hold uint8 images of shape "
                                         r"\(N, 28, 28\)"):
        emnist_letters(tmp_path)


def test_missing_files_are_listed(tmp_path, rng):
    make_emnist(tmp_path, rng)
    (tmp_path / (NAMES[0] + ".gz")).unlink()
    with pytest.raises(FileNotFoundError) as err:
        emnist_letters(tmp_path)
    message = str(err.value)
    assert message.startswith(f"emnist_letters: {tmp_path} lacks {NAMES[0]};")
    assert all(name in message for name in NAMES)
