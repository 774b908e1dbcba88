"""Saving and loading weights: round trip, refusal of mismatches, no pickle."""

import numpy as np
import pytest

import cnnlib


def model(rng, width=4):
    return cnnlib.Sequential(cnnlib.Conv2d(1, width, 3, rng=rng), cnnlib.BatchNorm2d(width),
                             cnnlib.ReLU(), cnnlib.Flatten(),
                             cnnlib.Linear(width * 16, 3, rng=rng))


def test_round_trip(tmp_path):
    a = model(np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, 1, 6, 6))
    a.forward(x)  # updates the running statistics, which must be saved too
    a.eval()
    path = tmp_path / "w.npz"
    cnnlib.save_weights(a, path)
    b = model(np.random.default_rng(2)).eval()
    assert not np.allclose(a.forward(x), b.forward(x))
    cnnlib.load_weights(b, path)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert set(np.load(path).files) == set(a.params) | set(a.buffers)


def test_shape_mismatch_is_refused_and_model_untouched(tmp_path):
    path = tmp_path / "w.npz"
    cnnlib.save_weights(model(np.random.default_rng(0), width=4), path)
    target = model(np.random.default_rng(1), width=5)
    before = {k: v.copy() for k, v in target.params.items()}
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(4, 1, 3, 3\) in .* but "
                                         r"\(5, 1, 3, 3\) in the model"):
        cnnlib.load_weights(target, path)
    for k, v in target.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_missing_and_extra_keys(tmp_path):
    path = tmp_path / "w.npz"
    cnnlib.save_weights(cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0))),
                        path)
    bigger = cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0)),
                               cnnlib.Linear(2, 2, rng=np.random.default_rng(0)))
    with pytest.raises(KeyError, match=r"no array for \['1.bias', '1.weight'\]"):
        cnnlib.load_weights(bigger, path)
    cnnlib.save_weights(bigger, path)
    with pytest.raises(KeyError, match="arrays the model lacks"):
        cnnlib.load_weights(cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0))),
                            path)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"0.weight": np.array([{"a": 1}], dtype=object),
                      "0.bias": np.zeros(2)})
    with pytest.raises(ValueError, match="pickle"):
        cnnlib.load_weights(cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0))),
                            path)
