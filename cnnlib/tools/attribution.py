"""Attribution maps and how to compare them: gradients, saliency, occlusion, Grad-CAM, ranks."""

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_number, check_real, pair
from cnnlib.tools.inspect import (_batches, _evaluating, _images, _layer_index, _sequential,
                                  _targets)


def input_gradient(model, x, target, *, batch_size=256):
    """Gradient of one output of the model with respect to its input, image by image.

    Parameters
    ----------
    model : Module
        Maps (N, C, H, W) to (N, K). For the gradient of a class *score*,
        pass the network without its final LogSoftmax (``model[:-1]``).
    x : ndarray, shape (N, C, H, W)
    target : int or ndarray of int, shape (N,)
        Which output to differentiate, for every image or per image.
    batch_size : int

    Returns
    -------
    ndarray, shape (N, C, H, W), dtype of the model's computation
        ``d model(x)[n, target[n]] / d x[n]``, computed in evaluation mode.
    """
    name = "input_gradient"
    x = _images(name, x)
    batch_size = check_int(f"{name}: batch_size", batch_size)
    k = model.out_shape((1, *x.shape[1:]))[-1]
    target = _targets(name, target, len(x), k)
    grads = []
    with _evaluating(model):
        for part in _batches(len(x), batch_size):
            out = model.forward(x[part])
            dy = np.zeros_like(out)
            dy[np.arange(len(out)), target[part]] = 1
            grads.append(model.backward(dy))
    return np.concatenate(grads) if grads else np.zeros(x.shape)


def saliency(model, x, target, *, batch_size=256):
    """Saliency map of Simonyan et al. (2014): the largest ``|gradient|`` over the channels.

    Parameters and the model's output as for :func:`input_gradient`.

    Returns
    -------
    ndarray, shape (N, H, W)
    """
    return np.abs(input_gradient(model, x, target, batch_size=batch_size)).max(axis=1)


def gradient_times_input(model, x, target, *, batch_size=256):
    """Gradient times input, summed over the channels: a first-order share of the score.

    Parameters and the model's output as for :func:`input_gradient`.

    Returns
    -------
    ndarray, shape (N, H, W)
    """
    x = _images("gradient_times_input", x)
    return (input_gradient(model, x, target, batch_size=batch_size) * x).sum(axis=1)


def integrated_gradients(model, x, target, *, baseline=0.0, steps=32, batch_size=256):
    """Integrated gradients (Sundararajan et al., 2017) by the midpoint rule.

    The gradient is averaged at ``steps`` points along the straight line from
    ``baseline`` to ``x`` and multiplied by ``x - baseline``. The sum of the
    result over an image approaches ``model(x) - model(baseline)`` for the
    target output as ``steps`` grows (completeness).

    Parameters
    ----------
    model, x, target, batch_size
        As for :func:`input_gradient`.
    baseline : float or ndarray broadcastable to x
        The reference input, black (0) by default.
    steps : int

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    name = "integrated_gradients"
    x = _images(name, x, floating=True)
    steps = check_int(f"{name}: steps", steps)
    baseline = np.broadcast_to(np.asarray(baseline, dtype=x.dtype), x.shape)
    total = np.zeros(x.shape, dtype=np.float64)
    for alpha in (np.arange(steps) + 0.5) / steps:
        point = (baseline + x.dtype.type(alpha) * (x - baseline)).astype(x.dtype)
        total += input_gradient(model, point, target, batch_size=batch_size)
    return (total / steps * (x - baseline)).astype(x.dtype)


def occlusion(model, x, target, *, patch, stride=1, fill=0.0, probability=False,
              batch_size=256):
    """Occlusion sensitivity (Zeiler and Fergus, 2014): how much covering each spot costs.

    A ``patch`` x ``patch`` square of value ``fill`` is slid over each image
    with the given stride (over every channel), and the model is run on every
    occluded copy.

    Parameters
    ----------
    model : Module
        Maps (N, C, H, W) to (N, K).
    x : ndarray, shape (N, C, H, W)
    target : int or ndarray of int, shape (N,)
        The output to watch, for every image or per image.
    patch, stride : int
    fill : float
        The occluder's value; mid-grey (0.5) is visible on ink and paper alike.
    probability : bool
        The model outputs log-probabilities (it ends in LogSoftmax): compare
        the probabilities ``exp(output)`` instead of the outputs.
    batch_size : int

    Returns
    -------
    ndarray, shape (N, H', W') with ``H' = (H - patch) // stride + 1``
        Clean output minus occluded output for the target, with the patch's
        top-left corner at ``(i * stride, j * stride)``. Positive: the patch
        hid evidence for the target.
    """
    name = "occlusion"
    x = _images(name, x, floating=True)
    n, _, h, w = x.shape
    patch = check_int(f"{name}: patch", patch)
    stride = check_int(f"{name}: stride", stride)
    batch_size = check_int(f"{name}: batch_size", batch_size)
    fill = check_number(f"{name}: fill", fill)
    if patch > min(h, w):
        raise ValueError(f"{name}: patch {patch} is larger than the {h}x{w} images")
    k = model.out_shape((1, *x.shape[1:]))[-1]
    target = _targets(name, target, n, k)
    rows = np.arange(0, h - patch + 1, stride)
    cols = np.arange(0, w - patch + 1, stride)
    spots = [(r, c) for r in rows for c in cols]
    covered = np.empty((len(spots), *x.shape[1:]), dtype=x.dtype)
    drops = np.empty((n, len(spots)))
    with _evaluating(model):
        clean = _score(model.forward(x), target, probability)
        for i in range(n):
            covered[...] = x[i]
            for s, (r, c) in enumerate(spots):
                covered[s, :, r:r + patch, c:c + patch] = fill
            scores = np.concatenate([model.forward(covered[part])
                                     for part in _batches(len(spots), batch_size)])
            drops[i] = clean[i] - _score(scores, np.full(len(spots), target[i]), probability)
    return drops.reshape(n, len(rows), len(cols))


def _score(out, target, probability):
    score = out[np.arange(len(out)), target].astype(np.float64)
    return np.exp(score) if probability else score


def patches_to_pixels(maps, *, patch, stride=1, size):
    """Spread a per-patch map (such as :func:`occlusion`'s) back onto the pixels.

    Each pixel gets the mean value of the patches that cover it, and 0 if no
    patch does (a border the stride skipped).

    Parameters
    ----------
    maps : ndarray, shape (N, H', W')
    patch, stride : int
        As used to make ``maps``.
    size : (int, int) or int
        The images' height and width.

    Returns
    -------
    ndarray, shape (N, H, W)
    """
    name = "patches_to_pixels"
    maps = check_real(name, maps, "maps")
    check_ndim(name, maps, 3, "(N, H', W')", "maps")
    patch = check_int(f"{name}: patch", patch)
    stride = check_int(f"{name}: stride", stride)
    h, w = pair(size, f"{name}: size")
    if (maps.shape[1] - 1) * stride + patch > h or (maps.shape[2] - 1) * stride + patch > w:
        raise ValueError(f"{name}: a {maps.shape[1]}x{maps.shape[2]} map of {patch}-pixel "
                         f"patches at stride {stride} does not fit {h}x{w} images")
    total = np.zeros((len(maps), h, w))
    count = np.zeros((h, w))
    for i in range(maps.shape[1]):
        for j in range(maps.shape[2]):
            r, c = i * stride, j * stride
            total[:, r:r + patch, c:c + patch] += maps[:, i, j, None, None]
            count[r:r + patch, c:c + patch] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def grad_cam(model, x, target, *, layer, batch_size=256):
    """Grad-CAM (Selvaraju et al., 2017): where in a layer's maps the target's evidence lies.

    With ``A`` the output of ``model[layer]`` (N, F, h, w) and ``y`` the target
    output, each map is weighted by its average gradient,
    ``alpha_f = mean over (i, j) of dy / dA[f, i, j]``, and the map is
    ``ReLU(sum_f alpha_f A[f])``. For a network that ends in global average
    pooling and one Linear layer this is the class activation map of Zhou
    et al. (2016), divided by ``h * w`` and with its negative part removed.

    Parameters
    ----------
    model : Sequential
        Maps (N, C, H, W) to (N, K); pass the scores (without a final
        LogSoftmax), as for :func:`input_gradient`.
    x : ndarray, shape (N, C, H, W)
    target : int or ndarray of int, shape (N,)
    layer : int
        Index of the layer whose output is weighted; it must be (N, F, h, w)
        and come before the last layer.
    batch_size : int

    Returns
    -------
    ndarray, shape (N, h, w), at least 0
        Draw unit (i, j) over its receptive box (:func:`receptive_box`).
    """
    name = "grad_cam"
    model = _sequential(name, model)
    layer = _layer_index(name, model, layer)
    if layer == len(model) - 1:
        raise ValueError(f"{name}: layer must come before the model's last layer; "
                         f"got layer {layer} of {len(model)}")
    x = _images(name, x)
    batch_size = check_int(f"{name}: batch_size", batch_size)
    below, above = model[:layer + 1], model[layer + 1:]
    maps_shape = below.out_shape((1, *x.shape[1:]))
    if len(maps_shape) != 4:
        raise ValueError(f"{name}: layer {layer} ({model[layer].name}) gives outputs of "
                         f"shape {maps_shape}; expected feature maps (N, F, h, w)")
    target = _targets(name, target, len(x), model.out_shape((1, *x.shape[1:]))[-1])
    cams = []
    with _evaluating(model):
        for part in _batches(len(x), batch_size):
            maps = below.forward(x[part])
            out = above.forward(maps)
            dy = np.zeros_like(out)
            dy[np.arange(len(out)), target[part]] = 1
            alpha = above.backward(dy).mean(axis=(2, 3))
            cams.append(np.maximum(np.einsum("nf,nfij->nij", alpha, maps), 0))
    return np.concatenate(cams) if cams else np.zeros((0, *maps_shape[2:]))


def rank(a):
    """Ranks 1..n along the last axis; tied values share their average rank.

    Parameters
    ----------
    a : ndarray, shape (..., n)

    Returns
    -------
    ndarray of float64, shape (..., n)

    Examples
    --------
    >>> rank(np.array([10, 30, 20, 30]))
    array([1. , 3.5, 2. , 3.5])
    """
    a = check_real("rank", a)
    if a.ndim == 0:
        raise ValueError("rank: expected an array with at least one axis, got a scalar")
    shape, n = a.shape, a.shape[-1]
    flat = a.reshape(-1, n)
    order = np.argsort(flat, axis=1, kind="stable")
    ordered = np.take_along_axis(flat, order, axis=1)
    new_group = np.ones(flat.shape, dtype=bool)
    new_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    # number the runs of equal values across all rows, then average the positions in each run
    group = np.cumsum(new_group).reshape(flat.shape) - 1
    positions = np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), flat.shape)
    mean_rank = (np.bincount(group.ravel(), weights=positions.ravel())
                 / np.bincount(group.ravel()))
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, mean_rank[group], axis=1)
    return ranks.reshape(shape)


def spearman(a, b):
    """Spearman's rank correlation between two maps of each image.

    The Pearson correlation of the ranks (:func:`rank`) of the flattened maps.

    Parameters
    ----------
    a, b : ndarray, shape (N, ...), the same shape

    Returns
    -------
    ndarray, shape (N,), in [-1, 1]
        NaN for an image whose map is constant in ``a`` or ``b``.
    """
    a, b = check_real("spearman", a), check_real("spearman", b)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"spearman: a and b must have the same shape (N, ...), got "
                         f"{a.shape} and {b.shape}")
    ra = rank(a.reshape(len(a), -1))
    rb = rank(b.reshape(len(b), -1))
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    norm = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=1) / norm
