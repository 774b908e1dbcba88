"""cnnlib.data.image_folder: torchvision's ImageFolder layout and order, sizes, and refusals."""

import numpy as np
import pytest

from cnnlib.data import image_folder

Image = pytest.importorskip("PIL.Image")


def _write(path, pixels, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode).save(path)


@pytest.fixture
def folder(tmp_path):
    """Two classes (sorted: "cat" before "dog"), RGB PNGs and a JPEG, 4x6, one nested file."""
    rng = np.random.default_rng(0)
    images = {}
    for rel in ["dog/b.png", "dog/a.png", "cat/z.png", "cat/sub/c.png", "cat/m.PNG"]:
        images[rel] = rng.integers(0, 256, (4, 6, 3))
        _write(tmp_path / rel, images[rel])
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    _write(tmp_path / "dog" / "photo.jpg", np.full((4, 6, 3), 200))
    return tmp_path, images


def test_order_labels_and_values(folder):
    root, images = folder
    x, y, classes = image_folder(root, size=None)
    assert classes == ["cat", "dog"]
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (6, 3, 4, 6)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    # torchvision's order: a sorted walk of each class folder, sorted names in each folder
    order = ["cat/m.PNG", "cat/z.png", "cat/sub/c.png", "dog/a.png", "dog/b.png"]
    for i, rel in enumerate(order):
        expected = images[rel].transpose(2, 0, 1).astype(np.float32) / 255
        np.testing.assert_array_equal(x[i], expected)
    assert abs(float(x[5].mean()) - 200 / 255) < 0.02  # the JPEG, lossy
    assert 0 <= x.min() and x.max() <= 1


def test_resize_and_grayscale(folder):
    root, images = folder
    x, _, _ = image_folder(root, size=(2, 3), grayscale=True)
    assert x.shape == (6, 1, 2, 3)
    x, _, _ = image_folder(root, size=5)
    assert x.shape == (6, 3, 5, 5)
    expected = Image.fromarray(images["cat/m.PNG"].astype(np.uint8)).resize(
        (5, 5), Image.Resampling.BILINEAR)
    expected = np.asarray(expected).transpose(2, 0, 1).astype(np.float32) / 255
    np.testing.assert_array_equal(x[0], expected)


def test_grey_and_rgba_files_are_converted(tmp_path):
    _write(tmp_path / "a" / "grey.png", np.full((3, 3), 255), "L")
    _write(tmp_path / "a" / "rgba.png", np.full((3, 3, 4), 255), "RGBA")
    x, _, _ = image_folder(tmp_path, size=None)
    assert x.shape == (2, 3, 3, 3) and np.all(x == 1)


def test_refusals(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        image_folder(tmp_path / "missing", size=8)
    with pytest.raises(ValueError, match="no class folders"):
        image_folder(tmp_path, size=8)
    _write(tmp_path / "a" / "x.png", np.zeros((4, 4, 3)))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"\['b'\].*hold no"):
        image_folder(tmp_path, size=8)
    _write(tmp_path / "b" / "y.png", np.zeros((5, 4, 3)))
    with pytest.raises(ValueError, match="differ in size.*pass size"):
        image_folder(tmp_path, size=None)
    assert image_folder(tmp_path, size=4)[0].shape == (2, 3, 4, 4)
    (tmp_path / "b" / "z.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match=r"cannot read .*z\.png"):
        image_folder(tmp_path, size=4)
    for bad in (0, (4,), (4, 0), 2.5):
        with pytest.raises(ValueError, match="size"):
            image_folder(tmp_path, size=bad)


def test_truncated_file_is_named(tmp_path):
    _write(tmp_path / "a" / "whole.png", np.zeros((16, 16, 3)))
    data = (tmp_path / "a" / "whole.png").read_bytes()
    (tmp_path / "a" / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.png"):
        image_folder(tmp_path, size=None)
