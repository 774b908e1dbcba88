"""cnnlib model -> torch.nn.Module: a registry of converters, one function per layer type.

A converter receives the cnnlib layer and its children, already converted
(a dict name -> torch module, in order), and returns an *empty* torch
module of the same structure: :func:`to_torch` then copies every parameter
and buffer by name, checks that the names and shapes agree, and sets each
module's train/eval mode. Adding a layer type is one decorated function::

    @register(cnnlib.GroupNorm)
    def _group_norm(layer, children):
        import torch
        return torch.nn.GroupNorm(layer.num_groups, layer.num_channels, layer.eps,
                                  layer.affine, dtype=torch_dtype(layer.dtype))

This module holds the classic layers and blocks; the modern ones (norms,
attention, upsampling, ConvNeXt, MobileNet and ViT blocks) are in
:mod:`cnnlib.interop.modern`.
"""

import functools
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np

from cnnlib.nn.blocks import Bottleneck, Branches, ResidualBlock
from cnnlib.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, Flatten,
                              GELU, Identity, Linear, LogSoftmax, MaxPool2d, ReLU)
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.norm import BatchNorm2d, Dropout

CONVERTERS = {}
"""cnnlib layer type -> converter ``f(layer, children) -> torch.nn.Module`` (exact types)."""


def register(layer_type):
    """Decorator that registers ``f(layer, children) -> torch.nn.Module`` for ``layer_type``.

    The lookup is by exact type, so a subclass with a forward of its own is
    never converted as its parent by mistake; register it separately.
    """
    if not (isinstance(layer_type, type) and issubclass(layer_type, Module)):
        raise TypeError(f"register: layer_type must be a cnnlib Module subclass, got "
                        f"{layer_type!r}")

    def decorate(fn):
        CONVERTERS[layer_type] = fn
        return fn
    return decorate


def import_torch(name):
    """``torch``, or an ImportError that says which function needed it and how to get it."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"{name} needs PyTorch: pip install 'cnnlib[reference]' "
                          f"({e})") from None
    return torch


def torch_dtype(dtype):
    """The torch dtype of a NumPy dtype (float64 -> torch.float64)."""
    torch = import_torch("torch_dtype")
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def to_torch(model):
    """The same network as a ``torch.nn.Module``, with copies of its weights and buffers.

    Parameter and buffer names equal cnnlib's keys, so
    ``dict(to_torch(m).named_parameters()).keys() == m.params.keys()`` and
    ``dict(to_torch(m).named_buffers()).keys() == m.buffers.keys()``; the
    arrays are copied (later changes to one side do not reach the other) and
    keep their dtype. Every module gets the train/eval mode of its cnnlib
    counterpart. Blocks whose children have names (``conv1``, ``proj``)
    become small ``torch.nn.Module`` subclasses with the same attribute
    names and the same forward.

    Batch norm: cnnlib keeps the number of batches seen as a plain attribute,
    not a buffer, so the converted layer (a subclass of
    ``torch.nn.BatchNorm2d``) keeps it as the int attribute
    ``batches_tracked`` and has no ``num_batches_tracked`` buffer. It updates
    the running statistics exactly like PyTorch's, ``momentum=None``
    (cumulative average) included, and its ``load_state_dict`` accepts the
    ``num_batches_tracked`` entries of PyTorch's batch norm, taking the count.

    Dropout becomes ``torch.nn.Dropout`` with the same ``p``; its masks come
    from PyTorch's generator, so in training mode the two agree only in
    distribution (exactly when ``p = 0``).

    GELU keeps its form (``approximate="tanh"`` or ``"none"``). Multi-head
    attention becomes a subclass of ``torch.nn.MultiheadAttention`` with
    ``batch_first=True`` whose ``forward(x)`` is the self-attention
    ``attention(x, x, x, need_weights=False)[0]``, with the same parameter
    names; ``LayerNorm2d`` becomes a ``torch.nn.LayerNorm`` over axis 1; the
    blocks of ConvNeXt, MobileNetV2 and the vision transformer keep their
    children's and parameters' names (``layer_scale``, ``class_token``,
    ``pos_embedding``, ...).

    Parameters
    ----------
    model : cnnlib Module
        Any composition of the registered layer types (see ``CONVERTERS``).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    TypeError
        ``model`` is not a cnnlib Module, or it contains a layer type without
        a converter (the message names the layer and where it sits).

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> from cnnlib.interop import to_torch
    >>> model = cnnlib.models.digits_cnn(rng=np.random.default_rng(0))
    >>> tm = to_torch(model)
    >>> list(dict(tm.named_parameters())) == list(model.params)
    True
    """
    torch = import_torch("to_torch")
    if not isinstance(model, Module):
        raise TypeError(f"to_torch: model must be a cnnlib Module, got {type(model).__name__}")
    tm = _convert(model, "model")
    _copy_state(torch, model, tm)
    return tm


def _convert(layer, path):
    converter = CONVERTERS.get(type(layer))
    if converter is None:
        known = ", ".join(sorted(t.__name__ for t in CONVERTERS))
        raise TypeError(f"to_torch: {path} is a {type(layer).__qualname__}, which has no "
                        f"converter to PyTorch; supported: {known}. Add one with "
                        f"cnnlib.interop.register")
    children = OrderedDict((name, _convert(child, f"{path}.{name}"))
                           for name, child in layer._children.items())
    tm = converter(layer, children)
    tm.training = layer.training
    return tm


def _copy_state(torch, model, tm):
    """Copy every cnnlib array into the torch module's tensor of the same name."""
    for kind, ours, theirs in (("parameters", model.params, dict(tm.named_parameters())),
                               ("buffers", model.buffers, dict(tm.named_buffers()))):
        if set(ours) != set(theirs):
            raise RuntimeError(f"to_torch: the converted module's {kind} do not match the "
                               f"model's: missing {sorted(set(ours) - set(theirs))}, extra "
                               f"{sorted(set(theirs) - set(ours))}")
        for key, array in ours.items():
            if tuple(theirs[key].shape) != array.shape:
                raise RuntimeError(f"to_torch: {key!r} is {array.shape} in the model but "
                                   f"{tuple(theirs[key].shape)} after conversion")
            owner_name, _, leaf = key.rpartition(".")
            owner = tm.get_submodule(owner_name)
            tensor = torch.from_numpy(np.array(array, order="C", copy=True))
            if kind == "parameters":
                tensor = torch.nn.Parameter(tensor)
            setattr(owner, leaf, tensor)


@functools.cache
def torch_classes():
    """The torch.nn.Module subclasses the converters build, defined on first use."""
    torch = import_torch("cnnlib.interop")

    class TorchBatchNorm2d(torch.nn.BatchNorm2d):
        """``torch.nn.BatchNorm2d`` with the batch count as the int ``batches_tracked``.

        The names of its buffers are cnnlib's (``running_mean``,
        ``running_var``); the count drives ``momentum=None``. Its
        ``load_state_dict`` takes the count from a ``num_batches_tracked``
        entry when there is one, such as PyTorch's own batch norm saves.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.num_batches_tracked = None

        def reset_running_stats(self):
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.batches_tracked = 0

        def _load_from_state_dict(self, state_dict, prefix, *args):
            count = state_dict.pop(prefix + "num_batches_tracked", None)
            if count is not None:
                self.batches_tracked = int(count)
            # skips _NormBase's step, which would add a num_batches_tracked entry
            torch.nn.Module._load_from_state_dict(self, state_dict, prefix, *args)

        def forward(self, x):
            self._check_input_dim(x)
            factor = 0.0
            if self.training:
                self.batches_tracked += 1
                factor = 1.0 / self.batches_tracked if self.momentum is None else self.momentum
            return torch.nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                self.training, factor, self.eps)

    class ShortcutBlock(torch.nn.Module):
        """``relu(body(x) + shortcut(x))``, running named children in the given orders."""

        def __init__(self, children, body, shortcut):
            super().__init__()
            for name, child in children.items():
                self.add_module(name, child)
            self.body, self.shortcut = tuple(body), tuple(shortcut)

        def forward(self, x):
            y, skip = x, x
            for name in self.body:
                y = getattr(self, name)(y)
            for name in self.shortcut:
                skip = getattr(self, name)(skip)
            return torch.relu(y + skip)

    class ResidualBlockTorch(ShortcutBlock):
        """cnnlib's ResidualBlock: conv-BN-ReLU-conv-BN plus the shortcut, then ReLU."""

    class BottleneckTorch(ShortcutBlock):
        """cnnlib's Bottleneck: 1x1-3x3-1x1 convolutions plus the shortcut, then ReLU."""

    class BranchesTorch(torch.nn.Module):
        """Runs every child on the input and concatenates the outputs along channels."""

        def __init__(self, children):
            super().__init__()
            for name, child in children.items():
                self.add_module(name, child)

        def forward(self, x):
            return torch.cat([branch(x) for branch in self.children()], dim=1)

    classes = {"BatchNorm2d": TorchBatchNorm2d, "ResidualBlock": ResidualBlockTorch,
               "Bottleneck": BottleneckTorch, "Branches": BranchesTorch,
               "ShortcutBlock": ShortcutBlock}
    for name, cls in classes.items():
        # cnnlib's name in a printed model; a module-level name that pickle can find
        cls.__name__, cls.__qualname__, cls.__module__ = name, f"Torch{name}", __name__
    return SimpleNamespace(**classes)


def __getattr__(name):
    """``TorchBatchNorm2d`` and the other classes, created on first access (for pickle)."""
    if name.startswith("Torch") and name[5:] in _TORCH_CLASS_NAMES:
        return getattr(torch_classes(), name[5:])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TORCH_CLASS_NAMES = ("BatchNorm2d", "ResidualBlock", "Bottleneck", "Branches", "ShortcutBlock")


def _nn():
    return import_torch("to_torch").nn


def _has_bias(layer):
    return "bias" in layer._params


@register(Conv2d)
def _conv2d(layer, children):
    return _nn().Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                        layer.padding, layer.dilation, layer.groups, bias=_has_bias(layer),
                        dtype=torch_dtype(layer.dtype))


@register(ConvTranspose2d)
def _conv_transpose2d(layer, children):
    return _nn().ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                 layer.stride, layer.padding, layer.output_padding,
                                 bias=_has_bias(layer), dtype=torch_dtype(layer.dtype))


@register(Linear)
def _linear(layer, children):
    return _nn().Linear(layer.in_features, layer.out_features, bias=_has_bias(layer),
                        dtype=torch_dtype(layer.dtype))


@register(MaxPool2d)
def _max_pool2d(layer, children):
    return _nn().MaxPool2d(layer.kernel_size, layer.stride, layer.padding,
                           ceil_mode=layer.ceil_mode)


@register(AvgPool2d)
def _avg_pool2d(layer, children):
    return _nn().AvgPool2d(layer.kernel_size, layer.stride, layer.padding,
                           ceil_mode=layer.ceil_mode)


@register(AdaptiveAvgPool2d)
def _adaptive_avg_pool2d(layer, children):
    return _nn().AdaptiveAvgPool2d(layer.output_size)


@register(BatchNorm2d)
def _batch_norm2d(layer, children):
    bn = torch_classes().BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum,
                                     dtype=torch_dtype(layer.dtype))
    bn.batches_tracked = layer.num_batches_tracked
    return bn


@register(Dropout)
def _dropout(layer, children):
    return _nn().Dropout(layer.p)


@register(ReLU)
def _relu(layer, children):
    return _nn().ReLU()


@register(GELU)
def _gelu(layer, children):
    return _nn().GELU(approximate=layer.approximate)


@register(LogSoftmax)
def _log_softmax(layer, children):
    return _nn().LogSoftmax(dim=-1)


@register(Flatten)
def _flatten(layer, children):
    return _nn().Flatten()


@register(Identity)
def _identity(layer, children):
    return _nn().Identity()


@register(Sequential)
def _sequential(layer, children):
    return _nn().Sequential(children)


def _shortcut_block(torch_type, layer, children):
    names = {id(child): name for name, child in layer._children.items()}
    body = [names[id(child)] for child in layer.body]
    shortcut = [] if layer.shortcut is None else [names[id(c)] for c in layer.shortcut]
    return torch_type(children, body, shortcut)


@register(ResidualBlock)
def _residual_block(layer, children):
    return _shortcut_block(torch_classes().ResidualBlock, layer, children)


@register(Bottleneck)
def _bottleneck(layer, children):
    return _shortcut_block(torch_classes().Bottleneck, layer, children)


@register(Branches)
def _branches(layer, children):
    return torch_classes().Branches(children)
