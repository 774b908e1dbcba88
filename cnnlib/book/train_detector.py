"""Train the small detector on Fashion-MNIST scenes for about a minute and report COCO mAP.

Run as ``python -m cnnlib.book.train_detector``. Training scenes are made
from the first 50,000 Fashion-MNIST training images and validation scenes
from the other 10,000, so no item is seen in both. Prints the loss as it
goes and the COCO numbers of the validation scenes; with ``--out DIR``,
writes ``detector.npz`` (weights) and ``detector_run.json`` (settings,
loss history and metrics) there.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlib.data import fashion_mnist, make_scenes
from cnnlib.detection import detect, fit_detector, small_detector
from cnnlib.io import save_weights
from cnnlib.optim import Adam
from cnnlib.tools.boxes import mean_average_precision
from cnnlib.train import write_json

SPLIT = 50000
"""Training scenes use Fashion-MNIST training images [0, SPLIT), validation scenes the rest."""


def run(*, seconds, width, lr, batch_size, train_scenes, val_scenes, seed, root=None):
    """Make the scenes, train for ``seconds`` and evaluate; returns a dict of everything."""
    rng = np.random.default_rng(seed)
    x, y, _, _ = fashion_mnist(root)
    start = time.perf_counter()
    train = make_scenes(x, y, train_scenes, rng=rng, indices=np.arange(SPLIT))
    val = make_scenes(x, y, val_scenes, rng=rng, indices=np.arange(SPLIT, len(x)))
    made = time.perf_counter() - start
    model = small_detector(10, rng=rng, width=width)
    history = fit_detector(model, train, Adam(model, lr), rng=rng, batch_size=batch_size,
                           seconds=seconds, log_every=20)
    metrics = mean_average_precision(detect(model, val.images), val.targets())
    return {"model": model, "settings": {"seconds": seconds, "width": width, "lr": lr,
                                         "batch_size": batch_size, "train_scenes": train_scenes,
                                         "val_scenes": val_scenes, "seed": seed},
            "scene_seconds": made, "history": history,
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, float)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=55.0, help="training time budget")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-scenes", type=int, default=3000)
    parser.add_argument("--val-scenes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", help="folder with the Fashion-MNIST files")
    parser.add_argument("--out", help="folder for detector.npz and detector_run.json")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        result = run(seconds=args.seconds, width=args.width, lr=args.lr,
                     batch_size=args.batch_size, train_scenes=args.train_scenes,
                     val_scenes=args.val_scenes, seed=args.seed, root=args.data)
    steps = len(result["history"]["loss"])
    print(f"{steps} steps in {result['history']['seconds']:.1f} s "
          f"(scenes made in {result['scene_seconds']:.1f} s)")
    for key, value in result["metrics"].items():
        print(f"{key:>11s} {value:.4f}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_weights(result["model"], out / "detector.npz")
        write_json(out / "detector_run.json", {k: v for k, v in result.items() if k != "model"})


if __name__ == "__main__":
    main()
