"""Save and load a model's parameters and buffers as .npz, atomically and never with pickle."""

import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cnnlib.checks import check_path, readable_by_all

_NPY_MAGIC = b"\x93NUMPY"
_HEADER_ALLOWANCE = 1 << 16  # an .npy header is at most 64 KiB


def npz_path(path):
    """``path`` as a Path ending in ``.npz``: the name both :func:`save_weights` and
    :func:`load_weights` use, so ``save_weights(m, "w")`` and ``load_weights(m, "w")`` agree."""
    path = Path(check_path("weights file", path))
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _state(model, name):
    if not hasattr(model, "params") or not hasattr(model, "buffers"):
        raise TypeError(f"{name}: model must be a cnnlib Module, got {type(model).__name__}")
    state = dict(model.params)
    state.update(model.buffers)
    return state


def save_weights(model, path):
    """Write every parameter and buffer of ``model`` to an uncompressed .npz file.

    The file is written to a temporary file in the same folder and then
    renamed over ``path``, so a full disk or an interrupted write leaves the
    previous checkpoint intact. A missing ``.npz`` suffix is added.

    Returns
    -------
    Path
        Where the weights were written.
    """
    state = {k: np.asarray(v) for k, v in _state(model, "save_weights").items()}
    return atomic_write(npz_path(path), lambda f: np.savez(f, **state))


def atomic_write(path, write, *, mode="wb"):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    A reader never sees a half-written file, and a failure (a full disk, an
    interrupted run) leaves the old file as it was. Returns ``path`` as a Path.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        readable_by_all(fd)
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _refuse(path, problem):
    return ValueError(f"load_weights: {path} {problem}")


def _read_header(path, zf, info):
    """(shape, dtype) from one member's .npy header, read before any of its data."""
    with zf.open(info) as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise _refuse(path, f"has a member {info.filename!r} that is not an .npy array")
    with zf.open(info) as f:
        try:
            major, _ = np.lib.format.read_magic(f)
            reader = (np.lib.format.read_array_header_1_0 if major == 1
                      else np.lib.format.read_array_header_2_0)
            shape, _, dtype = reader(f)
        except ValueError as e:
            raise _refuse(path, f"has a corrupted header for {info.filename!r}: {e}") from None
    return shape, dtype


def load_weights(model, path):
    """Copy arrays from a .npz file into ``model`` in place, all or nothing.

    Every member is checked before any parameter changes: it must be an
    ``.npy`` array whose key the model has, with the model's shape and a
    real number type that casts to the model's dtype without loss (no
    strings, complex, object or datetime arrays). Headers and declared sizes
    are read before any data is decompressed, so a huge or compressed-bomb
    member is refused unread. Pickled objects are never loaded.

    Raises
    ------
    FileNotFoundError
        No such file.
    KeyError
        A key is missing from the file, or the file has a key the model lacks.
    ValueError
        The file is not an .npz archive, is truncated or corrupted, or an
        array's shape or type does not fit; the message names the key.
    """
    state = _state(model, "load_weights")
    path = npz_path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_weights: no such file {path}")
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if not head:
        raise _refuse(path, "is empty")
    if head == _NPY_MAGIC:
        raise _refuse(path, "is a single .npy array, not an .npz archive of named arrays; "
                            "save with save_weights")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {}
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise _refuse(path, f"has a member {info.filename!r} that is not an "
                                        f".npy array")
                members[info.filename[:-4]] = info
            missing = sorted(set(state) - set(members))
            unexpected = sorted(set(members) - set(state))
            if missing:
                raise KeyError(f"load_weights: {path} has no array for {missing}")
            if unexpected:
                raise KeyError(f"load_weights: {path} has arrays the model lacks: "
                               f"{unexpected}")
            for key, target in state.items():
                info = members[key]
                if info.file_size > target.nbytes + _HEADER_ALLOWANCE:
                    raise _refuse(path, f"declares {info.file_size:,} bytes for {key!r}, more "
                                        f"than its {target.shape} array can need")
                shape, dtype = _read_header(path, zf, info)
                if dtype.kind not in "biuf" or dtype.hasobject:
                    raise _refuse(path, f"holds {key!r} as {dtype}, not real numbers")
                if not np.can_cast(dtype, target.dtype, casting="safe"):
                    raise _refuse(path, f"holds {key!r} as {dtype}, which cannot be cast to "
                                        f"the model's {target.dtype} without loss")
                if tuple(shape) != target.shape:
                    raise ValueError(f"load_weights: {key!r} has shape {tuple(shape)} in "
                                     f"{path} but {target.shape} in the model")
            arrays = {}
            for key in state:
                with zf.open(members[key]) as f:
                    try:
                        arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
                    except ValueError as e:
                        raise _refuse(path, f"has unreadable data for {key!r}: {e}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise _refuse(path, f"is not a readable .npz archive (truncated or corrupted: {e})") \
            from None
    for key, target in state.items():
        target[...] = arrays[key]
