"""Fixtures shared by the tests in this folder, and the markers that select them.

Every test here is marked ``unit`` unless it carries ``build``, ``browser`` or
``slow``, so ``pytest -m unit tests`` (make unit) runs the fast ones alone.
pytest-xdist runs the tests on two workers, a file to a worker (``-n 2 --dist
loadfile`` in pyproject.toml): a notebook's cells share one kernel, and one
build serves the browser tests of tests/test_book.py.

Do not set MPLBACKEND in the environment: the notebook kernels that nbval
starts inherit it, and with MPLBACKEND=Agg figures lose the outputs that the
saved notebooks contain. Tests that draw use the ``agg`` fixture instead.
"""

import numpy as np
import pytest

_NOT_UNIT = {"build", "browser", "slow", "notebook"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        elif not _NOT_UNIT & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, one per test."""
    return np.random.default_rng(0)


@pytest.fixture
def agg():
    """matplotlib on the Agg backend, with every figure closed afterwards."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    yield plt
    plt.close("all")


@pytest.fixture
def worked_conv():
    """The course's worked 2-D convolution: (5x5 input, 3x3 cross kernel, 3x3 result)."""
    x = np.array([[1, 0, 2, 1, 0],
                  [0, 1, 0, 1, 1],
                  [1, 0, 1, 0, 0],
                  [0, 0, 1, 1, 0],
                  [1, 1, 0, 0, 1]])
    k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    return x, k, np.array([[6, 1, 4], [1, 4, 2], [3, 2, 3]])


@pytest.fixture
def worked_pool():
    """The course's 4x4 pooling grid, its 2x2 max-pool and its 2x2 average-pool."""
    x = np.array([[1, 3, 2, 4], [0, 2, 1, 3], [5, 6, 7, 8], [4, 2, 6, 5]])
    return x, np.array([[3, 4], [6, 8]]), np.array([[1.5, 2.5], [4.25, 6.5]])
