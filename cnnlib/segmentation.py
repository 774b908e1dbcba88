"""Semantic segmentation: small FCN and U-Net builders, per-pixel cross-entropy and mean IoU."""

import time

import numpy as np

from cnnlib.checks import check_int, check_ndim, check_real
from cnnlib.losses import _Loss, check_labels
from cnnlib.nn import (BatchNorm2d, Branches, Conv2d, Identity, ReLU, Sequential, Upsample)
from cnnlib.nn.activations import log_softmax


def _conv_bn_relu(c_in, c_out, stride, rng, dtype):
    return [Conv2d(c_in, c_out, 3, stride, 1, bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(c_out, dtype=dtype), ReLU()]


def small_fcn(num_classes=11, *, rng, width=8, dtype=np.float32):
    """A fully convolutional network: a stride-4 encoder, a 1x1 classifier, bilinear upsampling x4.

    As FCN-32s of Long et al. (2015) in miniature: every pixel's class
    comes from the coarse map, so boundaries are at best as sharp as the
    stride-4 grid.

    Parameters
    ----------
    num_classes : int, default 11
        Background plus the 10 Fashion-MNIST classes of
        :func:`cnnlib.data.make_scenes`' masks.
    rng : numpy.random.Generator
    width : int, default 8
        Channels at full resolution; 2 and 4 times as many after each
        stride-2 stage.
    dtype : numpy float dtype, default float32

    Returns
    -------
    Sequential
        (N, 1, H, W) -> (N, num_classes, H, W); H and W multiples of 4.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.segmentation import small_fcn
    >>> small_fcn(3, rng=np.random.default_rng(0), width=4).forward(
    ...     np.zeros((1, 1, 16, 16), np.float32)).shape
    (1, 3, 16, 16)
    """
    num_classes = check_int("small_fcn: num_classes", num_classes)
    w = check_int("small_fcn: width", width)
    return Sequential(*_conv_bn_relu(1, w, 1, rng, dtype), *_conv_bn_relu(w, 2 * w, 2, rng, dtype),
                      *_conv_bn_relu(2 * w, 4 * w, 2, rng, dtype),
                      *_conv_bn_relu(4 * w, 4 * w, 1, rng, dtype),
                      Conv2d(4 * w, num_classes, 1, rng=rng, dtype=dtype),
                      Upsample(4, mode="bilinear"))


def small_unet(num_classes=11, *, rng, width=8, skips=True, dtype=np.float32):
    """A two-level U-Net (Ronneberger et al., 2015), with or without its skip connections.

    The encoder is :func:`small_fcn`'s; the decoder goes back up one
    octave at a time (nearest upsampling x2, then a 3x3 conv-BN-ReLU). With
    ``skips`` each decoder stage first stacks the encoder's maps of the same
    size beside its own (:class:`~cnnlib.Branches` with an
    :class:`~cnnlib.Identity` branch); without, it sees only what came up
    from the coarse map.

    Parameters
    ----------
    num_classes : int, default 11
    rng : numpy.random.Generator
    width : int, default 8
    skips : bool, default True
    dtype : numpy float dtype, default float32

    Returns
    -------
    Sequential
        (N, 1, H, W) -> (N, num_classes, H, W); H and W multiples of 4.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.segmentation import small_unet
    >>> net = small_unet(3, rng=np.random.default_rng(0), width=4, skips=False)
    >>> net.forward(np.zeros((1, 1, 16, 16), np.float32)).shape
    (1, 3, 16, 16)
    """
    num_classes = check_int("small_unet: num_classes", num_classes)
    w = check_int("small_unet: width", width)
    extra = 1 if skips else 0
    inner = Sequential(*_conv_bn_relu(2 * w, 4 * w, 2, rng, dtype),
                       *_conv_bn_relu(4 * w, 4 * w, 1, rng, dtype), Upsample(2))
    middle = Sequential(*_conv_bn_relu(w, 2 * w, 2, rng, dtype),
                        Branches(Identity(), inner) if skips else inner,
                        *_conv_bn_relu(4 * w + extra * 2 * w, 2 * w, 1, rng, dtype), Upsample(2))
    return Sequential(*_conv_bn_relu(1, w, 1, rng, dtype),
                      Branches(Identity(), middle) if skips else middle,
                      *_conv_bn_relu(2 * w + extra * w, w, 1, rng, dtype),
                      Conv2d(w, num_classes, 1, rng=rng, dtype=dtype))


class PixelCrossEntropyLoss(_Loss):
    """Softmax cross-entropy at every pixel, averaged over all pixels of the batch.

    ``forward(logits, target) -> float`` with logits (N, K, H, W) and target
    (N, H, W) ints in [0, K), as PyTorch's ``CrossEntropyLoss`` on those
    shapes; ``backward() -> dlogits`` = ``(softmax - onehot) / (N H W)``.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlib.segmentation import PixelCrossEntropyLoss
    >>> round(PixelCrossEntropyLoss().forward(np.zeros((1, 4, 2, 2)),
    ...                                       np.zeros((1, 2, 2), np.int64)), 4)
    1.3863
    """

    name = "PixelCrossEntropyLoss"

    def forward(self, logits, target):
        logits = check_real(self.name, logits, "logits")
        check_ndim(self.name, logits, 4, "(N, K, H, W)", "logits")
        n, k, h, w = logits.shape
        target = check_real(self.name, target, "target")
        if target.shape != (n, h, w):
            raise ValueError(f"{self.name}: target must have shape {(n, h, w)}, one class per "
                             f"pixel, got {target.shape}")
        flat = check_labels(self.name, target.reshape(-1), n * h * w, k).reshape(n, h, w)
        log_p = log_softmax(logits, axis=1)
        self._grad_parts = (log_p, flat)
        picked = np.take_along_axis(log_p, flat[:, None], axis=1)
        return float(-picked.sum() / max(n * h * w, 1))

    def _gradient(self):
        log_p, target = self._grad_parts
        grad = np.exp(log_p)
        np.put_along_axis(grad, target[:, None],
                          np.take_along_axis(grad, target[:, None], axis=1) - 1, axis=1)
        return grad / grad.dtype.type(max(target.size, 1))


def confusion(pred, target, num_classes):
    """Pixel counts ``m[t, p]`` of true class t predicted as p; (..., ) ints -> (K, K)."""
    num_classes = check_int("confusion: num_classes", num_classes)
    pred = np.asarray(pred, np.int64).ravel()
    target = np.asarray(target, np.int64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"confusion: pred has {pred.size} pixels but target {target.size}")
    for what, a in (("pred", pred), ("target", target)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"confusion: {what} must lie in [0, {num_classes - 1}]")
    return np.bincount(target * num_classes + pred,
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def mean_iou(pred, target, num_classes):
    """Mean over classes of ``|pred = c and target = c| / |pred = c or target = c|``.

    Pixels of the whole set are pooled per class before dividing (as
    PASCAL VOC and torchmetrics' ``MulticlassJaccardIndex`` do); classes
    absent from both ``pred`` and ``target`` are left out of the mean.

    Parameters
    ----------
    pred, target : int arrays of the same shape, values in [0, num_classes)
    num_classes : int

    Returns
    -------
    miou : float
    per_class : ndarray, shape (num_classes,)
        NaN for classes absent from both.

    Examples
    --------
    >>> from cnnlib.segmentation import mean_iou
    >>> mean_iou([0, 0, 1, 1], [0, 1, 1, 1], 2)[0]
    0.5833333333333333
    """
    m = confusion(pred, target, num_classes)
    inter = np.diag(m).astype(np.float64)
    union = m.sum(0) + m.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, inter / union, np.nan)
    return float(np.nanmean(per_class)), per_class


def boundary_pixels(masks):
    """Pixels with a 4-neighbour of another class: (N, H, W) ints -> (N, H, W) bool."""
    masks = check_real("boundary_pixels", masks, "masks")
    check_ndim("boundary_pixels", masks, 3, "(N, H, W)", "masks")
    edge = np.zeros(masks.shape, bool)
    down = masks[:, 1:] != masks[:, :-1]
    right = masks[:, :, 1:] != masks[:, :, :-1]
    edge[:, 1:] |= down
    edge[:, :-1] |= down
    edge[:, :, 1:] |= right
    edge[:, :, :-1] |= right
    return edge


def predict_masks(model, images, *, batch_size=100):
    """Per-pixel argmax classes (N, H, W) of ``model`` in evaluation mode; its mode is restored."""
    batch_size = check_int("predict_masks: batch_size", batch_size)
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model.forward(images[i:i + batch_size]).argmax(1)
                               for i in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)


def fit_segmenter(model, images, masks, optimizer, *, rng, steps, batch_size=16, progress=None):
    """Train ``model`` for ``steps`` steps of :class:`PixelCrossEntropyLoss` on random batches.

    Parameters
    ----------
    model : Module, (N, 1, H, W) -> (N, K, H, W)
    images : ndarray (n, 1, H, W)
    masks : int ndarray (n, H, W)
    optimizer : SGD or Adam on ``model``
    rng : numpy.random.Generator
    steps, batch_size : int
    progress : object with ``update()``, optional

    Returns
    -------
    history : dict
        ``"loss"`` per step and ``"seconds"``.
    """
    steps = check_int("fit_segmenter: steps", steps)
    batch_size = check_int("fit_segmenter: batch_size", batch_size)
    loss_fn = PixelCrossEntropyLoss()
    history, start = {"loss": []}, time.perf_counter()
    order, at = np.zeros(0, np.int64), 0
    model.train()
    for _ in range(steps):
        if at >= len(order):
            order, at = rng.permutation(len(images)), 0
        batch = order[at:at + batch_size]
        at += batch_size
        loss = loss_fn.forward(model.forward(images[batch]), masks[batch])
        model.backward(loss_fn.backward())
        optimizer.step()
        history["loss"].append(loss)
        if progress is not None:
            progress.update()
    history["seconds"] = time.perf_counter() - start
    return history
