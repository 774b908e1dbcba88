"""EMNIST letters: load the 26 handwritten letter classes from their IDX files."""

import os
from pathlib import Path

from cnnlib.data.idx import find_idx, images_to_float, read_image_labels

_SPLITS = (("emnist-letters-train-images-idx3-ubyte", "emnist-letters-train-labels-idx1-ubyte"),
           ("emnist-letters-test-images-idx3-ubyte", "emnist-letters-test-labels-idx1-ubyte"))


def emnist_letters(root):
    """Load EMNIST letters: handwritten a-z (upper and lower case merged), 26 classes.

    EMNIST stores each image transposed relative to MNIST (its rows are the
    letter's columns); the images come back upright. The files label the letters
    1 (a) to 26 (z); the labels come back as 0 to 25.

    Parameters
    ----------
    root : str or os.PathLike
        A folder holding the four IDX files of the letters split, each plain or
        ``.gz``: ``emnist-letters-train-images-idx3-ubyte``,
        ``emnist-letters-train-labels-idx1-ubyte``,
        ``emnist-letters-test-images-idx3-ubyte`` and
        ``emnist-letters-test-labels-idx1-ubyte``.

    Returns
    -------
    x_train : ndarray, float32, shape (N_train, 1, 28, 28), values in [0, 1]
    y_train : ndarray, int64, shape (N_train,), 0 for a to 25 for z
    x_test : ndarray, float32, shape (N_test, 1, 28, 28)
    y_test : ndarray, int64, shape (N_test,)

    The published split has N_train = 124,800 and N_test = 20,800.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message lists the names expected.
    ValueError
        If a file is malformed, the image and label counts differ, an image is not
        28x28 or a label is not in 1..26; the message names the file.

    Examples
    --------
    >>> x_train, y_train, x_test, y_test = emnist_letters("~/data/emnist")  # doctest: +SKIP
    >>> x_train.shape, y_train.min(), y_train.max()                         # doctest: +SKIP
    ((124800, 1, 28, 28), 0, 25)
    """
    folder = Path(os.fspath(root)).expanduser()
    names = [name for split in _SPLITS for name in split]
    missing = [name for name in names if find_idx(folder, name) is None]
    if missing:
        expected = "\n".join(f"  {name}(.gz)" for name in names)
        raise FileNotFoundError(
            f"emnist_letters: {folder} lacks {', '.join(missing)}; root must hold these "
            f"four files, plain or gzip-compressed:\n{expected}\n"
            "They are in the 'gzip.zip' archive of the EMNIST dataset (NIST, "
            "https://www.nist.gov/itl/products-and-services/emnist-dataset).")
    arrays = []
    for images_name, labels_name in _SPLITS:
        images, labels = read_image_labels(find_idx(folder, images_name),
                                           find_idx(folder, labels_name),
                                           caller="emnist_letters", label_range=(1, 26))
        arrays += [images_to_float(images.transpose(0, 2, 1)), labels - 1]
    return tuple(arrays)
