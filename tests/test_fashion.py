"""Fashion-MNIST: loading, folder lookup, validation, and the downloader against a local server."""

import functools
import hashlib
import http.server
import os
import re
import threading
import time

import numpy as np
import pytest

import cnnlib.data.fashion as fashion
from cnnlib.data.fashion import FASHION_CLASSES, download_fashion_mnist, fashion_mnist
from cnnlib.data.idx import write_idx

pytestmark = pytest.mark.unit

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def make_fashion(folder, rng, *, n_train=12, n_test=5, suffix=".gz"):
    """Write a small dataset laid out as Fashion-MNIST's; return its uint8 images and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = []
    for n in (n_train, n_test):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, :2] = 0, 255
        arrays += [images, np.arange(n, dtype=np.uint8) % 10]
    for name, array in zip(NAMES, arrays):
        write_idx(folder / (name + suffix), array)
    return arrays


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No Fashion-MNIST anywhere: an empty home, no CNNLIB_DATA, a missing system folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)
    monkeypatch.setattr(fashion, "SYSTEM_DIR", tmp_path / "system" / "fashion-mnist")
    return home


def test_classes():
    assert FASHION_CLASSES[0] == "T-shirt/top" and FASHION_CLASSES[9] == "Ankle boot"
    assert len(FASHION_CLASSES) == len(set(FASHION_CLASSES)) == 10


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_shapes_dtypes_and_values(tmp_path, rng, suffix):
    images, labels, test_images, test_labels = make_fashion(tmp_path, rng, suffix=suffix)
    x_train, y_train, x_test, y_test = fashion_mnist(tmp_path)
    assert x_train.shape == (12, 1, 28, 28) and x_test.shape == (5, 1, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.array_equal(x_train[:, 0] * 255, images)
    assert np.array_equal(x_test[:, 0] * 255, test_images)
    assert np.array_equal(y_train, labels) and np.array_equal(y_test, test_labels)


def test_plain_and_gzip_files_may_be_mixed(tmp_path, rng):
    make_fashion(tmp_path, rng)
    os.replace(tmp_path / "t10k-labels-idx1-ubyte.gz", tmp_path / "moved.gz")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    assert fashion_mnist(tmp_path)[3].tolist() == [0, 1, 2, 3, 4]


def test_lookup_order(tmp_path, rng, no_data, monkeypatch):
    """root, then $CNNLIB_DATA/fashion-mnist, then the cache, then the system folder."""
    make_fashion(tmp_path / "root", rng, n_train=1)
    make_fashion(tmp_path / "env" / "fashion-mnist", rng, n_train=2)
    make_fashion(no_data / ".cache" / "cnnlib" / "fashion-mnist", rng, n_train=3)
    make_fashion(fashion.SYSTEM_DIR, rng, n_train=4)
    make_fashion(tmp_path / "incomplete" / "fashion-mnist", rng, n_train=5)
    os.remove(tmp_path / "incomplete" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")

    monkeypatch.setenv("CNNLIB_DATA", str(tmp_path / "env"))
    assert len(fashion_mnist(tmp_path / "root")[0]) == 1
    assert len(fashion_mnist()[0]) == 2
    monkeypatch.setenv("CNNLIB_DATA", str(tmp_path / "incomplete"))
    assert len(fashion_mnist()[0]) == 3
    monkeypatch.delenv("CNNLIB_DATA")
    assert len(fashion_mnist()[0]) == 3
    (no_data / ".cache" / "cnnlib" / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()
    assert len(fashion_mnist()[0]) == 4


def test_root_is_the_only_folder_searched(tmp_path, rng, no_data):
    make_fashion(fashion.SYSTEM_DIR, rng)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        fashion_mnist(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)
    assert str(fashion.SYSTEM_DIR) not in str(err.value)


def test_no_data_says_how_to_get_it(tmp_path, no_data, monkeypatch):
    monkeypatch.setenv("CNNLIB_DATA", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError) as err:
        fashion_mnist()
    message = str(err.value)
    assert message.startswith("fashion_mnist:")
    assert "apt-get install dataset-fashion-mnist" in message
    assert "fashion_mnist(download=True)" in message and "CNNLIB_DATA" in message
    for folder in [tmp_path / "data" / "fashion-mnist",
                   no_data / ".cache" / "cnnlib" / "fashion-mnist", fashion.SYSTEM_DIR]:
        assert str(folder) in message


def test_counts_must_agree(tmp_path, rng):
    make_fashion(tmp_path, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"fashion_mnist: .*train-labels-idx1-ubyte.gz has 11 "
                                         r"labels but .*train-images-idx3-ubyte.gz has 12"):
        fashion_mnist(tmp_path)


def test_labels_must_be_0_to_9(tmp_path, rng):
    make_fashion(tmp_path, rng)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10, 3, 4], np.uint8))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz has labels outside 0..9, "
                                         r"first 10 at index 2"):
        fashion_mnist(tmp_path)


@pytest.mark.parametrize("name, array", [
    ("train-images-idx3-ubyte.gz", np.zeros((12, 28, 27), np.uint8)),
    ("train-images-idx3-ubyte.gz", np.zeros((12, 28, 28), np.int16)),
    ("t10k-images-idx3-ubyte.gz", np.zeros((5, 784), np.uint8)),
    ("t10k-labels-idx1-ubyte.gz", np.zeros((5, 1), np.uint8)),
], ids=["27 wide", "int16", "flat", "2-d labels"])
def test_shapes_and_dtypes_are_checked(tmp_path, rng, name, array):
    make_fashion(tmp_path, rng)
    write_idx(tmp_path / name, array)
    with pytest.raises(ValueError, match=f"fashion_mnist: .*{re.escape(name)} should hold uint8"):
        fashion_mnist(tmp_path)


# The downloader, against a local server.

@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; yields (base_url, folder, log)."""
    folder = tmp_path / "served"
    folder.mkdir()
    log = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            log.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/datasets/", folder, log
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def serve_fashion(folder, rng):
    """Small .gz files under folder/datasets; return the arrays and their MD5s."""
    arrays = make_fashion(folder / "datasets", rng)
    checksums = {f"{name}.gz": hashlib.md5((folder / "datasets" / f"{name}.gz").read_bytes())
                 .hexdigest() for name in NAMES}
    return arrays, checksums


def test_download(tmp_path, rng, server, capsys):
    base_url, served, log = server
    _, checksums = serve_fashion(served, rng)
    dest = tmp_path / "new" / "fashion-mnist"
    assert download_fashion_mnist(dest, base_url=base_url, checksums=checksums) == dest
    assert sorted(os.listdir(dest)) == sorted(checksums)
    for name in checksums:
        assert (dest / name).read_bytes() == (served / "datasets" / name).read_bytes()
    err = capsys.readouterr().err
    for name in checksums:
        assert re.search(f"download_fashion_mnist: {re.escape(name)}: 100% of [0-9.]+ MB\n", err)
    assert sorted(log) == sorted(f"/datasets/{name}" for name in checksums)

    log.clear()
    download_fashion_mnist(dest, base_url=base_url, checksums=checksums, progress=False)
    assert log == []                              # files already there are kept
    assert capsys.readouterr().err == ""


def test_progress_is_throttled(tmp_path, rng, server, capsys):
    base_url, served, _ = server
    _, checksums = serve_fashion(served, rng)
    big = rng.bytes(4 << 20)                      # 64 reads of 64 KiB
    (served / "datasets" / "train-images-idx3-ubyte.gz").write_bytes(big)
    checksums["train-images-idx3-ubyte.gz"] = hashlib.md5(big).hexdigest()
    download_fashion_mnist(tmp_path / "dest", base_url=base_url, checksums=checksums)
    err = capsys.readouterr().err
    updates = re.findall(r"train-images-idx3-ubyte.gz: +(\d+)%", err)
    assert updates[-1] == "100" and len(updates) < 10, updates


def test_fashion_mnist_downloads_to_the_cache(tmp_path, rng, server, no_data, monkeypatch):
    base_url, served, _ = server
    (images, labels, *_), checksums = serve_fashion(served, rng)
    monkeypatch.setattr(fashion, "download_fashion_mnist", functools.partial(
        download_fashion_mnist, base_url=base_url, checksums=checksums, progress=False))
    with pytest.raises(FileNotFoundError):
        fashion_mnist()
    x_train, y_train, _, _ = fashion_mnist(download=True)
    assert np.array_equal(x_train[:, 0] * 255, images) and np.array_equal(y_train, labels)
    assert sorted(os.listdir(no_data / ".cache" / "cnnlib" / "fashion-mnist")) == sorted(checksums)


def test_checksum_mismatch_leaves_no_file(tmp_path, rng, server):
    base_url, served, _ = server
    _, checksums = serve_fashion(served, rng)
    bad = "t10k-images-idx3-ubyte.gz"
    (served / "datasets" / bad).write_bytes(b"corrupted in transit")
    actual = hashlib.md5(b"corrupted in transit").hexdigest()
    dest = tmp_path / "dest"
    message = (f"download_fashion_mnist: {base_url}{bad} has the wrong MD5 checksum: "
               f"expected {checksums[bad]}, got {actual}; {bad} was not saved")
    with pytest.raises(ValueError, match=re.escape(message)):
        download_fashion_mnist(dest, base_url=base_url, checksums=checksums, progress=False)
    assert sorted(os.listdir(dest)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_missing_file_on_the_server(tmp_path, rng, server):
    base_url, served, _ = server
    _, checksums = serve_fashion(served, rng)
    (served / "datasets" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(OSError, match=re.escape(
            f"download_fashion_mnist: could not fetch {base_url}train-labels-idx1-ubyte.gz")):
        download_fashion_mnist(tmp_path / "dest", base_url=base_url, checksums=checksums)
    assert os.listdir(tmp_path / "dest") == ["train-images-idx3-ubyte.gz"]


def test_checksums_must_cover_every_file(tmp_path):
    with pytest.raises(ValueError, match="checksums has no entry for"):
        download_fashion_mnist(tmp_path, checksums={"train-images-idx3-ubyte.gz": "0" * 32})


def test_published_checksums():
    assert fashion.FASHION_MD5 == {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    assert fashion.FASHION_URL == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


# The real dataset, as Debian's package dataset-fashion-mnist installs it.

@pytest.mark.data
def test_system_fashion_mnist(tmp_path, monkeypatch):
    if not fashion.SYSTEM_DIR.is_dir():
        if os.environ.get("CNNLIB_SKIP_SYSTEM_DATA") == "1":
            pytest.skip(f"{fashion.SYSTEM_DIR} is missing and CNNLIB_SKIP_SYSTEM_DATA=1")
        pytest.fail(f"{fashion.SYSTEM_DIR} is missing: install it with "
                    "`apt-get install dataset-fashion-mnist`, or set CNNLIB_SKIP_SYSTEM_DATA=1 "
                    "to skip this test")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)
    start = time.perf_counter()
    x_train, y_train, x_test, y_test = fashion_mnist()
    seconds = time.perf_counter() - start
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert seconds < 10, f"loading Fashion-MNIST took {seconds:.1f} s"
