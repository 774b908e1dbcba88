"""Inference: ``cnnlib.train.predict`` against PyTorch's eval-mode forward, on course networks.

Each network is built in cnnlib (float32, seed 0) and, for PyTorch, converted
with :func:`cnnlib.interop.to_torch`, so both run the same weights. cnnlib
times ``predict(model, x, batch_size=256)`` (evaluation mode, nothing kept
for a backward pass); PyTorch times the same batches through ``model.eval()``
under ``torch.inference_mode()``. Each library runs in a process of its own
(see :mod:`harness`). Run alone with ``python benchmarks/inference.py``.
"""

import sys

import numpy as np

import harness

IMAGES = 2048
BATCH = 256
REPEAT = 5

# label: (builder, keyword arguments, input shape of one image)
NETWORKS = {
    "letters network (ch. 7)": ("letters_cnn", {}, (1, 28, 28)),
    "small CNN (ch. 11)": ("fashion_cnn", {}, (1, 28, 28)),
    "ResNet 16-256 (ch. 11)": ("fashion_resnet", {"channels": [16, 32, 64, 128, 256]},
                               (1, 28, 28)),
}


def build(label):
    """The cnnlib network of row ``label``, in evaluation mode, and a batch of images for it."""
    from cnnlib import models
    name, kwargs, shape = NETWORKS[label]
    model = getattr(models, name)(rng=np.random.default_rng(0), dtype=np.float32, **kwargs)
    model.eval()
    x = np.random.default_rng(1).random((IMAGES, *shape), dtype=np.float32)
    return model, x


def cnnlib_rows(repeat):
    """{label: seconds} of ``predict`` over the images, in this process."""
    from cnnlib.train import predict
    out = {}
    for label in NETWORKS:
        model, x = build(label)
        out[label] = harness.median_time(lambda: predict(model, x, batch_size=BATCH), repeat)
    return out


def torch_rows(repeat):
    """{label: seconds} of PyTorch's eval-mode forward over the same images, in this process."""
    import torch
    from cnnlib.interop import to_torch
    out = {}
    for label in NETWORKS:
        model, x = build(label)
        net = to_torch(model).eval()
        batches = [torch.from_numpy(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]

        def run(net=net, batches=batches):
            with torch.inference_mode():
                return [net(b) for b in batches]

        out[label] = harness.median_time(run, repeat)
    return out


def report(results, threads):
    """Print the table from the workers' rounds: {library: [result, ...]}."""
    ours, theirs = results["cnnlib"], results.get("torch", [])
    head = (f"{'inference, ' + str(IMAGES) + ' images, batch ' + str(BATCH):34s} "
            f"{'cnnlib ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    print(head)
    print("-" * len(head))
    ratios = []
    for label in NETWORKS:
        a = [r[label] if r else None for r in ours]
        b = [r[label] if r else None for r in theirs]
        t_ours, t_theirs, ratio = harness.paired(a, b)
        if t_ours is None:
            continue
        if ratio is not None:
            ratios.append(ratio)
        print(f"{label:34s} {t_ours * 1e3:9.1f} "
              f"{'' if t_theirs is None else format(t_theirs * 1e3, '9.1f'):>9s} "
              f"{'' if ratio is None else format(ratio, '.2f'):>6s}", flush=True)
    if ratios:
        print(f"ratio: predict over PyTorch's eval-mode forward, median of {len(ours)} rounds; "
              f"worst {max(ratios):.2f}; {harness.threads_text(threads)} each.")


def worker(library, repeat, threads):
    """Time every network with one library (its threads are already set)."""
    return (cnnlib_rows if library == "cnnlib" else torch_rows)(repeat)


def main(argv=None):
    harness.main(__file__, __doc__.splitlines()[0], REPEAT, worker, report, argv)


if __name__ == "__main__":
    sys.exit(main())
