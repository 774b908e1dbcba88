"""Images from a folder of class sub-folders (torchvision's ImageFolder layout), via Pillow."""

import os
from pathlib import Path

import numpy as np

from cnnlib.checks import check_int, check_path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
"""The file endings :func:`image_folder` reads (any case); other files are skipped."""


def _size(size):
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"image_folder: size must be an int, (height, width) or None, "
                             f"got {size!r}")
        return (check_int("image_folder: size", size[0]),
                check_int("image_folder: size", size[1]))
    side = check_int("image_folder: size", size)
    return side, side


def _class_files(folder):
    """Image files under ``folder``, in torchvision's order: sorted walk, sorted names."""
    files = []
    for root, _, names in sorted(os.walk(folder, followlinks=True)):
        files += [Path(root) / n for n in sorted(names) if n.lower().endswith(IMAGE_EXTENSIONS)]
    return files


def image_folder(root, *, size, grayscale=False):
    """Read ``root/<class>/<image>`` into arrays, as torchvision's ``ImageFolder`` orders them.

    Classes are the sub-folders of ``root`` in sorted order (label 0 is the
    first), skipping hidden ones such as ``.ipynb_checkpoints``, which
    torchvision would count as a class; each class's images are found by a
    sorted walk of its folder.
    PNG and JPEG files are read (other files are skipped), converted to RGB
    (or to grey with ``grayscale=True``) and resized with Pillow's bilinear
    filter, antialiased when shrinking.

    Parameters
    ----------
    root : str or os.PathLike
    size : int, (int, int) or None, keyword-only
        Output (height, width); an int is a square. ``None`` keeps the images'
        own size, which they must then all share.
    grayscale : bool, default False
        One channel (Pillow's "L" luminance) instead of three.

    Returns
    -------
    x : ndarray, float32, shape (N, C, H, W), values in [0, 1]
        C is 1 with ``grayscale`` and 3 otherwise.
    y : ndarray, int64, shape (N,)
    classes : list of str
        The class names; ``classes[y[i]]`` is image i's folder.

    Raises
    ------
    FileNotFoundError
        ``root`` does not exist or is not a folder.
    ValueError
        ``root`` has no class folders, a class folder has no images, a file
        cannot be read as an image (the message names it), or the images
        differ in size and ``size`` is None.
    ImportError
        Pillow is not installed.

    Examples
    --------
    >>> from cnnlib.data import image_folder
    >>> x, y, classes = image_folder("pets", size=64)  # doctest: +SKIP
    >>> x.shape, classes  # doctest: +SKIP
    ((120, 3, 64, 64), ['cat', 'dog'])
    """
    root = Path(check_path("image_folder", root))
    target = _size(size)
    if not root.is_dir():
        raise FileNotFoundError(f"image_folder: {root} is not a folder"
                                if root.exists() else f"image_folder: no such folder {root}")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"image_folder: {root} has no class folders; expected "
                         f"{root}/<class name>/<image files>")
    files = {c: _class_files(root / c) for c in classes}
    empty = [c for c in classes if not files[c]]
    if empty:
        raise ValueError(f"image_folder: the class folders {empty} in {root} hold no "
                         f"{'/'.join(e[1:].upper() for e in IMAGE_EXTENSIONS)} images")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("image_folder needs Pillow: pip install pillow") from None

    images, labels = [], []
    for label, c in enumerate(classes):
        for path in files[c]:
            try:
                with Image.open(path) as im:
                    im = im.convert("L" if grayscale else "RGB")
                    if target is not None and im.size != target[::-1]:
                        im = im.resize(target[::-1], Image.Resampling.BILINEAR)
                    pixels = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
                    SyntaxError) as e:
                raise ValueError(f"image_folder: cannot read {path} as an image: {e}") from None
            images.append((path, pixels))
            labels.append(label)
    if target is None:
        shapes = {}
        for path, pixels in images:
            shapes.setdefault(pixels.shape[:2], path)
        if len(shapes) > 1:
            examples = ", ".join(f"{p.relative_to(root)} is {h}x{w}"
                                 for (h, w), p in list(shapes.items())[:3])
            raise ValueError(f"image_folder: the images differ in size ({examples}); pass "
                             f"size=(height, width) to resize them")
    x = np.stack([pixels for _, pixels in images]).astype(np.float32)
    x = x[:, None] if grayscale else x.transpose(0, 3, 1, 2)
    x /= 255
    return np.ascontiguousarray(x), np.array(labels, dtype=np.int64), classes
