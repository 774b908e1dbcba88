"""Load a PyTorch state dict (tensors or NumPy arrays) into a cnnlib model, all or nothing."""

from collections.abc import Mapping

import numpy as np

from cnnlib.nn.module import Module

_COUNT = "num_batches_tracked"


def _named_modules(module, prefix=""):
    yield prefix, module
    for name, child in module._children.items():
        yield from _named_modules(child, f"{prefix}{name}.")


def _as_array(value):
    """A tensor (any device, with or without grad) or array-like as a NumPy array."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def load_state_dict(model, state_dict):
    """Copy a PyTorch-style state dict into ``model``'s parameters and buffers, in place.

    Everything is checked before anything changes: the keys must be exactly
    the model's ``params`` and ``buffers`` keys (the names
    :func:`~cnnlib.interop.to_torch` gives, and PyTorch's for the same
    network), each value a real-valued tensor or array of the model's shape
    with finite values. Values are cast to the model's dtype (float64
    weights load into a float32 model, as ``torch.nn.Module.load_state_dict``
    does).

    ``<prefix>num_batches_tracked`` keys, which PyTorch's batch norm saves,
    are optional: when present, the count goes into the cnnlib layer's
    ``num_batches_tracked`` attribute (it drives ``momentum=None``); when
    absent, as in the state dict of a :func:`to_torch` module, whose batch
    norm keeps the count outside its buffers, the count is left alone.

    Parameters
    ----------
    model : cnnlib Module
    state_dict : mapping of str -> torch.Tensor or array-like

    Raises
    ------
    KeyError
        Keys are missing or unexpected; the message lists them all.
    ValueError
        A value has the wrong shape, is not real-valued, holds NaN or
        infinity (or overflows the model's dtype), or a batch count is not a
        non-negative integer; the message names every such key.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> from cnnlib.interop import load_state_dict
    >>> a = cnnlib.models.digits_cnn(rng=np.random.default_rng(0))
    >>> b = cnnlib.models.digits_cnn(rng=np.random.default_rng(1))
    >>> load_state_dict(b, {**a.params, **a.buffers})
    >>> bool(np.array_equal(a.params["0.weight"], b.params["0.weight"]))
    True
    """
    name = "load_state_dict"
    if not isinstance(model, Module):
        raise TypeError(f"{name}: model must be a cnnlib Module, got {type(model).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{name}: state_dict must be a mapping of names to tensors or arrays, "
                        f"got {type(state_dict).__name__}")
    bad_keys = sorted(repr(k) for k in state_dict if not isinstance(k, str))
    if bad_keys:
        raise TypeError(f"{name}: state_dict keys must be str, got {', '.join(bad_keys)}")
    targets = dict(model.params)
    targets.update(model.buffers)
    counters = {f"{prefix}{_COUNT}": m for prefix, m in _named_modules(model)
                if hasattr(m, _COUNT)}
    missing = sorted(set(targets) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(targets) - set(counters))
    if missing or unexpected:
        raise KeyError(f"{name}: the state dict does not match the model: missing "
                       f"{missing}, unexpected {unexpected}")

    values, counts, problems = {}, {}, []
    for key, target in targets.items():
        try:
            value = _as_array(state_dict[key])
        except (TypeError, ValueError, RuntimeError) as e:
            problems.append(f"{key!r} cannot be read as an array ({e})")
            continue
        if value.dtype.kind not in "iuf":
            problems.append(f"{key!r} has dtype {value.dtype}, not real numbers")
        elif value.shape != target.shape:
            problems.append(f"{key!r} has shape {value.shape} but the model's is "
                            f"{target.shape}")
        else:
            with np.errstate(over="ignore"):
                cast = value.astype(target.dtype)
            if not np.all(np.isfinite(cast)):
                where = ("holds NaN or infinite values" if not np.all(np.isfinite(value))
                         else f"overflows {target.dtype}")
                problems.append(f"{key!r} {where}")
            values[key] = cast
    for key in sorted(set(state_dict) & set(counters)):
        try:
            value = _as_array(state_dict[key])
        except (TypeError, ValueError, RuntimeError) as e:
            problems.append(f"{key!r} cannot be read as an array ({e})")
            continue
        if value.size != 1 or value.dtype.kind not in "iu" or int(value.reshape(())) < 0:
            problems.append(f"{key!r} must be one non-negative integer, got {value!r}")
        else:
            counts[key] = int(value.reshape(()))
    if problems:
        raise ValueError(f"{name}: nothing was loaded, because " + "; ".join(problems))

    for key, target in targets.items():
        target[...] = values[key]
    for key, count in counts.items():
        counters[key].num_batches_tracked = count
