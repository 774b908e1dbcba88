"""The modern-blocks chapter's tiny U-Net, its two segmentation tasks, and the skip experiment.

Run as ``python -m cnnlib.book.segmentation`` to train the U-Net with and
without its skip connection on both tasks, once per seed, and write
``book/results/unet_skip.json``: the settings and, per task, network and
seed, the test IoU.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.book.cli import whole
from cnnlib.book.datasets import digits
from cnnlib.nn import (Branches, Conv2d, ConvTranspose2d, Identity, MaxPool2d, ReLU,
                       Sequential)
from cnnlib.optim import Adam
from cnnlib.segmentation import PixelCrossEntropyLoss, mean_iou
from cnnlib.train import train_step, write_json

TASKS = ("digits", "lines")
"""The two tasks: thick digit strokes in strong noise, and one-pixel lines in weaker noise."""


def noisy_digits(noise=0.6):
    """scikit-learn's digits enlarged to 16x16, with Gaussian noise, and their stroke masks.

    Each pixel of the 8x8 digit becomes a 2x2 block, so the mask (ink above
    one half) is constant on every 2x2 block that a stride-2 pool reads.

    Returns
    -------
    x_train (1437, 1, 16, 16), mask_train (1437, 16, 16), x_test (360, 1, 16, 16), mask_test
        Images are float64; masks are int64, 1 on a stroke.
    """
    d = digits()
    clean_train = np.kron(d["x_train"], np.ones((1, 1, 2, 2)))
    clean_test = np.kron(d["x_test"], np.ones((1, 1, 2, 2)))
    mask_train = (clean_train[:, 0] > 0.5).astype(np.int64)
    mask_test = (clean_test[:, 0] > 0.5).astype(np.int64)
    x_train = clean_train + noise * np.random.default_rng(1).standard_normal(clean_train.shape)
    x_test = clean_test + noise * np.random.default_rng(2).standard_normal(clean_test.shape)
    return x_train, mask_train, x_test, mask_test


def thin_lines(n, *, rng, size=16, lines=3):
    """``n`` images of ``lines`` straight lines, one pixel wide, at random places.

    Returns
    -------
    ndarray, shape (n, 1, size, size), float64: 1 on a line, 0 elsewhere
    """
    images = np.zeros((n, size, size))
    t = np.linspace(0.0, 1.0, 4 * size)
    for image in images:
        for _ in range(lines):
            start, end = rng.uniform(0, size - 1, 2), rng.uniform(0, size - 1, 2)
            rows, cols = np.rint(start[:, None] + (end - start)[:, None] * t).astype(int)
            image[rows, cols] = 1.0
    return images[:, None]


def noisy_lines(noise=0.3, n_train=1437, n_test=360):
    """Thin-line images with Gaussian noise and their masks, split as :func:`noisy_digits`."""
    clean_train = thin_lines(n_train, rng=np.random.default_rng(5))
    clean_test = thin_lines(n_test, rng=np.random.default_rng(6))
    x_train = clean_train + noise * np.random.default_rng(1).standard_normal(clean_train.shape)
    x_test = clean_test + noise * np.random.default_rng(2).standard_normal(clean_test.shape)
    return (x_train, clean_train[:, 0].astype(np.int64),
            x_test, clean_test[:, 0].astype(np.int64))


def task_data(task):
    """``noisy_digits()`` for ``"digits"``, ``noisy_lines()`` for ``"lines"``."""
    if task not in TASKS:
        raise ValueError(f"task_data: task must be one of {TASKS}, got {task!r}")
    return noisy_digits() if task == "digits" else noisy_lines()


def tiny_unet(rng, skip=True, c=8):
    """A one-level U-Net for (N, 1, H, W) images, H and W even; scores (N, 2, H, W).

    A 3x3 convolution to ``c`` maps, then a down-and-up path (2x2 max-pool,
    3x3 convolution to ``2c`` maps, 2x2 transposed convolution with stride 2
    back to ``c`` maps), concatenated with the full-resolution maps when
    ``skip`` is true, and a last 3x3 convolution to two scores per pixel.
    """
    down_up = Sequential(
        MaxPool2d(2), Conv2d(c, 2 * c, 3, padding=1, rng=rng), ReLU(),
        ConvTranspose2d(2 * c, c, 2, stride=2, rng=rng), ReLU())
    middle = Branches(Identity(), down_up) if skip else down_up
    return Sequential(Conv2d(1, c, 3, padding=1, rng=rng), ReLU(), middle,
                      Conv2d(2 * c if skip else c, 2, 3, padding=1, rng=rng))


def iou(pred, mask):
    """Intersection over union of the stroke class (1) of two 0/1 masks, pooled over all images.

    The foreground entry of :func:`cnnlib.segmentation.mean_iou` with two classes.

    Examples
    --------
    >>> iou([[1, 1], [0, 0]], [[1, 0], [1, 0]])
    0.3333333333333333
    """
    return float(mean_iou(pred, mask, 2)[1][1])


def train_segmenter(net, x, mask, *, seed, epochs=8, batch=32, lr=3e-3):
    """Train ``net`` with Adam on shuffled minibatches; returns the loss of every step."""
    r = np.random.default_rng(seed)
    opt, loss_fn, losses = Adam(net, lr=lr), PixelCrossEntropyLoss(), []
    for _ in range(epochs):
        order = r.permutation(len(x))
        for i in range(0, len(order), batch):
            b = order[i: i + batch]
            loss, _ = train_step(net, loss_fn, opt, x[b], mask[b])
            losses.append(loss)
    return np.array(losses)


def skip_run(task, seed, data=None):
    """Test IoU of the tiny U-Net with and without its skip, both from weights of ``seed``."""
    x_train, mask_train, x_test, mask_test = data if data is not None else task_data(task)
    out = {}
    for skip in (True, False):
        net = tiny_unet(np.random.default_rng(seed), skip=skip)
        train_segmenter(net, x_train, mask_train, seed=seed)
        out["skip" if skip else "no_skip"] = iou(net.forward(x_test).argmax(axis=1), mask_test)
    return out


def main(argv=None):
    """Parse the command line and run the experiment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/unet_skip.json", help="output file")
    parser.add_argument("--seeds", type=whole(1), default=5, help="seeds 0, 1, ..., SEEDS - 1")
    args = parser.parse_args(argv)
    record = {"settings": {"seeds": args.seeds, "epochs": 8, "batch": 32, "lr": 3e-3,
                           "digits_noise": 0.6, "lines_noise": 0.3}, "tasks": {}}
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        for task in TASKS:
            data = task_data(task)
            runs = []
            for seed in range(args.seeds):
                runs.append({"seed": seed, **skip_run(task, seed, data)})
                print(f"{task:6s} seed {seed}: IoU with skip {runs[-1]['skip']:.3f}, "
                      f"without {runs[-1]['no_skip']:.3f}", flush=True)
            record["tasks"][task] = runs
    record["total_seconds"] = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
