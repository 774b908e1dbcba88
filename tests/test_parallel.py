"""Data parallelism: a step split over threads equals the whole-batch step, and refuses bad input."""

import numpy as np
import pytest

import cnnlib
from cnnlib.parallel import DataParallel
from cnnlib.train import fit, train_step


def small_net(seed, *, dropout=False, bn=False):
    rng = np.random.default_rng(seed)
    layers = [cnnlib.Conv2d(1, 4, 3, padding=1, rng=rng)]
    if bn:
        layers.append(cnnlib.BatchNorm2d(4))
    layers += [cnnlib.GELU(), cnnlib.MaxPool2d(2), cnnlib.Flatten()]
    if dropout:
        layers.append(cnnlib.Dropout(0.5, rng=np.random.default_rng(seed + 100)))
    layers.append(cnnlib.Linear(64, 3, rng=rng))
    return cnnlib.Sequential(*layers)


def batch(n, seed=7):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 3, n)


@pytest.mark.parametrize("workers, n", [(1, 8), (2, 8), (3, 8), (3, 2), (4, 13)])
def test_split_step_equals_whole_batch_step(workers, n):
    x, y = batch(n)
    whole, split = small_net(0), small_net(0)
    opt_w, opt_s = cnnlib.Adam(whole, 0.01), cnnlib.Adam(split, 0.01)
    step = DataParallel(split, workers)
    for _ in range(3):
        loss_w, out_w = train_step(whole, cnnlib.CrossEntropyLoss(), opt_w, x, y)
        loss_s, out_s = step(cnnlib.CrossEntropyLoss(), opt_s, x, y)
        assert loss_s == pytest.approx(loss_w, rel=1e-13)
        np.testing.assert_allclose(out_s, out_w, rtol=1e-12, atol=1e-14)
    for name, p in whole.params.items():
        np.testing.assert_allclose(split.params[name], p, rtol=1e-12, atol=1e-14)


def test_gradients_are_the_whole_batch_gradients_before_the_step():
    x, y = batch(10)
    whole, split = small_net(1), small_net(1)
    loss = cnnlib.CrossEntropyLoss()
    loss.forward(whole.forward(x), y)
    whole.backward(loss.backward())
    expected = {k: g.copy() for k, g in whole.grads.items()}
    DataParallel(split, 3)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(split, 1e-300), x, y)
    for name, g in expected.items():
        np.testing.assert_allclose(split.grads[name], g, rtol=1e-12, atol=1e-15)


def test_batch_norm_normalises_each_slice_and_averages_running_stats():
    x, y = batch(8)
    net, reference = small_net(2, bn=True), small_net(2, bn=True)
    _, out = DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 1e-300), x, y)
    halves = [reference.forward(x[:4]), None]
    stats = [{k: v.copy() for k, v in reference.buffers.items()}]
    ref_again = small_net(2, bn=True)
    halves[1] = ref_again.forward(x[4:])
    stats.append(ref_again.buffers)
    np.testing.assert_allclose(out, np.concatenate(halves), rtol=1e-10, atol=1e-12)
    for name, buf in net.buffers.items():
        np.testing.assert_allclose(buf, (stats[0][name] + stats[1][name]) / 2, rtol=1e-12)


def test_dropout_replicas_draw_their_own_masks_and_runs_repeat():
    x, y = batch(8)
    x = np.repeat(x[:1], 8, axis=0)  # identical images: equal masks would give equal outputs

    def run():
        net = small_net(3, dropout=True)
        return DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y)[1]

    first, again = run(), run()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[:4], first[4:])


def test_replicas_follow_weights_loaded_after_they_were_built(tmp_path):
    x, y = batch(6)
    source, target = small_net(4), small_net(5)
    step = DataParallel(target, 2)
    cnnlib.save_weights(source, tmp_path / "w.npz")
    cnnlib.load_weights(target, tmp_path / "w.npz")
    _, out = step(cnnlib.CrossEntropyLoss(), cnnlib.SGD(target, 1e-300), x, y)
    np.testing.assert_allclose(out, source.forward(x), rtol=1e-12)


def test_fit_with_workers_matches_fit_without():
    x, y = batch(40)

    def run(workers):
        net = small_net(6)
        history = fit(net, cnnlib.CrossEntropyLoss(), cnnlib.Adam(net, 0.01), x, y, epochs=3,
                      batch_size=16, rng=np.random.default_rng(0), workers=workers,
                      verbose=False)
        return history, net

    (h1, n1), (h2, n2) = run(1), run(2)
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-12)
    assert h2.loss[-1] < h2.loss[0]
    for name, p in n1.params.items():
        np.testing.assert_allclose(n2.params[name], p, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_int(workers):
    with pytest.raises(ValueError, match="DataParallel: workers must be a positive int"):
        DataParallel(small_net(0), workers)


@pytest.mark.parametrize("threads", [0, 2.0, "1"])
def test_blas_threads_must_be_a_positive_int_or_none(threads):
    with pytest.raises(ValueError, match="DataParallel: blas_threads must be a positive int"):
        DataParallel(small_net(0), 2, blas_threads=threads)


def test_blas_is_limited_during_the_step_and_restored_after():
    from threadpoolctl import threadpool_info, threadpool_limits

    seen = []

    class Probe(cnnlib.Identity):
        def _forward(self, x):
            seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
            return super()._forward(x)

    net = cnnlib.Sequential(Probe(), cnnlib.Flatten(), cnnlib.Linear(64, 3,
                                                                     rng=np.random.default_rng(0)))
    x, y = batch(4)
    with threadpool_limits(2, user_api="blas"):
        DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y)
        DataParallel(net, 2, blas_threads=None)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1),
                                                x, y)
        after = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen == [{1}, {1}, {2}, {2}] and after == {2}


def test_fit_refuses_bad_workers_before_training():
    net = small_net(0)
    before = {k: v.copy() for k, v in net.params.items()}
    x, y = batch(8)
    with pytest.raises(ValueError, match="fit: workers must be a positive int"):
        fit(net, cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y, epochs=1, batch_size=4,
            rng=np.random.default_rng(0), workers=0)
    assert all(np.array_equal(v, net.params[k]) for k, v in before.items())


def test_refuses_a_non_module():
    with pytest.raises(TypeError, match="DataParallel: model must be a cnnlib Module"):
        DataParallel(lambda x: x, 2)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((4, 1, 8, 8)), np.zeros(3, int), "same number of examples"),
    (np.zeros((4, 1, 8, 8)), np.int64(1), "same number of examples"),
    (np.array([["a"]]), np.zeros(1, int), "DataParallel"),
])
def test_refuses_mismatched_batches_and_changes_nothing(x, y, match):
    net = small_net(0)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises((ValueError, TypeError), match=match):
        DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y)
    assert all(np.array_equal(v, net.params[k]) for k, v in before.items())


def test_refuses_an_optimiser_of_another_model():
    net, other = small_net(0), small_net(1)
    x, y = batch(4)
    with pytest.raises(ValueError, match="optimiser was built on another model"):
        DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(other, 0.1), x, y)


def test_a_failing_slice_changes_no_weight():
    net = small_net(0)
    before = {k: v.copy() for k, v in net.params.items()}
    x, _ = batch(6)
    y = np.array([0, 1, 2, 0, 1, 7])  # a label out of range in the last slice only
    with pytest.raises(ValueError, match="labels must lie in"):
        DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y)
    assert all(np.array_equal(v, net.params[k]) for k, v in before.items())


@pytest.mark.parametrize("failure", ["a slice's forward", "the optimiser's checks"])
def test_a_failed_step_leaves_weights_and_running_statistics_as_they_were(failure):
    net = small_net(0, bn=True)
    before = {k: v.copy() for k, v in {**net.params, **net.buffers}.items()}
    x, y = batch(6)
    loss_fn = cnnlib.CrossEntropyLoss()
    if failure == "a slice's forward":
        x[5] = np.inf  # batch norm refuses the last slice, computed in the worker thread
        match = "BatchNorm2d: input contains NaN"
    else:
        class NaNGradient(cnnlib.CrossEntropyLoss):
            def backward(self):
                return np.full_like(super().backward(), np.nan)

        loss_fn, match = NaNGradient(), "no parameter was changed"
    with pytest.raises(ValueError, match=match), np.errstate(invalid="ignore"):
        DataParallel(net, 2)(loss_fn, cnnlib.SGD(net, 0.1), x, y)
    after = {**net.params, **net.buffers}
    assert all(np.array_equal(v, after[k]) for k, v in before.items())
    assert net[1].num_batches_tracked == 0


def test_worker_threads_follow_the_callers_numpy_error_state():
    net = small_net(0, bn=True)
    x, y = batch(6)
    x[5] = np.inf  # in the last slice, which a worker thread computes
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        DataParallel(net, 2)(cnnlib.CrossEntropyLoss(), cnnlib.SGD(net, 0.1), x, y)
