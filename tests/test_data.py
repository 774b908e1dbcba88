"""The book's datasets: the digits split and the rendered letters (shapes, determinism, fonts)."""

import numpy as np
import pytest

import cnnlib
from cnnlib.book import datasets as data


def test_digits_split_is_stratified_and_disjoint():
    d = data.digits()
    assert d["x_train"].shape[1:] == (1, 8, 8) and d["x_test"].shape[1:] == (1, 8, 8)
    assert len(d["y_train"]) + len(d["y_test"]) == 1797
    assert 0.0 <= d["x_train"].min() and d["x_train"].max() <= 1.0
    counts = np.bincount(d["y_test"], minlength=10) / np.bincount(
        np.concatenate([d["y_train"], d["y_test"]]), minlength=10)
    assert np.allclose(counts, 0.2, atol=0.01)
    train_rows = {img.tobytes() for img in d["x_train"]}
    assert sum(img.tobytes() in train_rows for img in d["x_test"]) <= 2   # a few true duplicates


def test_digits_seed_chooses_the_split():
    a, b, c = data.digits(seed=0), data.digits(seed=0), data.digits(seed=1)
    assert np.array_equal(a["y_test"], b["y_test"]) and np.array_equal(a["x_test"], b["x_test"])
    assert not np.array_equal(a["x_test"], c["x_test"])


def test_letter_fonts_are_disjoint_and_all_exist():
    assert not set(data.LETTER_FONTS_TRAIN) & set(data.LETTER_FONTS_TEST)
    for font in data.LETTER_FONTS_TRAIN + data.LETTER_FONTS_TEST:
        assert data._glyph(font, "a").vertices.shape[1] == 2


def test_render_letters_shapes_labels_and_determinism():
    fonts = data.LETTER_FONTS_TEST[:2]
    x, y, font = data.render_letters(fonts, 1, rng=np.random.default_rng(3))
    assert x.shape == (2 * 52, 28, 28) and y.shape == font.shape == (104,)
    assert np.array_equal(np.bincount(y), np.full(26, 4))     # 2 fonts x 2 cases
    assert set(font.tolist()) == {0, 1}
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert (x.reshape(len(x), -1).max(axis=1) > 0.9).all()  # every image has ink
    x2, _, _ = data.render_letters(fonts, 1, rng=np.random.default_rng(3))
    x3, _, _ = data.render_letters(fonts, 1, rng=np.random.default_rng(4))
    assert np.array_equal(x, x2) and not np.array_equal(x, x3)


def test_letters_test_split_uses_held_out_fonts_only():
    d = data.letters(per_glyph_test=1, splits=("test",))
    assert set(d) == {"x_test", "y_test", "font_test"}
    assert d["x_test"].shape == (len(data.LETTER_FONTS_TEST) * 52, 1, 28, 28)
    assert d["x_test"].dtype == np.float32
    assert set(d["font_test"].tolist()) == set(range(len(data.LETTER_FONTS_TEST)))
    again = data.letters(per_glyph_test=1, splits=("test",))
    again["x_test"][...] = 0                                  # a copy: the cache is untouched
    assert data.letters(per_glyph_test=1, splits=("test",))["x_test"].max() > 0


def test_letters_rejects_unknown_split():
    with pytest.raises(ValueError, match="splits"):
        data.letters(splits=("validation",))


def test_tl_letters_cover_every_position_once():
    d = cnnlib.data.tl_letters()
    total = sum((8 - s + 1) ** 2 for s in (3, 4, 5))
    assert len(d["y_train"]) + len(d["y_test"]) == 2 * total
    positions = [tuple(p) + (y,) for split in ("train", "test")
                 for p, y in zip(d[f"pos_{split}"], d[f"y_{split}"])]
    assert len(set(positions)) == len(positions)
    assert np.bincount(d["y_test"]).tolist() == [19, 19]
    t = d["x_train"][d["y_train"] == 1][0, 0]
    assert t.sum() == 5 and t.dtype == np.float64


def test_letter_shapes():
    np.testing.assert_array_equal(cnnlib.data.letter_shape("T", 3), [[1, 1, 1], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(cnnlib.data.letter_shape("L", 3), [[1, 0, 0], [1, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="does not fit at"):
        cnnlib.data.place(cnnlib.data.letter_shape("T", 5), 4, 0)
