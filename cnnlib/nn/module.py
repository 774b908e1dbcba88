"""The Module base class, with the gradient contract, and the Sequential container."""

import threading
from contextlib import contextmanager

import numpy as np

from cnnlib.checks import check_real


_grad_mode = threading.local()


def is_grad_enabled():
    """False inside :func:`no_grad` (in this thread): layers then keep nothing for backward."""
    return getattr(_grad_mode, "enabled", True)


def check_kept(layer, kept):
    """Refuse ``layer.backward`` when its latest forward kept nothing (``kept`` is None)."""
    if kept is None:
        raise RuntimeError(f"{layer.name}.backward: the latest forward ran under "
                           f"cnnlib.no_grad(), which keeps nothing for backward")


@contextmanager
def no_grad():
    """Forward passes in this block keep nothing for backward, as in ``torch.no_grad()``.

    Inference (``cnnlib.train.predict``) runs this way: a convolution then
    neither copies its input nor holds on to its unrolled rows. A layer that
    would need them refuses ``backward`` after such a forward. The setting
    belongs to the calling thread.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> conv = cnnlib.Conv2d(1, 2, 3, rng=np.random.default_rng(0))
    >>> with cnnlib.no_grad():
    ...     y = conv.forward(np.zeros((1, 1, 5, 5)))
    >>> y.shape
    (1, 2, 3, 3)
    """
    before = is_grad_enabled()
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = before


class Module:
    """A layer: ``forward(x) -> y`` caches what ``backward(dy) -> dx`` needs.

    Gradient contract
    -----------------
    ``backward`` *writes* the gradients of the latest ``forward`` into
    ``grads``; it never adds to what was there. A loop of forward, loss,
    backward and optimiser step therefore trains correctly with or without
    ``zero_grad``. ``zero_grad`` sets every gradient to zero, so a step taken
    after it and before the next backward moves the weights only through
    momentum or weight decay; it exists so that PyTorch-style loops run
    unchanged. Because a second use of a layer in one model would overwrite
    the gradient of the first, a layer object may appear only once in a
    model, and containers refuse a repeat when they are built.

    Other contracts: ``backward`` refers to the most recent ``forward``,
    refuses to run before one, and refuses a ``dy`` whose shape differs from
    the output's. A layer never keeps a reference to an array the caller may
    change in place. Inputs must be real numbers; layers with parameters
    convert integer input to their dtype and refuse floats of another
    precision, so a float32 model never silently computes in float64; for the
    same reason ``backward`` refuses a float ``dy`` of another precision than
    the output's, as PyTorch does (an integer ``dy`` is converted).

    Non-finite values: a layer computes with NaN and infinity as IEEE
    arithmetic does, as PyTorch's layers do; only a layer that writes
    statistics of its input into its state (BatchNorm2d in training mode)
    refuses them, so that one bad batch cannot corrupt the model.

    Subclasses implement ``_forward`` and ``_backward``, keep their arrays in
    ``_params``/``_grads``/``_buffers`` and their sub-layers in
    ``_children`` (through :meth:`add`). The public ``params``, ``grads``
    and ``buffers`` flatten children with dotted keys ("0.weight"), as
    PyTorch's ``state_dict`` does; the arrays are shared, not copied, so an
    optimiser that updates them in place updates the layer.
    """

    dtype = None
    """The parameters' dtype, or None for a layer without parameters."""

    def __init__(self):
        self._params, self._grads, self._buffers = {}, {}, {}
        self._children = {}
        self.training = True
        self._out_shape = None
        self._out_dtype = None

    def __call__(self, x):
        return self.forward(x)

    @property
    def name(self):
        return type(self).__name__

    def forward(self, x):
        """Validate ``x``, compute the output and remember its shape for ``backward``."""
        y = self._forward(self._input(x))
        self._out_shape, self._out_dtype = y.shape, y.dtype
        return y

    def backward(self, dy):
        """Gradient with respect to the input of the latest ``forward``; fills ``grads``."""
        if self._out_shape is None:
            raise RuntimeError(f"{self.name}.backward called before forward")
        dy = check_real(f"{self.name}.backward", dy, "gradient")
        if dy.shape != self._out_shape:
            raise ValueError(f"{self.name}.backward: gradient has shape {dy.shape} but the "
                             f"output had {self._out_shape}")
        return self._backward(self._match_dtype(dy))

    def _match_dtype(self, dy):
        """``dy`` in the output's dtype: integers are converted, other floats refused."""
        want = getattr(self, "_out_dtype", None)
        if want is None or dy.dtype == want:
            return dy
        if dy.dtype.kind == "f" and want.kind == "f":
            raise TypeError(f"{self.name}.backward: gradient is {dy.dtype} but the output was "
                            f"{want}; convert with dy.astype(np.{want.name}), so that the "
                            f"gradients keep the layer's precision")
        return dy.astype(want)

    def _input(self, x):
        """``x`` as a real array; converted to ``dtype`` when the layer has one."""
        x = check_real(self.name, x)
        if self.dtype is None:
            return x
        if x.dtype.kind == "f" and x.dtype != self.dtype:
            raise TypeError(
                f"{self.name}: input is {x.dtype} but the layer's parameters are "
                f"{self.dtype}; convert with x.astype(np.{self.dtype.name})")
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def _forward(self, x):
        raise NotImplementedError

    def _backward(self, dy):
        raise NotImplementedError

    def add(self, name, child):
        """Register ``child`` as a sub-layer, refusing a layer already in this model."""
        if not isinstance(child, Module):
            raise TypeError(f"{self.name}: {name!r} is {type(child).__name__}, not a Module")
        mine = {id(m) for m in self.modules()}
        for m in child.modules():
            if id(m) in mine:
                raise ValueError(
                    f"{self.name}: the same {m.name} object appears twice in one model (as "
                    f"{name!r}); a layer may be used once, because backward writes its "
                    f"gradient rather than adding to it. Build a second layer instead")
            mine.add(id(m))
        self._children[name] = child
        return child

    def modules(self):
        """This module and every sub-module, depth first."""
        yield self
        for child in self._children.values():
            yield from child.modules()

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
        self.training = bool(mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self):
        """Switch to evaluation mode."""
        return self.train(False)

    def zero_grad(self):
        """Set every gradient to zero (see the gradient contract above)."""
        for g in self.grads.values():
            g[...] = 0

    def num_params(self):
        """Total number of learnable scalars."""
        return sum(p.size for p in self.params.values())

    def out_shape(self, in_shape):
        """Output shape for an input of shape ``in_shape``; shape-preserving by default.

        Raises ValueError, naming the layer, when ``in_shape`` does not fit.
        """
        return tuple(in_shape)

    def macs(self, in_shape):
        """Multiply-accumulates of one forward pass on ``in_shape``."""
        return 0

    def windows(self):
        """(kernel, stride, dilation) along one axis of each sliding window, in order.

        What receptive-field tracking needs: a layer without a window
        returns ``[]``; a container returns its children's along the main path.
        """
        return []

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{self.name}({self.extra_repr()})"


class Sequential(Module):
    """Layers applied one after another; indexable like a list.

    Parameters
    ----------
    *layers : Module

    Slicing gives a ``Sequential`` of the same layer objects, as in PyTorch.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> net = cnnlib.Sequential(cnnlib.Conv2d(1, 4, 3, rng=rng), cnnlib.ReLU(), cnnlib.Flatten())
    >>> net.forward(np.zeros((2, 1, 5, 5))).shape
    (2, 36)
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Module")
            self.add(str(i), layer)

    def __getitem__(self, i):
        layers = list(self._children.values())
        if isinstance(i, slice):
            return Sequential(*layers[i])
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"Sequential: index must be an int or a slice, got {i!r}")
        if not -len(layers) <= i < len(layers):
            raise IndexError(f"Sequential: index {i} is out of range for {len(layers)} layers")
        return layers[i]

    def __len__(self):
        return len(self._children)

    def __iter__(self):
        return iter(self._children.values())

    def forward(self, x):
        y = x
        for layer in self:
            y = layer.forward(y)
        self._out_shape = np.shape(y)
        return y

    def backward(self, dy):
        layers = list(self)
        for i, layer in enumerate(layers[1:], start=1):
            if not getattr(layer, "needs_input_grad", True):
                raise ValueError(
                    f"Sequential: layer {i} ({layer.name}) has needs_input_grad=False but is "
                    f"not the first layer; the layers before it need its input gradient")
        if self._out_shape is None:
            raise RuntimeError("Sequential.backward called before forward")
        for layer in reversed(layers):
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

    def windows(self):
        return [w for layer in self for w in layer.windows()]

    def __repr__(self):
        return _container_repr(self)


def _container_repr(container):
    """``Name(`` then one indented line per child (nested containers indented further), ``)``."""
    lines = []
    for name, child in container._children.items():
        text = repr(child).replace("\n", "\n  ")
        lines.append(f"  ({name}): {text}")
    return f"{container.name}(\n" + "\n".join(lines) + "\n)"
