"""Independent training runs in forked worker processes, and the CPU time they all used."""

import multiprocessing
import resource
import time

_WORK = None


def _call(task):
    return _WORK(task)


def run_tasks(work, tasks, jobs=1):
    """Yield ``work(task)`` for every task, in order, computed in ``jobs`` processes.

    With ``jobs > 1`` the workers are forked from this process, so ``work``
    may be a closure over large arrays: they are shared, not copied or
    pickled. Only the results travel back, so they must be picklable.
    """
    global _WORK
    tasks = list(tasks)
    if jobs <= 1:
        for task in tasks:
            yield work(task)
        return
    _WORK = work
    pool = multiprocessing.get_context("fork").Pool(min(jobs, len(tasks)))
    try:
        yield from pool.imap(_call, tasks)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        _WORK = None


def cpu_seconds():
    """CPU seconds (user and system) of this process and of its finished child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
