"""The handwriting chapter's networks and its training command."""

import json

import numpy as np

import cnnlib
from cnnlib import handwriting_models as hm
from cnnlib import train_letters


def test_letters_cnn_shapes_size_and_dtype():
    rng = np.random.default_rng(0)
    model = hm.letters_cnn(rng)
    out = model.forward(rng.random((2, 1, 28, 28), dtype=np.float32))
    assert out.shape == (2, 26) and out.dtype == np.float32
    assert np.allclose(np.exp(out).sum(axis=1), 1, atol=1e-5)
    assert model.num_params() == 137_178
    shapes = [layer.out_shape((1, 1, 28, 28)) for layer in [cnnlib.Sequential(*model[:k])
                                                             for k in (2, 5, 8)]]
    assert shapes == [(1, 32, 13, 13), (1, 64, 6, 6), (1, 128, 2, 2)]


def test_dense_rival_has_about_the_same_size():
    rng = np.random.default_rng(0)
    dense = hm.letters_dense(rng)
    assert dense.num_params() == 137_594
    assert dense.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 26)


def test_digits_cnn_shapes():
    rng = np.random.default_rng(0)
    assert hm.digits_cnn(rng).forward(rng.random((4, 1, 8, 8))).shape == (4, 10)


def test_train_letters_command_writes_results(tmp_path, capsys):
    train_letters.main(["--out", str(tmp_path), "--per-glyph", "1", "--dense-epochs", "1",
                        "--models", "letters_dense", "letters_dense_aug"])
    assert "held-out-font accuracy" in capsys.readouterr().out
    for name in ("letters_dense", "letters_dense_aug"):
        model = hm.letters_dense(np.random.default_rng(1))
        cnnlib.load_weights(model, tmp_path / f"{name}.npz")
        history = cnnlib.train.History.from_json(tmp_path / f"{name}.json")
        assert len(history.loss) == len(history.val_acc) == 1
    run = json.loads((tmp_path / "letters_run.json").read_text())
    assert run["n_train"] + run["n_val"] == len(cnnlib.data.LETTER_FONTS_TRAIN) * 52
