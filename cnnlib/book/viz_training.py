"""Figures of training diagnostics: the lr_find curve, monitor statistics, "colorful dimension"."""

import matplotlib.pyplot as plt
import numpy as np

from cnnlib.book.viz import MAX_WIDTH, MIN_FONTSIZE
from cnnlib.lr_range import suggest_lr


def plot_lr_find(lrs, losses, *, suggestion="steepest", ax=None):
    """The learning-rate range test's curve on a log axis, with the suggested rate marked.

    Parameters
    ----------
    lrs, losses : ndarray, shape (S,)
        From :func:`cnnlib.train.lr_find`.
    suggestion : "steepest", "minimum", a float, or None, keyword-only
        The rate to mark: :func:`cnnlib.train.suggest_lr` with that method, a
        rate of your own, or nothing.
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
    lr : float or None, the marked rate
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(5.0, MAX_WIDTH), 3.2))
    ax.plot(lrs, losses, color="C0")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    lr = None
    if suggestion is not None:
        lr = (suggest_lr(lrs, losses, method=suggestion) if isinstance(suggestion, str)
              else float(suggestion))
        loss_at = np.interp(np.log10(lr), np.log10(lrs), losses)
        ax.axvline(lr, color="C3", linestyle=":", linewidth=1)
        ax.plot([lr], [loss_at], "o", color="C3")
        ax.annotate(f"suggested {lr:.1e}", (lr, loss_at), xytext=(6, 8),
                    textcoords="offset points", color="C3", fontsize=MIN_FONTSIZE)
    return ax, lr


def colorful_dimension(monitor, layers=None, *, ncols=2, cmap="viridis"):
    """Histograms of each layer's activations over training, as images (fast.ai's style).

    Each panel's column ``t`` is the histogram of a watched layer's output at
    the ``t``-th recorded step, its rows the histogram's bins (low values at
    the bottom), coloured by ``log(1 + count)``. Healthy training shows a
    smooth spread that rises and stays; a bright bottom row with little above
    it means most activations sit at zero, as dead or collapsing units do.

    Parameters
    ----------
    monitor : :class:`cnnlib.monitor.Monitor` after training
    layers : list of str, optional
        The layers to draw; all that were recorded by default.
    ncols : int
    cmap : str

    Returns
    -------
    matplotlib Figure
    """
    layers = [n for n in monitor.activations if monitor.activations[n]["hist"]] \
        if layers is None else list(layers)
    if not layers:
        raise ValueError("colorful_dimension: the monitor recorded no activations")
    ncols = min(ncols, len(layers))
    nrows = -(-len(layers) // ncols)
    width = MAX_WIDTH
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 2.2 * nrows + 0.4), squeeze=False)
    lo, hi = monitor.hist_range
    steps = np.asarray(monitor.steps)
    for ax in axes.flat[len(layers):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, layers):
        hist = np.stack(monitor.activations[name]["hist"], axis=1)
        end = steps[hist.shape[1] - 1] if len(steps) >= hist.shape[1] else hist.shape[1] - 1
        ax.imshow(np.log1p(hist), origin="lower", aspect="auto", cmap=cmap,
                  extent=(steps[0] if len(steps) else 0, end, lo, hi))
        ax.set_title(f"layer {name}", fontsize=MIN_FONTSIZE + 1)
        ax.set_xlabel("step", fontsize=MIN_FONTSIZE)
        ax.set_ylabel("activation", fontsize=MIN_FONTSIZE)
        ax.tick_params(labelsize=MIN_FONTSIZE)
    fig.tight_layout()
    return fig


def plot_monitor(monitor, *, params=None):
    """Four panels, one above the other, over the recorded steps: activation mean and std,
    dead fraction, and the log10 of gradient norms and of update-to-weight ratios (with the
    rule of thumb, -3, as a dotted line).

    Parameters
    ----------
    monitor : :class:`cnnlib.monitor.Monitor` after training
    params : list of str, optional
        Parameter names for the last two panels; the weights (names ending
        in "weight") by default.

    Returns
    -------
    matplotlib Figure
    """
    steps = np.asarray(monitor.steps)
    if params is None:
        params = [k for k in monitor.grad_norm if k.endswith("weight")]
    fig, axes = plt.subplots(4, 1, figsize=(MAX_WIDTH, 8.4), sharex=True)
    a_mean, a_dead, a_grad, a_ratio = axes
    for i, (name, row) in enumerate(monitor.activations.items()):
        n = len(row["mean"])
        a_mean.plot(steps[:n], row["mean"], color=f"C{i}", label=name)
        a_mean.plot(steps[:n], row["std"], color=f"C{i}", linestyle="--")
        a_dead.plot(steps[:n], row["dead"], color=f"C{i}", label=name)
    a_mean.set_title("activation mean (solid), std (dashed)", fontsize=MIN_FONTSIZE + 1)
    a_dead.set_title("dead fraction", fontsize=MIN_FONTSIZE + 1)
    a_dead.set_ylim(-0.02, 1.02)
    for i, key in enumerate(params):
        n = len(monitor.grad_norm[key])
        with np.errstate(divide="ignore"):
            a_grad.plot(steps[:n], np.log10(monitor.grad_norm[key]), color=f"C{i}", label=key)
            a_ratio.plot(steps[:n], np.log10(monitor.update_ratio[key]), color=f"C{i}",
                         label=key)
    a_grad.set_title("log10 gradient norm", fontsize=MIN_FONTSIZE + 1)
    a_ratio.set_title("log10 update / weight", fontsize=MIN_FONTSIZE + 1)
    a_ratio.axhline(-3, color="gray", linestyle=":", linewidth=1)
    for ax in axes:
        ax.tick_params(labelsize=MIN_FONTSIZE)
    a_ratio.set_xlabel("step", fontsize=MIN_FONTSIZE)
    if monitor.activations:
        a_dead.legend(fontsize=MIN_FONTSIZE, title="layer", title_fontsize=MIN_FONTSIZE,
                      ncol=3, loc="best")
    if params:
        a_ratio.legend(fontsize=MIN_FONTSIZE, ncol=2, loc="best")
    fig.tight_layout()
    return fig
