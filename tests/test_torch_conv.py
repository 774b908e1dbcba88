"""Grouped, dilated and transposed convolution, adaptive pooling and the bottleneck against PyTorch.

Random configurations, forward and backward, in float64 to 1e-11; skipped
when torch is not installed.
"""

import numpy as np
import pytest

import cnnlib

torch = pytest.importorskip("torch")
tF = torch.nn.functional
ATOL = 1e-11


def t(a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)


def conv_configs(count, seed=0):
    """Random (x shape, layer arguments) that PyTorch accepts."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 2, 3, 4]))
        c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 4, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 4, 2))
        size = tuple(int(n) for n in rng.integers(1, 12, 2))
        reach = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        if any(n + 2 * p < r for n, p, r in zip(size, padding, reach)):
            continue
        configs.append(((int(rng.integers(1, 4)), c_in, *size),
                        dict(in_channels=c_in, out_channels=c_out, kernel_size=kernel,
                             stride=stride, padding=padding, dilation=dilation, groups=groups)))
    return configs


@pytest.mark.parametrize("x_shape, kwargs", conv_configs(40))
def test_conv2d_random_configurations(x_shape, kwargs):
    rng = np.random.default_rng(1)
    layer = cnnlib.Conv2d(**kwargs, rng=rng)
    layer.params["bias"][...] = rng.standard_normal(kwargs["out_channels"])
    x = rng.standard_normal(x_shape)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    tx, tw, tb = t(x, True), t(layer.params["weight"], True), t(layer.params["bias"], True)
    ty = tF.conv2d(tx, tw, tb, **{k: kwargs[k] for k in ("stride", "padding", "dilation",
                                                          "groups")})
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.grads["weight"], tw.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.grads["bias"], tb.grad.numpy(), atol=ATOL)


def transpose_configs(count, seed=2):
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(count):
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        padding = tuple(int(rng.integers(0, k)) // 2 for k in kernel)
        output_padding = tuple(int(rng.integers(0, s)) for s in stride)
        size = tuple(int(n) for n in rng.integers(1, 8, 2))
        configs.append(((int(rng.integers(1, 4)), int(rng.integers(1, 5)), *size),
                        dict(out_channels=int(rng.integers(1, 5)), kernel_size=kernel,
                             stride=stride, padding=padding, output_padding=output_padding)))
    return configs


@pytest.mark.parametrize("x_shape, kwargs", transpose_configs(30))
def test_conv_transpose2d_random_configurations(x_shape, kwargs):
    rng = np.random.default_rng(3)
    layer = cnnlib.ConvTranspose2d(x_shape[1], **kwargs, rng=rng)
    layer.params["bias"][...] = rng.standard_normal(kwargs["out_channels"])
    x = rng.standard_normal(x_shape)
    tx, tw, tb = t(x, True), t(layer.params["weight"], True), t(layer.params["bias"], True)
    ty = tF.conv_transpose2d(tx, tw, tb, **{k: kwargs[k] for k in ("stride", "padding",
                                                                    "output_padding")})
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.grads["weight"], tw.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.grads["bias"], tb.grad.numpy(), atol=ATOL)


@pytest.mark.parametrize("size, out", [((7, 5), 1), ((7, 5), 3), ((6, 6), (2, 4)),
                                       ((5, 9), (7, 2)), ((13, 13), 6)])
def test_adaptive_avg_pool(size, out):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, *size))
    layer = cnnlib.AdaptiveAvgPool2d(out)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    tx = t(x, True)
    ty = tF.adaptive_avg_pool2d(tx, out)
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), atol=ATOL)


def test_linear_without_bias():
    rng = np.random.default_rng(5)
    layer = cnnlib.Linear(4, 3, bias=False, rng=rng)
    twin = torch.nn.Linear(4, 3, bias=False).double()
    twin.load_state_dict({"weight": t(layer.params["weight"])})
    x = rng.standard_normal((5, 4))
    dy = rng.standard_normal((5, 3))
    tx = t(x, True)
    twin(tx).backward(t(dy))
    np.testing.assert_allclose(layer.forward(x), twin(t(x)).detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(layer.grads["weight"], twin.weight.grad.numpy(), atol=ATOL)


def torch_bottleneck(block):
    """torchvision's Bottleneck, written out, with the weights of cnnlib's ``block``."""
    nn = torch.nn
    c, width, out = block.channels, block.width, block.out_channels
    body = nn.Sequential(nn.Conv2d(c, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, width, 3, block.stride, 1, bias=False),
                         nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out)).double()
    names = ["conv1", "bn1", None, "conv2", "bn2", None, "conv3", "bn3"]
    for name, layer in zip(names, body):
        for key, value in (block._children[name].params.items() if name else ()):
            getattr(layer, key).data = t(value)
    shortcut = None
    if block.shortcut is not None:
        shortcut = nn.Sequential(nn.Conv2d(c, out, 1, block.stride, bias=False),
                                 nn.BatchNorm2d(out)).double()
        for layer, name in zip(shortcut, ("proj", "proj_bn")):
            for key, value in block._children[name].params.items():
                getattr(layer, key).data = t(value)
    return body, shortcut


@pytest.mark.parametrize("channels, width, stride", [(16, 4, 1), (8, 4, 2), (16, 8, 1)])
def test_bottleneck_block(channels, width, stride):
    rng = np.random.default_rng(6)
    block = cnnlib.Bottleneck(channels, width, stride=stride, rng=rng)
    body, shortcut = torch_bottleneck(block)
    x = rng.standard_normal((2, channels, 6, 6))
    y = block.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = block.backward(dy)
    tx = t(x, True)
    ty = torch.relu(body(tx) + (tx if shortcut is None else shortcut(tx)))
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL)
    names = ["conv1", "bn1", None, "conv2", "bn2", None, "conv3", "bn3"]
    twins = {f"{name}.{key}": getattr(layer, key)
             for name, layer in zip(names, body) if name
             for key in block._children[name].params}
    if shortcut is not None:
        twins.update({f"{name}.{key}": getattr(layer, key)
                      for name, layer in zip(("proj", "proj_bn"), shortcut)
                      for key in block._children[name].params})
    assert set(twins) == set(block.grads) and len(twins) >= 9
    for key, twin in twins.items():
        np.testing.assert_allclose(block.grads[key], twin.grad.numpy(), atol=ATOL, err_msg=key)


def test_branches_concatenate_like_torch_cat():
    rng = np.random.default_rng(9)
    a = cnnlib.Conv2d(3, 4, 1, rng=rng)
    b = cnnlib.Conv2d(3, 2, 3, padding=2, dilation=2, rng=rng)
    block = cnnlib.Branches(a, b, cnnlib.Identity())
    x = rng.standard_normal((2, 3, 6, 6))
    y = block.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = block.backward(dy)
    tx = t(x, True)
    wa, wb = t(a.params["weight"], True), t(b.params["weight"], True)
    ty = torch.cat([tF.conv2d(tx, wa, t(a.params["bias"])),
                    tF.conv2d(tx, wb, t(b.params["bias"]), padding=2, dilation=2), tx], dim=1)
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(block.grads["1.weight"], wb.grad.numpy(), atol=ATOL)


# one case per path of cnnlib.nn.conv_engine: x shape, w shape, stride, padding, dilation, groups
ENGINE_PATHS = {
    "patch matrix, scatter": ((2, 3, 12, 11), (4, 3, 7, 7), 2, 3, 1, 1),
    "kernel rows, correlation": ((2, 32, 7, 6), (8, 16, 3, 3), 1, 3, 1, 2),
    "kernel rows, correlation, unpadded": ((2, 16, 7, 9), (6, 16, 5, 5), 1, 0, 1, 1),
    "kernel rows, scatter": ((2, 16, 8, 7), (6, 16, 3, 2), 2, 1, (1, 2), 1),
    "depthwise": ((2, 6, 9, 9), (6, 1, 3, 3), 2, 1, 2, 6),
    "depthwise rows, correlation": ((2, 6, 9, 8), (6, 1, 5, 5), 1, 1, (1, 2), 6),
}


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("case", ENGINE_PATHS.values(), ids=ENGINE_PATHS.keys())
def test_every_engine_path_matches_torch(case, dtype, tol):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(10)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = cnnlib.functional.conv2d(x, w, b, chunk_bytes=2 ** 12, **kw)
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = cnnlib.functional.conv2d_backward(dy, x, w, chunk_bytes=2 ** 12, **kw)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    ty = tF.conv2d(tx, tw, tb, **kw)
    ty.backward(t(dy))
    for ours, theirs in zip((y, *grads), (ty, tx.grad, tw.grad, tb.grad)):
        theirs = theirs.detach().numpy()
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * np.abs(theirs).max())
