"""Export a cnnlib model to an ONNX file that onnxruntime runs, written atomically."""

import io
import warnings
from pathlib import Path

import numpy as np

from cnnlib.checks import check_path, check_shape
from cnnlib.io import atomic_write
from cnnlib.interop.convert import import_torch, to_torch
from cnnlib.nn.module import Module
from cnnlib.nn.pooling import adaptive_windows


def _averaging_matrix(n, out):
    """(out, n) float32 matrix whose row i averages window i of adaptive pooling."""
    starts, ends = adaptive_windows(n, out)
    cells = np.arange(n)
    inside = (cells >= starts[:, None]) & (cells < ends[:, None])
    return (inside / (ends - starts)[:, None]).astype(np.float32)


def _fixed_adaptive_pools(torch, tm, x):
    """Replace each AdaptiveAvgPool2d whose output size does not divide its input size
    (which the TorchScript exporter refuses) by the same pooling as two matrix products,
    ``y = A_h x A_w^T``, for the input size that ``x`` gives it."""
    seen = {}

    def remember(name):
        def hook(module, args):
            seen[name] = tuple(args[0].shape[2:])
        return hook

    hooks = [m.register_forward_pre_hook(remember(name)) for name, m in tm.named_modules()
             if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    with torch.no_grad():
        tm(x)
    for hook in hooks:
        hook.remove()

    class MatrixPool(torch.nn.Module):
        def __init__(self, a_h, a_w):
            super().__init__()
            self.register_buffer("a_h", torch.from_numpy(a_h), persistent=False)
            self.register_buffer("a_w_t", torch.from_numpy(a_w.T.copy()), persistent=False)

        def forward(self, x):
            return torch.matmul(torch.matmul(self.a_h, x), self.a_w_t)

    for name, (h, w) in seen.items():
        module = tm.get_submodule(name)
        oh, ow = (module.output_size if isinstance(module.output_size, tuple)
                  else (module.output_size,) * 2)
        if h % oh or w % ow:
            parent_name, _, leaf = name.rpartition(".")
            setattr(tm.get_submodule(parent_name), leaf,
                    MatrixPool(_averaging_matrix(h, oh), _averaging_matrix(w, ow)))


def export_onnx(model, path, input_shape, *, opset=17):
    """Write ``model`` as an ONNX graph (float32, evaluation mode) that onnxruntime runs.

    The model goes through :func:`~cnnlib.interop.to_torch` and PyTorch's
    TorchScript exporter (``torch.onnx.export(..., dynamo=False)``). That
    exporter works offline with torch alone; the default exporter of
    PyTorch 2.9 and later (``dynamo=True``) also needs the ``onnxscript``
    package and traces through ``torch.export``, slower and heavier for these
    small graphs. The TorchScript exporter refuses adaptive average pooling
    whose output size does not divide its input size, so those layers are
    exported as two matrix products with the same averaging windows.
    Multi-head attention is traced through PyTorch's unfused path (matrix
    products and a softmax; the fused kernel has no ONNX form), so vision
    transformers export too. The graph computes in float32 whatever the
    model's dtype, with batch norm using its running statistics and dropout
    off; its batch axis is dynamic (the class token is expanded to it).
    The file is written to a temporary file and renamed over ``path``.

    Parameters
    ----------
    model : cnnlib Module
        Left unchanged (the export works on a converted copy).
    path : str or os.PathLike
        Where to write the ``.onnx`` file.
    input_shape : tuple of int
        The shape of the input, as in :func:`cnnlib.summary`: (C, H, W) or
        (N, C, H, W) for images, (F,) or (N, F) for vectors, a missing batch
        axis meaning N = 1. The graph's input is named ``"input"`` and its
        output ``"output"``; N is only the example, any batch size runs.
    opset : int, default 17

    Returns
    -------
    Path
        Where the graph was written.

    Examples
    --------
    >>> import numpy as np, onnxruntime, cnnlib
    >>> from cnnlib.interop import export_onnx
    >>> model = cnnlib.models.digits_cnn(rng=np.random.default_rng(0)).eval()
    >>> path = export_onnx(model, "digits.onnx", (1, 8, 8))  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession(path)  # doctest: +SKIP
    >>> session.run(None, {"input": np.zeros((5, 1, 8, 8), np.float32)})[0].shape
    ... # doctest: +SKIP
    (5, 10)
    """
    name = "export_onnx"
    if not isinstance(model, Module):
        raise TypeError(f"{name}: model must be a cnnlib Module, got {type(model).__name__}")
    path = Path(check_path(name, path))
    shape = check_shape(f"{name}: input_shape", input_shape)
    if len(shape) in (1, 3):
        shape = (1,) + shape
    if not (isinstance(opset, int) and 7 <= opset <= 20):
        raise ValueError(f"{name}: opset must be an int from 7 to 20, got {opset!r}")
    torch = import_torch(name)
    tm = to_torch(model).float().eval()
    x = torch.zeros(shape)
    try:
        _fixed_adaptive_pools(torch, tm, x)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"{name}: the model does not run on input_shape {shape}: {e}") from None
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        # PyTorch's attention checks its shapes in Python; tracing fixes only those checks
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning,
                                module="torch.nn.functional")
        torch.onnx.export(tm, (x,), buffer, dynamo=False, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
