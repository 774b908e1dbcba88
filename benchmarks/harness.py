"""Time each library in a process of its own, in alternating rounds, and pair the results.

NumPy's BLAS (OpenBLAS pthreads) and PyTorch's OpenMP pool both keep their
threads spinning for a while after a call; in one process they take each
other's cores and either library can come out several times slower. So a
benchmark script here runs as a *worker* (``--worker cnnlib`` or
``--worker torch``), which times one library and prints its results as JSON,
and a *parent*, which starts the workers in turn (cnnlib, PyTorch, cnnlib,
PyTorch, ...) and pairs round k of one with round k of the other, so that a
change in the machine's load during the run hits both alike.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

WORKER = "--worker"


def libraries():
    """cnnlib, and PyTorch when it is installed."""
    return ["cnnlib"] + (["torch"] if importlib.util.find_spec("torch") else [])


def worker_env(threads, library):
    """Environment of a worker: ``threads`` for the library being timed, one for the other."""
    env = dict(os.environ)
    blas = threads if library == "cnnlib" else 1
    env.update(OPENBLAS_NUM_THREADS=str(blas), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(blas))
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(here)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_rounds(script, args, libraries, rounds, threads):
    """Run ``script --worker LIB args`` for each library, ``rounds`` times in turn.

    Returns ``{library: [result of round 0, round 1, ...]}``, each result the
    JSON a worker printed on its last line of output, or None when the
    worker failed (its error is shown).
    """
    results = {lib: [] for lib in libraries}
    for _ in range(rounds):
        for lib in libraries:
            proc = subprocess.run([sys.executable, script, WORKER, lib, *args],
                                  env=worker_env(threads, lib), capture_output=True, text=True)
            if proc.returncode:
                print(f"[{lib} worker failed]\n{proc.stderr.strip()}", file=sys.stderr)
                results[lib].append(None)
                continue
            results[lib].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def emit(result):
    """Print a worker's result as the last line of its output."""
    print(json.dumps(result), flush=True)


def median_time(fn, repeat, warmup=1):
    """Median wall-clock seconds of ``fn()`` over ``repeat`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(ours, theirs):
    """Median of each side over the rounds, and the median of the per-round ratios.

    ``ours`` and ``theirs`` are lists of seconds (None for a failed round).
    Returns (ours, theirs, ratio); a side that never ran gives None.
    """
    a = [t for t in ours if t is not None]
    b = [t for t in theirs if t is not None]
    ratios = [x / y for x, y in zip(ours, theirs) if x is not None and y is not None]
    return (statistics.median(a) if a else None, statistics.median(b) if b else None,
            statistics.median(ratios) if ratios else None)


def main(script, description, repeat, work, report, argv=None):
    """The command line of a benchmark script that times both libraries.

    As a worker (``--worker LIB``) it prints ``work(LIB, repeat, threads)`` as
    JSON; as the parent it runs the workers in alternating rounds and passes
    their results to ``report(results, threads)``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument(WORKER, choices=["cnnlib", "torch"])
    args = parser.parse_args(argv)
    if args.worker:
        set_threads(args.worker, args.threads)
        emit(work(args.worker, args.repeat, args.threads))
        return
    results = run_rounds(script, ["--threads", str(args.threads), "--repeat", str(args.repeat)],
                         libraries(), args.rounds, args.threads)
    report(results, args.threads)


def threads_text(threads):
    """"1 thread", "2 threads"."""
    return f"{threads} thread" + ("" if threads == 1 else "s")


def set_threads(library, threads):
    """Inside a worker: limit the library's pool to ``threads`` (the environment already does)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads if library == "cnnlib" else 1, user_api="blas")
    if library == "torch":
        import torch
        torch.set_num_threads(threads)
