"""The Module base class and the Sequential container."""

import numpy as np


class Module:
    """A layer: ``forward(x) -> y`` caches what ``backward(dy) -> dx`` needs.

    Subclasses keep their own arrays in ``_params``/``_grads``/``_buffers``
    and their sub-layers in ``_children``. The public ``params``, ``grads``
    and ``buffers`` dicts flatten children with dotted keys ("0.weight"), as
    PyTorch's ``state_dict`` does; the arrays are shared, not copied, so an
    optimiser that updates them in place updates the layer.
    """

    def __init__(self):
        self._params, self._grads, self._buffers = {}, {}, {}
        self._children = {}
        self.training = True

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def _collect(self, attr):
        out = dict(getattr(self, attr))
        for name, child in self._children.items():
            for key, value in child._collect(attr).items():
                out[f"{name}.{key}"] = value
        return out

    @property
    def params(self):
        """Learnable arrays by name."""
        return self._collect("_params")

    @property
    def grads(self):
        """Gradients from the last backward, same keys as ``params``."""
        return self._collect("_grads")

    @property
    def buffers(self):
        """Arrays that are saved with the model but not trained (running stats)."""
        return self._collect("_buffers")

    def train(self, mode=True):
        """Switch to training mode (or evaluation mode with ``mode=False``)."""
        self.training = mode
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self):
        """Switch to evaluation mode."""
        return self.train(False)

    def zero_grad(self):
        """Set every gradient to zero."""
        for g in self.grads.values():
            g[...] = 0

    def num_params(self):
        """Total number of learnable scalars."""
        return sum(p.size for p in self.params.values())

    def out_shape(self, in_shape):
        """Output shape for an input of shape ``in_shape``; shape-preserving by default."""
        return tuple(in_shape)

    def macs(self, in_shape):
        """Multiply-accumulates of one forward pass on ``in_shape``."""
        return 0

    def window(self):
        """(kernel, stride) along one axis for receptive-field tracking, or None."""
        return None

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """Layers applied one after another; indexable like a list.

    Parameters
    ----------
    *layers : Module
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Module")
            self._children[str(i)] = layer

    def __getitem__(self, i):
        return list(self._children.values())[i]

    def __len__(self):
        return len(self._children)

    def __iter__(self):
        return iter(self._children.values())

    def forward(self, x):
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(list(self)):
            dy = layer.backward(dy)
        return dy

    def out_shape(self, in_shape):
        for layer in self:
            in_shape = layer.out_shape(in_shape)
        return in_shape

    def macs(self, in_shape):
        total = 0
        for layer in self:
            total += layer.macs(in_shape)
            in_shape = layer.out_shape(in_shape)
        return total

    def __repr__(self):
        lines = [f"  ({name}): {layer!r}" for name, layer in self._children.items()]
        return "Sequential(\n" + "\n".join(lines) + "\n)"


def as_layer_input(name, x, dtype):
    """Return ``x`` as an array of the layer's dtype, refusing float mismatches.

    Integer and boolean inputs are converted; a float input of another
    precision is an error, so that a float32 model never silently runs in
    float64 (or loses precision the caller did not ask to lose).
    """
    x = np.asarray(x)
    if x.dtype.kind == "f" and x.dtype != dtype:
        raise TypeError(
            f"{name}: input is {x.dtype} but the layer's parameters are "
            f"{np.dtype(dtype)}; convert with x.astype(np.{np.dtype(dtype).name})")
    if x.dtype.kind in "biu":
        return x.astype(dtype)
    return x
