"""Tests for the training chapters' helpers: cross-entropy T/L training, learning-rate sweeps,
the plain-versus-residual runs and the ResNet seed command."""

import json

import numpy as np
import pytest

import cnnlib
from cnnlib.book import train_resnet_seeds
from cnnlib.book.experiments import (accuracy, lr_sweep, pick_rate, predict_t, resnet_digits,
                                     tl_cross_entropy_scores, train_cross_entropy, train_deep,
                                     train_side_by_side)
from cnnlib.models import digits_cnn, plain_net, small_resnet, tl_cnn, tl_dense


@pytest.fixture(scope="module")
def tl():
    return cnnlib.data.tl_letters()


def test_two_class_scores_give_the_sigmoid_and_its_gradient():
    z = np.array([[-2.0], [0.0], [3.0]])
    scores = tl_cross_entropy_scores(z)
    assert scores.shape == (3, 2) and np.all(scores[:, 0] == 0)
    p_t = cnnlib.functional.softmax(scores, axis=1)[:, 1]
    np.testing.assert_allclose(p_t, 1 / (1 + np.exp(-z[:, 0])))
    loss = cnnlib.CrossEntropyLoss()
    y = np.array([1, 0, 1])
    loss.forward(scores, y)
    np.testing.assert_allclose(loss.backward()[:, 1], (p_t - y) / 3)


def test_cross_entropy_training_lowers_the_loss_and_predicts_at_zero(tl):
    model = tl_cnn(4, rng=np.random.default_rng(0))
    losses = train_cross_entropy(model, tl["x_train"], tl["y_train"], epochs=200, lr=0.1)
    assert losses.shape == (200,) and losses[-1] < 0.4 * losses[0]
    assert accuracy(model, tl["x_train"], tl["y_train"], threshold=0.0) > 0.9
    out = model.forward(tl["x_test"])[:, 0]
    assert np.array_equal(predict_t(model, tl["x_test"], 0.0), (out > 0).astype(np.int64))


def test_side_by_side_cross_entropy_equals_training_one_at_a_time(tl):
    x, y = tl["x_train"], tl["y_train"]
    for build in (lambda r: tl_cnn(1, rng=r), lambda r: tl_dense(8, rng=r)):
        together = [build(np.random.default_rng(s)) for s in (2, 5)]
        alone = [build(np.random.default_rng(s)) for s in (2, 5)]
        losses = train_side_by_side(together, x, y, epochs=12, lr=0.1, loss="cross_entropy")
        for i, model in enumerate(alone):
            np.testing.assert_allclose(losses[:, i],
                                       train_cross_entropy(model, x, y, epochs=12, lr=0.1),
                                       rtol=1e-10)
            for key, value in model.params.items():
                np.testing.assert_allclose(together[i].params[key], value, rtol=0, atol=1e-10)


def test_side_by_side_refuses_an_unknown_loss(tl):
    with pytest.raises(ValueError, match="loss"):
        train_side_by_side([tl_cnn(1, rng=np.random.default_rng(0))], tl["x_train"],
                           tl["y_train"], epochs=1, lr=0.1, loss="hinge")


def test_pick_rate_takes_one_step_below_the_lowest_loss():
    assert pick_rate({1e-3: 0.5, 3e-3: 0.2, 1e-2: 0.3}) == 1e-3
    assert pick_rate({1e-2: 0.3, 1e-3: 0.5, 3e-3: 0.2}) == 1e-3   # order of the dict is free
    assert pick_rate({1e-3: 0.1, 3e-3: 0.2}) == 1e-3               # lowest at the bottom edge
    assert pick_rate({1e-3: 0.3, 3e-3: 0.2}) == 1e-3


def test_lr_sweep_matches_a_hand_written_run():
    r = np.random.default_rng(0)
    x, y = r.random((64, 1, 8, 8)), r.integers(0, 10, 64)
    xv, yv = r.random((16, 1, 8, 8)), r.integers(0, 10, 16)
    build = lambda: digits_cnn(rng=np.random.default_rng(3))     # noqa: E731
    sweep = lr_sweep(build, cnnlib.CrossEntropyLoss(), x, y, xv, yv, [1e-3, 1e-2],
                     epochs=2, batch_size=16, seed=4)
    assert list(sweep) == [1e-3, 1e-2]
    model = build()
    cnnlib.train.fit(model, cnnlib.CrossEntropyLoss(), cnnlib.Adam(model, lr=1e-2), x, y,
                     epochs=2, batch_size=16, rng=np.random.default_rng(4), verbose=False)
    expected = cnnlib.CrossEntropyLoss().forward(cnnlib.train.predict(model, xv), yv)
    assert sweep[1e-2] == pytest.approx(expected, rel=1e-12)


def test_resnet_digits_is_the_chapter_split():
    x_train, y_train, x_test, y_test = resnet_digits()
    assert x_train.shape == (1000, 1, 8, 8) and x_test.shape == (797, 1, 8, 8)
    assert y_train.shape == (1000,) and y_test.shape == (797,)
    assert abs(x_train.mean()) < 1e-12 and abs(x_train.std() - 1) < 1e-12


@pytest.mark.slow
def test_train_deep_is_the_chapters_loop():
    x_train, y_train, x_test, y_test = resnet_digits()
    model, losses, accs = train_deep(small_resnet, x_train, y_train, seed=3, steps=4,
                                     x_test=x_test, y_test=y_test, eval_at=(2, 4))
    assert losses.shape == (4,) and set(accs) == {2, 4}
    # the same thing by hand
    hand = small_resnet(20, 8, rng=np.random.default_rng(3), dtype=np.float32)
    batch_rng = np.random.default_rng(103)
    opt = cnnlib.SGD(hand, lr=0.02, momentum=0.9)
    x32 = x_train.astype(np.float32)
    for step in range(4):
        idx = batch_rng.choice(1000, 32, replace=False)
        loss, _ = cnnlib.train.train_step(hand, cnnlib.CrossEntropyLoss(), opt, x32[idx],
                                          y_train[idx])
        assert loss == losses[step]
    for key, value in hand.params.items():
        assert np.array_equal(model.params[key], value)
    assert accs[4] == cnnlib.train.evaluate(hand, x_test.astype(np.float32), y_test)


def test_train_deep_gives_both_networks_the_same_start():
    x_train, y_train, _, _ = resnet_digits()
    plain, _, _ = train_deep(plain_net, x_train, y_train, seed=1, steps=0)
    res, _, _ = train_deep(small_resnet, x_train, y_train, seed=1, steps=0)
    assert all(np.array_equal(a, b) for a, b in zip(plain.params.values(), res.params.values()))


@pytest.mark.slow
def test_resnet_seeds_command_writes_results(tmp_path, capsys):
    out = tmp_path / "seeds.json"
    train_resnet_seeds.main(["--out", str(out), "--seeds", "2", "--eval-at", "3", "2"])
    assert "seed 1:" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["settings"]["eval_at"] == [2, 3]
    assert [row["seed"] for row in record["runs"]] == [0, 1]
    for row in record["runs"]:
        for name in ("plain", "residual"):
            assert len(row[name]["loss"]) == 3
            assert set(row[name]["test_acc"]) == {"2", "3"}
