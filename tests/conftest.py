"""Fixtures shared by the tests in this folder.

Do not set MPLBACKEND here: the notebook kernels that nbval starts inherit the
environment, and with MPLBACKEND=Agg figures lose the outputs that the saved
notebooks contain.
"""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, one per test."""
    return np.random.default_rng(0)
