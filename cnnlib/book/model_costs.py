"""Parameters and MACs of the zoo's ImageNet networks and of the small Fashion-MNIST ones.

Run as ``python -m cnnlib.book.model_costs``. Building ResNet-50, ConvNeXt-T
and ViT-B/16 draws over 140 million random weights, which takes most of a
minute, so the counts that :func:`~cnnlib.tools.shapes.summary` gives for
one image are written once to a JSON file (atomically): per network its
builder, input shape, parameters (with and without biases) and MACs, and
the seconds the whole run took.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from cnnlib.models import (convnext_tiny, fashion_cnn, resnet50, small_convnext, small_vit,
                           vit_b_16)
from cnnlib.tools.shapes import summary
from cnnlib.train import write_json

NETWORKS = ((resnet50, (3, 224, 224)), (convnext_tiny, (3, 224, 224)),
            (vit_b_16, (3, 224, 224)), (fashion_cnn, (1, 28, 28)),
            (small_convnext, (1, 28, 28)), (small_vit, (1, 28, 28)))
"""(builder, input shape (C, H, W)) of every network counted."""


def costs(build, input_shape):
    """``{"builder", "input_shape", "params", "params_no_bias", "macs"}`` of one network."""
    model = build(rng=np.random.default_rng(0))
    table = summary(model, input_shape, print_table=False)
    return {"builder": build.__name__, "input_shape": list(input_shape),
            "params": model.num_params(),
            "params_no_bias": sum(row.params_no_bias for row in table.rows),
            "macs": table.total_macs}


def main(argv=None):
    """Parse the command line, count every network and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/results/model_costs.json",
                        help="output file (default: %(default)s)")
    args = parser.parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    networks = []
    for build, shape in NETWORKS:
        networks.append(costs(build, shape))
        print(f"{build.__name__:15s} {networks[-1]['params']:>12,d} parameters "
              f"{networks[-1]['macs']:>16,d} MACs", flush=True)
    record = {"networks": networks, "cpu_seconds": time.process_time() - cpu,
              "wall_seconds": time.perf_counter() - wall}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(f"done: {out}")


if __name__ == "__main__":
    main()
