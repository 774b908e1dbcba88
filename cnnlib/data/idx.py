"""The IDX file format of MNIST and its relatives: read and write, gzip or plain."""

import gzip
import math
import os
import secrets
import zlib
from pathlib import Path

import numpy as np

from cnnlib.checks import check_path

# IDX type code -> big-endian dtype, as in the format's definition on LeCun's MNIST page.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

# NumPy 1.x arrays have at most 32 axes, so a file with more could not be returned.
MAX_NDIM = 32

# Deflate expands at most about 1032-fold; a gzip file that declares more data than
# this ratio allows is refused before anything is allocated.
_MAX_GZIP_RATIO = 1100
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Read an IDX file, gzip-compressed or plain, into a native-endian array.

    The element type comes from the file's type code (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), and the shape from its
    size fields. Compression is detected from the gzip magic bytes, not the name.
    The declared size is checked against the file's length before the data are
    allocated, and a gzip file is decompressed only up to one byte past the
    declared size, so neither a lying header nor a gzip bomb can exhaust memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    ndarray
        Shape ``(d0, ..., dk)`` as declared in the header, 1 to ``MAX_NDIM`` axes;
        a fresh, writable array in native byte order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not well-formed IDX: the first two bytes are not zero, the
        type code is unknown, there are no or too many dimensions, the data are
        truncated or followed by extra bytes, or the gzip stream is corrupt.

    Examples
    --------
    >>> images = read_idx("train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape, images.dtype                         # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(check_path("read_idx", path))
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: {path}") from None
    with raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        size = os.fstat(raw.fileno()).st_size
        raw.seek(0)
        if not compressed:
            return _read_stream(raw, path, lambda nbytes: _check_length(path, nbytes, size))
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_stream(f, path, lambda nbytes: _check_gzip_bound(path, nbytes, size))
        except EOFError as exc:
            raise ValueError(f"read_idx: {path}: truncated gzip stream ({exc})") from exc
        except (OSError, zlib.error) as exc:
            raise ValueError(f"read_idx: {path}: corrupt gzip data ({exc})") from exc


def write_idx(path, array):
    """Write ``array`` to an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    The file is written to a temporary file in the same folder and then moved
    into place, so a reader never sees a half-written file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    array : array_like
        1 to ``MAX_NDIM`` axes, each shorter than 2**32, of dtype uint8, int8,
        int16, int32, float32 or float64 (any byte order).

    Raises
    ------
    ValueError
        If the dtype or the shape cannot be stored in IDX.
    """
    path = Path(os.fspath(path))
    array = np.asarray(array)
    code = _IDX_CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        names = ", ".join(str(dt.newbyteorder("=")) for dt in IDX_DTYPES.values())
        raise ValueError(f"write_idx: {path}: IDX cannot hold dtype {array.dtype}; "
                         f"use one of {names}")
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ValueError(f"write_idx: {path}: array has {array.ndim} dimensions; "
                         f"IDX needs 1 to {MAX_NDIM}")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"write_idx: {path}: shape {array.shape} has an axis of 2**32 or more")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = np.ascontiguousarray(array, dtype=IDX_DTYPES[code])
    tmp = temporary_path(path)
    try:
        with open(tmp, "xb") as raw:
            if path.name.endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw,
                                   mtime=0) as f:
                    f.write(header)
                    f.write(data.data)
            else:
                raw.write(header)
                raw.write(data.data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temporary_path(path):
    """A fresh hidden name beside ``path``, for writing a file and then ``os.replace``-ing it."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def find_idx(folder, name):
    """The path of ``name`` or ``name + ".gz"`` in ``folder`` (plain first), or None."""
    for candidate in (Path(folder) / name, Path(folder) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_image_labels(images_path, labels_path, *, caller, label_range, image_size=(28, 28)):
    """Read and check a pair of IDX files of uint8 images and their labels.

    Parameters
    ----------
    images_path, labels_path : pathlib.Path
        The images file, shape (N, H, W), and the labels file, shape (N,), both uint8.
    caller : str
        Name of the public loader, for error messages.
    label_range : tuple of int
        ``(low, high)``, the allowed labels, both inclusive.
    image_size : tuple of int
        The required ``(H, W)``.

    Returns
    -------
    images : ndarray, uint8, shape (N, H, W)
    labels : ndarray, int64, shape (N,)

    Raises
    ------
    ValueError
        If either file has the wrong dtype or shape, the counts differ, or a label
        lies outside ``label_range``; the message names the file.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != tuple(image_size):
        raise ValueError(f"{caller}: {images_path} should hold uint8 images of shape "
                         f"(N, {image_size[0]}, {image_size[1]}), "
                         f"got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{caller}: {labels_path} should hold uint8 labels of shape (N,), "
                         f"got {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{caller}: {labels_path} has {len(labels)} labels but "
                         f"{images_path} has {len(images)} images")
    low, high = label_range
    bad = np.flatnonzero((labels < low) | (labels > high))
    if bad.size:
        raise ValueError(f"{caller}: {labels_path} has labels outside {low}..{high}, "
                         f"first {labels[bad[0]]} at index {bad[0]} ({bad.size} in all)")
    return images, labels.astype(np.int64)


def images_to_float(images):
    """uint8 images (N, H, W) -> float32 in [0, 1] with a channel axis, (N, 1, H, W)."""
    x = images[:, None].astype(np.float32)
    x /= 255
    return x


def _read_stream(f, path, check_size):
    """Parse the header from the binary stream ``f`` and read exactly the declared data."""
    head = _read_exact(f, 4)
    if len(head) == 0:
        raise ValueError(f"read_idx: {path}: the file is empty")
    if len(head) < 4:
        raise ValueError(f"read_idx: {path}: truncated header ({len(head)} of 4 bytes)")
    if head[:2] != b"\0\0":
        raise ValueError(f"read_idx: {path}: bad magic number 0x{head.hex()}; an IDX file "
                         "starts with two zero bytes")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {path}: unknown element type code 0x{code:02X} "
                         f"(known: {known})")
    if not 1 <= ndim <= MAX_NDIM:
        raise ValueError(f"read_idx: {path}: the header declares {ndim} dimensions; "
                         f"read_idx reads 1 to {MAX_NDIM}")
    sizes = _read_exact(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"read_idx: {path}: truncated header ({len(sizes)} of {4 * ndim} "
                         "bytes of dimension sizes)")
    shape = tuple(int(n) for n in np.frombuffer(sizes, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize
    check_size(4 + 4 * ndim + nbytes)

    out = np.empty(shape, dtype=dtype)
    view = memoryview(out.reshape(-1).view(np.uint8))
    pos = 0
    while pos < nbytes:
        n = f.readinto(view[pos:pos + _CHUNK])
        if not n:
            raise ValueError(f"read_idx: {path}: truncated data: shape {shape} of "
                             f"{dtype.newbyteorder('=')} needs {nbytes} bytes, found {pos}")
        pos += n
    if f.read(1):
        raise ValueError(f"read_idx: {path}: extra bytes after the {nbytes} bytes of data "
                         f"that shape {shape} of {dtype.newbyteorder('=')} needs")
    if not dtype.isnative:
        out.byteswap(inplace=True)
        out = out.view(dtype.newbyteorder())
    return out


def _read_exact(f, n):
    """Up to ``n`` bytes from ``f``, fewer only at the end of the stream."""
    chunks, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _check_length(path, expected, actual):
    """Refuse a plain file whose length differs from what its header declares."""
    if actual < expected:
        raise ValueError(f"read_idx: {path}: truncated: the header declares {expected} bytes "
                         f"in all but the file has {actual}")
    if actual > expected:
        raise ValueError(f"read_idx: {path}: {actual - expected} extra bytes: the header "
                         f"declares {expected} bytes in all but the file has {actual}")


def _check_gzip_bound(path, expected, compressed_size):
    """Refuse a gzip file too small to decompress to the size its header declares."""
    if expected > _MAX_GZIP_RATIO * compressed_size + _CHUNK:
        raise ValueError(f"read_idx: {path}: truncated: the header declares {expected} bytes "
                         f"but {compressed_size} bytes of gzip cannot hold that many")
