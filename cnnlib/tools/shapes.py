"""Dimension tracking: output shapes, parameter counts, MACs, memory, receptive field."""

import math
from dataclasses import dataclass

import numpy as np

from cnnlib.checks import check_shape
from cnnlib.nn.layers import Flatten
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.windows import grow_receptive_field


@dataclass
class LayerRow:
    """One line of a model summary."""

    name: str
    layer: str
    out_shape: tuple
    params: int
    params_no_bias: int
    macs: int
    act_bytes: int


@dataclass
class Summary:
    """Per-layer rows and totals for one input shape."""

    input_shape: tuple
    rows: list

    @property
    def total_params(self):
        return sum(r.params for r in self.rows)

    @property
    def total_params_no_bias(self):
        return sum(r.params_no_bias for r in self.rows)

    @property
    def total_macs(self):
        return sum(r.macs for r in self.rows)

    @property
    def total_act_bytes(self):
        return sum(r.act_bytes for r in self.rows)

    def table(self):
        """The summary as fixed-width text, each column as wide as its longest entry."""
        head = ("layer", "output shape", "params", "no bias", "MACs", "activations")
        body = [("input", str(self.input_shape), "", "", "", "")]
        body += [(f"{r.name} {r.layer}", str(r.out_shape), f"{r.params:,}",
                  f"{r.params_no_bias:,}", f"{r.macs:,}", _bytes(r.act_bytes)) for r in self.rows]
        total = ("total", "", f"{self.total_params:,}", f"{self.total_params_no_bias:,}",
                 f"{self.total_macs:,}", _bytes(self.total_act_bytes))
        widths = [max(len(row[i]) for row in [head, *body, total]) for i in range(len(head))]

        def line(row):
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
            return "  ".join(cells).rstrip()
        rule = "-" * len(line(head))
        return "\n".join([line(head), rule, *map(line, body), rule, line(total)])

    def __str__(self):
        return self.table()


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _layers(model):
    if isinstance(model, Sequential):
        return list(model._children.items())
    return [("0", model)]


def summary(model, input_shape, *, print_table=True, dtype=None):
    """Trace shapes through ``model`` without running it.

    Parameters
    ----------
    model : Module (usually a Sequential)
    input_shape : tuple
        (C, H, W) or (N, C, H, W); a missing batch axis means N = 1.
    print_table : bool
        Print the table as well as returning it.
    dtype : numpy dtype, optional
        For activation memory; defaults to the dtype of the first parameter.

    Returns
    -------
    Summary
        ``rows`` of LayerRow(name, layer, out_shape, params, params_no_bias,
        macs, act_bytes), and totals.

    Notes
    -----
    MACs are the multiply-accumulates of the layers that multiply weights
    with activations: convolutions, Linear layers and attention. Attention
    on N sequences of L tokens of width E counts its four projections and
    the two products between tokens, ``Q K^T`` and the weighted sum of the
    values: ``N (4 L E^2 + 2 L^2 E)``. Norms, activations, softmax, pooling
    and elementwise products (a squeeze-and-excitation gate, a layer scale)
    count zero. "no bias" leaves out the parameters whose name ends in
    "bias"; a class token or a positional embedding counts as a weight.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a cnnlib Module, got {type(model).__name__}")
    shape = check_shape("summary: input_shape", input_shape)
    if len(shape) in (1, 3):
        shape = (1,) + shape
    if dtype is None:
        first = next(iter(model.params.values()), np.zeros(0))
        dtype = first.dtype
    itemsize = np.dtype(dtype).itemsize
    rows, in_shape = [], shape
    for name, layer in _layers(model):
        try:
            out = layer.out_shape(in_shape)
        except ValueError as e:
            raise ValueError(f"summary: layer {name} ({layer.name}) does not fit the shape "
                             f"{tuple(in_shape)} it receives: {e}") from None
        params = layer.params
        total = sum(p.size for p in params.values())
        no_bias = sum(p.size for k, p in params.items() if not k.endswith("bias"))
        rows.append(LayerRow(name, type(layer).__name__, tuple(out), total, no_bias,
                             layer.macs(in_shape), int(np.prod(out)) * itemsize))
        in_shape = out
    result = Summary(shape, rows)
    if print_table:
        print(result.table())
    return result


def receptive_field(model, input_shape=None):
    """Receptive-field size and jump after each layer, along one axis (the height).

    A window of size k, stride s and dilation d spans ``d (k - 1) + 1``
    positions of the previous layer, which lie j input pixels apart, so it
    turns (size r, jump j) into (r + d (k - 1) j, j s). A transposed
    convolution first refines the grid (jump j / s, a Fraction) and then
    slides its kernel with stride 1 on it. Adaptive average pooling's window
    depends on its input size, so a model with one needs ``input_shape``;
    its longest window and mean step are used. After a ``Flatten``, a layer
    with weights (a Linear) reads every input position, so its size is the
    whole input height (``math.inf`` when ``input_shape`` is not given); so
    does a layer with ``global_receptive_field = True`` (attention, a
    squeeze-and-excitation gate), and every layer after it.

    Parameters
    ----------
    model : Module (usually a Sequential)
    input_shape : tuple, optional
        (C, H, W) or (N, C, H, W); needed only for adaptive pooling.

    Returns
    -------
    list of (name, layer_type, size, jump), starting with ("input", "", 1, 1)

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> net = cnnlib.Sequential(cnnlib.Conv2d(1, 1, 3, rng=rng),
    ...                         cnnlib.Conv2d(1, 1, 3, dilation=2, rng=rng))
    >>> [row[2] for row in receptive_field(net)]
    [1, 3, 7]
    """
    if not isinstance(model, Module):
        raise TypeError(f"receptive_field: model must be a cnnlib Module, got "
                        f"{type(model).__name__}")
    rows = [("input", "", 1, 1)]
    shape = None if input_shape is None else _with_batch(input_shape)
    whole = math.inf if shape is None else shape[2]
    flat = False
    for name, layer in _layers(model):
        flat = flat or isinstance(layer, Flatten)
        if (flat and layer.params) or getattr(layer, "global_receptive_field", False):
            flat = True  # from here on every unit sees the whole input
            rows.append((name, type(layer).__name__, whole, rows[-1][3]))
            if shape is not None:
                shape = layer.out_shape(shape)
            continue
        if shape is not None and hasattr(layer, "window_for"):
            windows = [(*layer.window_for(shape[2]), 1)]
        else:
            try:
                windows = layer.windows()
            except ValueError as e:
                raise ValueError(f"receptive_field: layer {name}: {e}") from None
        size, jump = grow_receptive_field(windows, rows[-1][2:])[-1]
        rows.append((name, type(layer).__name__, size, jump))
        if shape is not None:
            shape = layer.out_shape(shape)
    return rows


def _with_batch(shape):
    shape = tuple(shape)
    return (1,) + shape if len(shape) in (1, 3) else shape


def receptive_field_units(windows):
    """Which units of every layer feed unit 0 of the last layer, along one axis.

    Parameters
    ----------
    windows : list of (kernel, stride, dilation)
        The sliding windows in order, without padding; unit ``i`` of a layer
        reads units ``i * stride + m * dilation``, ``m = 0 .. kernel - 1``, of
        the one below.

    Returns
    -------
    units : list of ndarray of int
        ``units[0]`` holds the input pixels in the receptive field and
        ``units[-1]`` is ``[0]``; ``units[l]`` belongs to the output of layer l.
    """
    units = [np.array([0])]
    for kernel, stride, dilation in reversed(windows):
        below = (units[0][:, None] * stride + dilation * np.arange(kernel)).ravel()
        units.insert(0, np.unique(below))
    return units
