"""Seed studies behind chapters 6 and 7: early stopping, regularisation and transfer learning.

Run as ``python -m cnnlib.book.training_demos`` (a few minutes on one core).
Each study repeats a small experiment over several seeds and writes one JSON
record, ``training_demos.json``, which the chapters load; the chapters also
run one seed of each live. The transfer study reads the letters CNN that
``python -m cnnlib.book.train_letters`` saved in the same folder.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import zoom
from threadpoolctl import threadpool_limits

from cnnlib.book import datasets
from cnnlib.book.cli import whole
from cnnlib.io import load_weights
from cnnlib.losses import CrossEntropyLoss, NLLLoss
from cnnlib.models import letters_cnn
from cnnlib.nn import Dropout, Flatten, Linear, ReLU, Sequential
from cnnlib.optim import Adam
from cnnlib.train import evaluate, fit, predict, write_json

REGULARISERS = {"no regularisation": (0.0, 0.0), "weight decay 0.001": (0.0, 1e-3),
                "dropout 0.5": (0.5, 0.0)}
"""Name -> (dropout probability, weight decay) of the regularisation study."""


def overfitting_data(per_letter=16, seed=6):
    """Few letters to memorise, and two fresh renderings to judge the result.

    ``per_letter`` images of each letter, drawn with ``seed`` from one
    rendering of every training glyph; a second rendering (seed 1) of all
    training glyphs for validation and a third (seed 2) for testing, each
    with its own random rotations, scales and strokes.

    Returns
    -------
    dict with "x", "y" (26 * per_letter images), "x_val", "y_val", "x_test", "y_test"
    """
    one = datasets.letters(per_glyph_train=1, splits=("train",))
    pick = np.random.default_rng(seed)
    few = np.concatenate([pick.choice(np.flatnonzero(one["y_train"] == c), per_letter,
                                      replace=False) for c in range(26)])
    val = datasets.letters(per_glyph_train=1, seed=1, splits=("train",))
    test = datasets.letters(per_glyph_train=1, seed=2, splits=("train",))
    return {"x": one["x_train"][few], "y": one["y_train"][few],
            "x_val": val["x_train"], "y_val": val["y_train"],
            "x_test": test["x_train"], "y_test": test["y_train"]}


def overfitting_net(p=0.0, seed=0):
    """A dense 784 -> 256 -> 256 -> 26 network in float32, dropout ``p`` after each hidden layer.

    With about 270,000 weights and a few hundred images it memorises its
    training set within a few epochs.
    """
    rng = np.random.default_rng(seed)

    def hidden(n_in):
        layers = [Linear(n_in, 256, rng=rng, dtype=np.float32), ReLU()]
        return layers + [Dropout(p, rng=rng)] if p else layers

    return Sequential(Flatten(), *hidden(784), *hidden(256),
                      Linear(256, 26, rng=rng, dtype=np.float32))


def _test_scores(model, d):
    scores = predict(model, d["x_test"])
    return (float(CrossEntropyLoss().forward(scores, d["y_test"])),
            float(np.mean(scores.argmax(axis=1) == d["y_test"])))


def early_stopping_run(d, seed, *, epochs=40, patience=5, lr=1e-3, batch_size=32):
    """Train the overfitting network twice from the same start: with early stopping, and to the end.

    Both runs see the same batches in the same order, so up to the epoch
    where early stopping ends they are the same run.

    Returns
    -------
    dict with the stopped run's "epochs_run" and "best_epoch" (counted from
    1), the validation loss of the restored weights ("val_loss_best") and
    after all ``epochs`` ("val_loss_end"), the test loss and accuracy of the
    restored weights ("test_loss_stopped", "test_acc_stopped") and of the
    weights after all epochs ("test_loss_end", "test_acc_end"), and each
    run's "seconds"
    """
    out = {}
    for kind, stop in (("stopped", patience), ("end", None)):
        model = overfitting_net(seed=seed)
        start = time.perf_counter()
        history = fit(model, CrossEntropyLoss(), Adam(model, lr=lr), d["x"], d["y"],
                      x_val=d["x_val"], y_val=d["y_val"], epochs=epochs,
                      batch_size=batch_size, patience=stop,
                      rng=np.random.default_rng([seed, 5]), verbose=False)
        out[f"seconds_{kind}"] = time.perf_counter() - start
        out[f"test_loss_{kind}"], out[f"test_acc_{kind}"] = _test_scores(model, d)
        if stop is None:
            out["val_loss_end"] = float(history.val_loss[-1])
            out["val_loss_curve"] = [float(v) for v in history.val_loss]
        else:
            out["epochs_run"] = len(history.loss)
            out["best_epoch"] = history.best_epoch + 1
            out["val_loss_best"] = float(min(history.val_loss))
    return out


def regularisation_run(d, name, seed, *, epochs=40, lr=1e-3, batch_size=32):
    """Train the overfitting network with one setting of :data:`REGULARISERS` for ``epochs``.

    Returns
    -------
    dict with the last epoch's "train_acc" and "train_loss", the lowest and
    the last validation loss ("val_loss_min", "val_loss_end"), the last
    "val_acc", and "weight_norm", the root of the sum of squared weights
    (biases left out)
    """
    p, decay = REGULARISERS[name]
    model = overfitting_net(p, seed)
    history = fit(model, CrossEntropyLoss(), Adam(model, lr=lr, weight_decay=decay), d["x"],
                  d["y"], x_val=d["x_val"], y_val=d["y_val"], epochs=epochs,
                  batch_size=batch_size, rng=np.random.default_rng([seed, 5]), verbose=False)
    norm = np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2))
                       for k, v in model.params.items() if k.endswith("weight")))
    return {"train_acc": history.train_acc[-1], "train_loss": history.loss[-1],
            "val_loss_min": float(min(history.val_loss)),
            "val_loss_end": float(history.val_loss[-1]), "val_acc": history.val_acc[-1],
            "weight_norm": norm}


def as_letter_image(x):
    """8x8 digits (N, 1, 8, 8) in [0, 1] -> (N, 1, 28, 28) float32 images drawn like the letters.

    Each digit is enlarged 2.5 times (bilinear, to 20x20) and padded to
    28x28, so that the character is about 20 pixels tall, as the letters are.
    """
    big = np.clip(zoom(x[:, 0], (1, 2.5, 2.5), order=1), 0, 1)
    return np.pad(big, ((0, 0), (4, 4), (4, 4)))[:, None].astype(np.float32)


def few_digits(digits, per_digit, seed):
    """``per_digit`` training digits of each class, drawn with ``seed``, as letter-sized images.

    Returns
    -------
    x (10 * per_digit, 1, 28, 28) float32, y (10 * per_digit,)
    """
    pick = np.random.default_rng(seed)
    idx = np.concatenate([pick.choice(np.flatnonzero(digits["y_train"] == c), per_digit,
                                      replace=False) for c in range(10)])
    return as_letter_image(digits["x_train"][idx]), digits["y_train"][idx]


def letters_body(letters_net):
    """The letters CNN up to its flattened 512 features (its first ten layers), sharing weights."""
    return Sequential(*[letters_net[i] for i in range(10)])


def transfer_run(body, digits, x_test28, seed, *, per_digit=10, head_epochs=100,
                 scratch_epochs=30, lr=1e-3, batch_size=32):
    """Learn the digits from ``per_digit`` images each: frozen letters features, or from scratch.

    The transfer model runs the frozen ``body`` once over the training
    images and trains a new ``Linear(512, 10)`` on those features; its time
    counts both. The scratch model is the letters CNN with ten outputs,
    trained from random weights on the same images.

    Returns
    -------
    dict with "transfer_acc", "transfer_seconds" (feature extraction plus
    training), "extract_seconds", "scratch_acc" and "scratch_seconds", all
    measured on (or for) the test digits ``x_test28``
    """
    x, y = few_digits(digits, per_digit, seed)
    rng = np.random.default_rng([seed, 1])
    start = time.perf_counter()
    features = predict(body, x)
    extract = time.perf_counter() - start
    head = Linear(512, 10, rng=rng, dtype=np.float32)
    fit(head, CrossEntropyLoss(), Adam(head, lr=lr), features, y, epochs=head_epochs,
        batch_size=batch_size, rng=rng, verbose=False)
    transfer_seconds = time.perf_counter() - start
    transfer_acc = evaluate(head, predict(body, x_test28), digits["y_test"])

    rng = np.random.default_rng([seed, 2])
    fresh = letters_cnn(num_classes=10, rng=rng)
    start = time.perf_counter()
    fit(fresh, NLLLoss(), Adam(fresh, lr=lr), x, y, epochs=scratch_epochs,
        batch_size=batch_size, rng=rng, verbose=False)
    scratch_seconds = time.perf_counter() - start
    return {"transfer_acc": transfer_acc, "transfer_seconds": transfer_seconds,
            "extract_seconds": extract, "scratch_acc": evaluate(fresh, x_test28, digits["y_test"]),
            "scratch_seconds": scratch_seconds}


def main(argv=None):
    """Parse the command line and run the three studies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results",
                        help="output directory; also where letters_cnn.npz is read from")
    parser.add_argument("--seeds", type=whole(2), default=5, help="seeds of every study")
    parser.add_argument("--threads", type=whole(1), default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads, user_api="blas"):
        run(args)


def run(args):
    """Run every study over ``args.seeds`` seeds and write ``training_demos.json``."""
    out = Path(args.out)
    start = time.perf_counter()
    seeds = list(range(args.seeds))
    d = overfitting_data()
    record = {"seeds": seeds, "early_stopping": [], "regularisation": {},
              "transfer": []}
    for seed in seeds:
        result = early_stopping_run(d, seed)
        record["early_stopping"].append(result)
        print(f"early stopping, seed {seed}: stopped after {result['epochs_run']} epochs, "
              f"test loss {result['test_loss_stopped']:.3f} against "
              f"{result['test_loss_end']:.3f} after {len(result['val_loss_curve'])}", flush=True)
    for name in REGULARISERS:
        record["regularisation"][name] = [regularisation_run(d, name, seed) for seed in seeds]
        print(f"regularisation, {name}: done", flush=True)
    net = letters_cnn(rng=np.random.default_rng(0))
    load_weights(net, out / "letters_cnn.npz")
    digits = datasets.digits()
    x_test28 = as_letter_image(digits["x_test"])
    for seed in seeds:
        result = transfer_run(letters_body(net), digits, x_test28, seed)
        record["transfer"].append(result)
        print(f"transfer, seed {seed}: {result['transfer_acc']:.3f} "
              f"[{result['transfer_seconds']:.2f} s], from scratch "
              f"{result['scratch_acc']:.3f} [{result['scratch_seconds']:.2f} s]", flush=True)
    record["total_seconds"] = time.perf_counter() - start
    write_json(out / "training_demos.json", record)
    print(f"done: {out / 'training_demos.json'}  [time: {record['total_seconds']:.1f} s]")


if __name__ == "__main__":
    main()
