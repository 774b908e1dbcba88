"""Save and load a model's parameters and buffers as .npz, never with pickle."""

import numpy as np


def _state(model):
    state = dict(model.params)
    state.update(model.buffers)
    return state


def save_weights(model, path):
    """Write every parameter and buffer of ``model`` to an uncompressed .npz file."""
    np.savez(path, **{k: np.asarray(v) for k, v in _state(model).items()})


def load_weights(model, path):
    """Copy arrays from a .npz file into ``model`` in place.

    Every key and shape is checked before anything is changed, so a file
    that does not fit leaves the model untouched. Pickled objects are refused.

    Raises
    ------
    KeyError
        A key is missing from the file, or the file has a key the model lacks.
    ValueError
        A shape differs; the message names the key and both shapes.
    """
    state = _state(model)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    missing = sorted(set(state) - set(arrays))
    unexpected = sorted(set(arrays) - set(state))
    if missing:
        raise KeyError(f"load_weights: {path} has no array for {missing}")
    if unexpected:
        raise KeyError(f"load_weights: {path} has arrays the model lacks: {unexpected}")
    for key, target in state.items():
        if arrays[key].shape != target.shape:
            raise ValueError(
                f"load_weights: {key!r} has shape {arrays[key].shape} in {path} but "
                f"{target.shape} in the model")
    for key, target in state.items():
        target[...] = arrays[key]
