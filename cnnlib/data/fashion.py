"""Fashion-MNIST: find the IDX files on disk (or download them) and load them as arrays."""

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cnnlib.checks import check_path
from cnnlib.data.idx import find_idx, images_to_float, read_image_labels, temporary_path

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# File names, download address and MD5 checksums of the .gz files, as published in
# the dataset's README (github.com/zalandoresearch/fashion-mnist, also installed as
# /usr/share/doc/dataset-fashion-mnist/README.md.gz by Debian's package).
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_SPLITS = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
           ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))

# Where Debian's and Ubuntu's package dataset-fashion-mnist installs the four files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_SUBFOLDER = "fashion-mnist"


def fashion_mnist(root=None, *, download=False):
    """Load Fashion-MNIST: 60,000 training and 10,000 test images of 10 kinds of clothing.

    The four standard IDX files (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each plain or ``.gz``) are taken from the first
    of these folders that holds all four:

    1. ``root``, if given (and then only ``root``);
    2. ``$CNNLIB_DATA/fashion-mnist``, if the environment variable ``CNNLIB_DATA``
       is set: it names a data root with one subfolder per dataset, laid out as
       the two folders below;
    3. ``~/.cache/cnnlib/fashion-mnist``, where ``download=True`` puts them;
    4. ``/usr/share/datasets/fashion-mnist``, where Debian's and Ubuntu's package
       ``dataset-fashion-mnist`` installs them.

    Parameters
    ----------
    root : str or os.PathLike, optional
        A folder holding the four files; no other folder is searched.
    download : bool
        If no folder holds the files, download them (see
        :func:`download_fashion_mnist`) into the first folder searched: ``root``,
        else ``$CNNLIB_DATA/fashion-mnist``, else the cache folder.

    Returns
    -------
    x_train : ndarray, float32, shape (60000, 1, 28, 28), values in [0, 1]
    y_train : ndarray, int64, shape (60000,), class indices into ``FASHION_CLASSES``
    x_test : ndarray, float32, shape (10000, 1, 28, 28)
    y_test : ndarray, int64, shape (10000,)

    Raises
    ------
    FileNotFoundError
        If no folder holds the files and ``download`` is false; the message lists
        the folders searched and how to get the data.
    ValueError
        If a file is malformed, the image and label counts differ, an image is not
        28x28 or a label is not in 0..9; the message names the file.

    Examples
    --------
    >>> x_train, y_train, x_test, y_test = fashion_mnist()   # doctest: +SKIP
    >>> x_train.shape, FASHION_CLASSES[y_train[0]]            # doctest: +SKIP
    ((60000, 1, 28, 28), 'Ankle boot')
    """
    folders = _search_folders(root)
    folder = next((f for f in folders if _holds_all(f)), None)
    if folder is None and download:
        folder = download_fashion_mnist(folders[0])
    if folder is None:
        searched = "\n".join(f"  {f}" for f in folders)
        raise FileNotFoundError(
            "fashion_mnist: the Fashion-MNIST files (train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz, or the same names without .gz) are in none of "
            f"these folders:\n{searched}\n"
            "To get them, do one of:\n"
            "  - on Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
            "  - download them (30 MB) to the cache: fashion_mnist(download=True)\n"
            "  - set CNNLIB_DATA to a folder whose fashion-mnist subfolder holds them, "
            "or pass root=")
    arrays = []
    for images_name, labels_name in _SPLITS:
        images, labels = read_image_labels(find_idx(folder, images_name),
                                           find_idx(folder, labels_name),
                                           caller="fashion_mnist", label_range=(0, 9))
        arrays += [images_to_float(images), labels]
    return tuple(arrays)


def download_fashion_mnist(folder, *, base_url=FASHION_URL, checksums=None, progress=True):
    """Download the four Fashion-MNIST .gz files into ``folder`` and check their MD5s.

    Each file is streamed into a temporary file in ``folder`` and moved into place
    only once its MD5 matches; a file already there with the right MD5 is kept.

    Parameters
    ----------
    folder : str or os.PathLike
        Destination; created if missing.
    base_url : str
        Address of the folder holding the files; the file name is appended.
    checksums : dict of str to str, optional
        File name -> MD5 hex digest for each of the four files; defaults to
        ``FASHION_MD5``, the published checksums.
    progress : bool
        Print a percentage line per file to stderr.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    OSError
        If a file cannot be fetched.
    ValueError
        If a downloaded file's MD5 differs from the expected one; nothing is left
        behind for that file.
    """
    checksums = FASHION_MD5 if checksums is None else checksums
    missing = sorted(set(FASHION_MD5) - set(checksums))
    if missing:
        raise ValueError(f"download_fashion_mnist: checksums has no entry for {missing}")
    folder = Path(os.fspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MD5:
        target = folder / name
        if target.is_file() and _md5_of_file(target) == checksums[name]:
            continue
        _download(base_url.rstrip("/") + "/" + name, target, checksums[name], progress)
    return folder


def _search_folders(root):
    """The folders ``fashion_mnist`` searches, in order."""
    if root is not None:
        return [Path(check_path("fashion_mnist: root", root))]
    folders = []
    if os.environ.get("CNNLIB_DATA"):
        folders.append(Path(os.environ["CNNLIB_DATA"]) / _SUBFOLDER)
    folders += [Path.home() / ".cache" / "cnnlib" / _SUBFOLDER, SYSTEM_DIR]
    return folders


def _holds_all(folder):
    return all(find_idx(folder, name) is not None for split in _SPLITS for name in split)


def _download(url, target, expected_md5, progress):
    """Stream ``url`` into ``target`` via a temporary file, refusing a wrong MD5."""
    tmp = temporary_path(target)
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "xb") as out:
                total = int(response.headers.get("Content-Length") or 0)
                done, shown = 0, 0.0
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    md5.update(chunk)
                    done += len(chunk)
                    if progress and time.monotonic() - shown > 0.5:
                        _show(target.name, done, total, end="\r")
                        shown = time.monotonic()
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                TimeoutError) as exc:
            raise OSError(f"download_fashion_mnist: could not fetch {url}: "
                          f"{getattr(exc, 'reason', exc)}") from exc
        if progress:
            _show(target.name, done, total, end="\n")
        if md5.hexdigest() != expected_md5:
            raise ValueError(f"download_fashion_mnist: {url} has the wrong MD5 checksum: "
                             f"expected {expected_md5}, got {md5.hexdigest()}; "
                             f"{target.name} was not saved")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _show(name, done, total, end):
    if total:
        print(f"download_fashion_mnist: {name}: {100 * done // total:3d}% "
              f"of {total / 1e6:.1f} MB", end=end, file=sys.stderr, flush=True)
    else:
        print(f"download_fashion_mnist: {name}: {done / 1e6:.1f} MB", end=end,
              file=sys.stderr, flush=True)


def _md5_of_file(path):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    return md5.hexdigest()
