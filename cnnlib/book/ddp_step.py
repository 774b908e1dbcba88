"""One DistributedDataParallel step of the letters network, checked against a single process.

Run it with two local processes on the CPU (the gloo backend)::

    torchrun --standalone --nproc_per_node 2 -m cnnlib.book.ddp_step

Every process builds the same float64 letters network and the same batch of
16 images; each computes the mean loss of its own share of the batch, and
DDP averages the processes' gradients during ``backward``. Rank 0 then
computes the gradient of the whole batch in one process, with PyTorch and
with cnnlib's hand-written backward, and prints one JSON line with the
largest relative differences. The letters network has no batch norm, so the
averaged gradient is the whole-batch gradient exactly (up to rounding).
"""

import json

import numpy as np

import cnnlib
from cnnlib.interop import to_torch
from cnnlib.models import letters_cnn

BATCH = 16


def relative_difference(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main():
    import torch
    import torch.distributed as dist
    from torch.nn.functional import nll_loss
    from torch.nn.parallel import DistributedDataParallel

    # reads the rank and the world size that torchrun sets
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if BATCH % world:
        raise SystemExit(f"ddp_step: the batch of {BATCH} does not split over "
                         f"{world} processes")
    torch.set_num_threads(1)
    model = letters_cnn(rng=np.random.default_rng(0), dtype=np.float64)
    data = np.random.default_rng(1)
    x, y = data.random((BATCH, 1, 28, 28)), data.integers(0, 26, BATCH)

    share = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    # wrapping broadcasts rank 0's weights to the other processes
    ddp = DistributedDataParallel(to_torch(model))
    loss = nll_loss(ddp(torch.from_numpy(x[share])), torch.from_numpy(y[share]))
    # each gradient bucket is all-reduced (averaged) as soon as it is ready
    loss.backward()
    grads = {k.removeprefix("module."): p.grad.numpy()
             for k, p in ddp.named_parameters()}

    if rank == 0:
        single = to_torch(model)
        nll_loss(single(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        loss_fn = cnnlib.NLLLoss()
        loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        print(json.dumps({
            "world_size": world,
            "vs_torch_single_process": max(
                relative_difference(grads[k], p.grad.numpy())
                for k, p in single.named_parameters()),
            "vs_cnnlib_backward": max(relative_difference(grads[k], g)
                                      for k, g in model.grads.items()),
        }))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
