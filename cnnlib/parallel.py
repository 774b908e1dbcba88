"""Data parallelism: replicas of a model that share its weights, one slice of a batch each."""

import contextlib
import copy
import weakref
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from cnnlib.checks import check_int, check_number, check_real
from cnnlib.nn.module import Module
from cnnlib.optim import clip_grad_norm_


class DataParallel:
    """Training steps split over ``workers`` threads, one model replica per slice of a batch.

    NumPy releases the GIL inside its loops and its BLAS calls, so the
    threads compute at the same time on different cores. Every replica
    shares the model's parameter arrays and keeps its own gradients and
    caches. After the slices' backward passes, the replicas' gradients are
    added into the model's, each slice's loss gradient having been weighted
    by its share of the batch, so the model receives the gradient of the
    whole batch (to rounding) and the optimiser steps once.

    During a step BLAS is limited to ``blas_threads`` threads (with
    ``threadpoolctl``): an idle BLAS thread keeps spinning for a while after
    each product and takes the core another replica needs.

    Parameters
    ----------
    model : Module
        Trained in place; replica 0 is the model itself.
    workers : int, >= 1
    blas_threads : int >= 1 or None, keyword-only
        BLAS threads during a step (1 by default); None leaves BLAS as it is.

    Notes
    -----
    - ``loss_fn`` must average over the batch, as cnnlib's losses do.
    - ``BatchNorm2d`` normalises each slice with that slice's statistics
      ("ghost" batches of ``N / workers``), and its running statistics are
      averaged over the replicas after every step.
    - A replica's ``Dropout`` layers draw from generators spawned from the
      model's, so a run is reproducible for a given number of workers.

    Examples
    --------
    >>> import numpy as np, cnnlib
    >>> rng = np.random.default_rng(0)
    >>> net = cnnlib.Sequential(cnnlib.Flatten(), cnnlib.Linear(4, 3, rng=rng))
    >>> step = DataParallel(net, workers=2)
    >>> loss, out = step(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1),
    ...                  rng.random((8, 1, 2, 2)), rng.integers(0, 3, 8))
    >>> out.shape
    (8, 3)
    """

    def __init__(self, model, workers=2, *, blas_threads=1):
        if not isinstance(model, Module):
            raise TypeError(f"DataParallel: model must be a cnnlib Module, got "
                            f"{type(model).__name__}")
        self.workers = check_int("DataParallel: workers", workers)
        self.blas_threads = (None if blas_threads is None
                             else check_int("DataParallel: blas_threads", blas_threads))
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            raise ImportError("DataParallel needs threadpoolctl to keep BLAS to one thread "
                              "per replica: pip install threadpoolctl") from None
        self.model = model
        self._blas = ThreadpoolController()
        self._replicas = [model] + [_replica(model) for _ in range(self.workers - 1)]
        self._losses = {}
        self._pool = None
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="cnnlib-replica")
            weakref.finalize(self, self._pool.shutdown, wait=False)

    def __call__(self, loss_fn, optimizer, x, y, *, clip_grad_norm=None):
        """One step: forward, loss and backward on every slice at once, then one optimiser step.

        Parameters
        ----------
        loss_fn : a loss with ``forward(out, y) -> float`` and ``backward() -> dout``
        optimizer : SGD or Adam built on the model
        x : ndarray, shape (N, ...)
        y : targets for ``loss_fn``, N of them
        clip_grad_norm : float > 0, optional, keyword-only
            Clip the whole batch's gradient to this global norm before the
            step (:func:`cnnlib.optim.clip_grad_norm_`).

        Returns
        -------
        loss : float, the mean over the whole batch
        out : ndarray, the model's output for ``x``
        """
        x, y = check_real("DataParallel", x), np.asarray(y)
        if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
            raise ValueError(f"DataParallel: x (N, ...) and y (N, ...) must have the same "
                             f"number of examples; got shapes {x.shape} and {y.shape}")
        if getattr(optimizer, "model", None) is not self.model:
            raise ValueError("DataParallel: the optimiser was built on another model")
        if clip_grad_norm is not None:
            clip_grad_norm = check_number("DataParallel: clip_grad_norm", clip_grad_norm,
                                          low=0, low_open=True)
        parts = [p for p in np.array_split(np.arange(len(x)), self.workers) if len(p)] or [
            np.arange(0)]
        replicas = self._replicas[:len(parts)]
        losses = self._loss_copies(loss_fn, len(parts))
        shares = [len(p) / max(len(x), 1) for p in parts]
        self._sync(replicas)
        saved = _state(self.model)
        try:
            with self._blas_limit():
                errors = np.geterr()  # NumPy keeps its error state per thread
                jobs = [self._pool.submit(_slice_step, *args, errors) for args in
                        zip(replicas[1:], losses[1:], (x[p] for p in parts[1:]),
                            (y[p] for p in parts[1:]), shares[1:])]
                try:
                    results = [_slice_step(replicas[0], losses[0], x[parts[0]], y[parts[0]],
                                           shares[0], errors)]
                finally:
                    wait(jobs)
                results += [job.result() for job in jobs]
            grads = [r.grads for r in replicas]
            for name, g in grads[0].items():
                for other in grads[1:]:
                    g += other[name]
            if clip_grad_norm is not None:
                clip_grad_norm_(self.model, clip_grad_norm)
            optimizer.step()  # it checks every gradient before it changes a weight
            self._average_buffers(replicas)
        except BaseException:
            _restore_state(self.model, saved)  # a failed step leaves no half-updated statistic
            raise
        loss = sum(share * value for value, share, _ in results)
        return float(loss), np.concatenate([out for _, _, out in results])

    def _blas_limit(self):
        if self.blas_threads is None:
            return contextlib.nullcontext()
        return self._blas.limit(limits=self.blas_threads, user_api="blas")

    def _loss_copies(self, loss_fn, count):
        copies = self._losses.get(id(loss_fn))
        if copies is None or copies[0] is not loss_fn:
            copies = [loss_fn] + [copy.deepcopy(loss_fn) for _ in range(self.workers - 1)]
            self._losses = {id(loss_fn): copies}
        return copies[:count]

    def _sync(self, replicas):
        """Point every replica at the model's current parameters, buffers and mode."""
        for twin in replicas[1:]:
            for mine, theirs in zip(self.model.modules(), twin.modules()):
                theirs._params.update(mine._params)
                for name, buf in mine._buffers.items():
                    np.copyto(theirs._buffers[name], buf)
                theirs.training = mine.training
                if hasattr(mine, "num_batches_tracked"):  # BatchNorm's cumulative average
                    theirs.num_batches_tracked = mine.num_batches_tracked

    def _average_buffers(self, replicas):
        if len(replicas) == 1:
            return
        buffers = [r.buffers for r in replicas]
        for name, buf in buffers[0].items():
            buf[...] = np.mean([b[name] for b in buffers], axis=0)


def _replica(model):
    """A deep copy of ``model`` that shares its parameters; its generators are spawned anew."""
    memo = {id(p): p for p in model.params.values()}
    twin = copy.deepcopy(model, memo)
    for mine, theirs in zip(model.modules(), twin.modules()):
        if isinstance(getattr(mine, "rng", None), np.random.Generator):
            theirs.rng = mine.rng.spawn(1)[0]
    return twin


def _state(model):
    """Copies of the statistics a forward pass changes: buffers and BatchNorm's counters."""
    return ({k: v.copy() for k, v in model.buffers.items()},
            [getattr(m, "num_batches_tracked", None) for m in model.modules()])


def _restore_state(model, state):
    buffers, counters = state
    for name, buf in model.buffers.items():
        buf[...] = buffers[name]
    for m, count in zip(model.modules(), counters):
        if count is not None:
            m.num_batches_tracked = count


def _slice_step(model, loss_fn, x, y, share, errors):
    """Forward, loss and backward of one slice, its loss gradient weighted by ``share``.

    ``errors`` is the caller's ``np.geterr()``; a worker thread does not inherit it.
    """
    with np.errstate(**errors):
        out = model.forward(x)
        loss = loss_fn.forward(out, y)
        model.backward(loss_fn.backward() * share)
    return loss, share, out
