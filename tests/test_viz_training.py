"""The training-diagnostics figures: the lr_find curve with its mark, and the monitor's plots."""

import numpy as np
import pytest

import cnnlib
from cnnlib.monitor import Monitor
from cnnlib.train import fit

pytest.importorskip("matplotlib")


def test_lr_find_plot_marks_the_suggested_rate(agg):
    from cnnlib.book.viz_training import plot_lr_find

    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0])
    losses = np.array([2.0, 1.95, 1.2, 1.0, 8.0])
    ax, lr = plot_lr_find(lrs, losses)
    assert lr == 0.1
    marks = [line for line in ax.lines if line.get_marker() == "o"]
    assert marks[0].get_xdata()[0] == 0.1 and marks[0].get_ydata()[0] == 1.2
    assert ax.get_xscale() == "log"
    assert plot_lr_find(lrs, losses, suggestion=None)[1] is None


def test_monitor_figures(agg):
    from cnnlib.book.viz_training import colorful_dimension, plot_monitor

    rng = np.random.default_rng(0)
    net = cnnlib.Sequential(cnnlib.Linear(3, 8, rng=rng), cnnlib.ReLU(),
                            cnnlib.Linear(8, 8, rng=rng), cnnlib.GELU(),
                            cnnlib.Linear(8, 2, rng=rng))
    mon = Monitor(bins=10)
    fit(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), rng.standard_normal((16, 3)),
        rng.integers(0, 2, 16), epochs=3, batch_size=4, rng=rng, verbose=False, monitor=mon)
    fig = colorful_dimension(mon)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 2 and images[0].shape == (10, 12)
    np.testing.assert_array_equal(images[0], np.log1p(np.stack(mon.activations["1"]["hist"], 1)))
    fig = plot_monitor(mon)
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="colorful_dimension: the monitor recorded no"):
        colorful_dimension(Monitor())


def test_diagnostics_figures_are_legible_at_phone_width(agg):
    import matplotlib as mpl

    from cnnlib.book.viz import BOOK_STYLE, legibility_problems
    from cnnlib.book.viz_training import colorful_dimension, plot_lr_find, plot_monitor

    rng = np.random.default_rng(0)
    net = cnnlib.Sequential(cnnlib.Linear(3, 8, rng=rng), cnnlib.ReLU(),
                            cnnlib.Linear(8, 8, rng=rng), cnnlib.ReLU(),
                            cnnlib.Linear(8, 2, rng=rng))
    mon = Monitor(bins=10)
    fit(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), rng.standard_normal((16, 3)),
        rng.integers(0, 2, 16), epochs=2, batch_size=4, rng=rng, verbose=False, monitor=mon)
    with mpl.rc_context(BOOK_STYLE):  # the style every chapter sets
        ax, _ = plot_lr_find([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.5, 1.0, 4.0])
        for fig in (ax.figure, colorful_dimension(mon), plot_monitor(mon)):
            assert legibility_problems(fig) == []
