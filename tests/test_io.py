"""Saving and loading weights: round trip, all-or-nothing loading, hostile files, atomic writes."""

import io
import os
import signal
import subprocess
import sys
import tracemalloc
import zipfile

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


def linear():
    return cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0)))


def snapshot(m):
    return {k: v.copy() for k, v in {**m.params, **m.buffers}.items()}


def assert_unchanged(m, before):
    for k, v in {**m.params, **m.buffers}.items():
        assert v.tobytes() == before[k].tobytes(), k


def test_object_arrays_are_refused_without_mentioning_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"0.weight": np.array([{"a": 1}] * 4, dtype=object).reshape(2, 2),
                      "0.bias": np.zeros(2)})
    m = linear()
    with pytest.raises(ValueError, match=r"'0.weight' as object, not real numbers") as err:
        cnnlib.load_weights(m, path)
    assert "allow_pickle" not in str(err.value)


@pytest.mark.parametrize("bad, message", [
    (np.full((2, 2), "x"), "not real numbers"),
    (np.ones((2, 2), dtype=complex), "not real numbers"),
    (np.zeros((2, 2), dtype="datetime64[s]"), "not real numbers"),
    (np.ones((2, 2), dtype=np.float128 if hasattr(np, "float128") else np.complex64),
     "cannot be cast|not real numbers"),
])
def test_one_bad_array_leaves_the_model_bit_for_bit_unchanged(tmp_path, bad, message):
    m = linear()
    before = snapshot(m)
    path = tmp_path / "w.npz"
    np.savez(path, **{"0.bias": np.full(2, 9.0), "0.weight": bad})
    with pytest.raises(ValueError, match=message):
        cnnlib.load_weights(m, path)
    assert_unchanged(m, before)


def test_lossy_cast_is_refused(tmp_path):
    m32 = cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(0), dtype=np.float32))
    path = cnnlib.save_weights(linear(), tmp_path / "w64")
    with pytest.raises(ValueError, match="float64, which cannot be cast to the model's float32"):
        cnnlib.load_weights(m32, path)


def test_save_and_load_agree_on_the_suffix(tmp_path):
    a = linear()
    written = cnnlib.save_weights(a, tmp_path / "checkpoint")
    assert written == tmp_path / "checkpoint.npz" and written.exists()
    b = cnnlib.Sequential(cnnlib.Linear(2, 2, rng=np.random.default_rng(5)))
    cnnlib.load_weights(b, tmp_path / "checkpoint")
    np.testing.assert_array_equal(a.params["0.weight"], b.params["0.weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no temporary left


def hostile(tmp_path, kind):
    path = tmp_path / "w.npz"
    good = tmp_path / "good.npz"
    cnnlib.save_weights(linear(), good)
    raw = good.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not a zip":
        path.write_text("hello, I am a text file")
    elif kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "corrupted":
        data = bytearray(raw)
        start = data.index(b"NUMPY") + 140
        data[start: start + 8] = b"\xff" * 8
        path.write_bytes(bytes(data))
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "member not npy":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("0.weight.npy", good_member(good, "0.weight.npy"))
            zf.writestr("0.bias.npy", good_member(good, "0.bias.npy"))
            zf.writestr("notes.txt", "hi")
    elif kind == "huge header":
        header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)}
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("0.weight.npy", buf.getvalue())
            zf.writestr("0.bias.npy", good_member(good, "0.bias.npy"))
    elif kind == "bomb":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("0.weight.npy", good_member(good, "0.weight.npy"))
            zf.writestr("0.bias.npy", good_member(good, "0.bias.npy"))
            zf.writestr("0.extra.npy", b"\0" * (64 << 20))
    elif kind == "bomb under a real key":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("0.weight.npy", good_member(good, "0.weight.npy") + b"\0" * (64 << 20))
            zf.writestr("0.bias.npy", good_member(good, "0.bias.npy"))
    return path


def good_member(npz, name):
    with zipfile.ZipFile(npz) as zf:
        return zf.read(name)


@pytest.mark.parametrize("kind, message", [
    ("empty", "is empty"),
    ("not a zip", "not a readable .npz archive"),
    ("truncated", "not a readable .npz archive"),
    ("corrupted", "not a readable .npz archive|corrupted|unreadable"),
    ("npy", "is a single .npy array, not an .npz archive"),
    ("member not npy", "member 'notes.txt' that is not an .npy array"),
    ("huge header", r"'0.weight' has shape \(1000000, 1000000\)|declares"),
    ("bomb", r"arrays the model lacks: \['0.extra'\]"),
    ("bomb under a real key", "declares 67,109,024 bytes for .0.weight., more than"),
])
def test_hostile_files_are_refused_with_one_clear_message(tmp_path, kind, message):
    m = linear()
    before = snapshot(m)
    path = hostile(tmp_path, kind)
    tracemalloc.start()
    try:
        with pytest.raises((ValueError, KeyError), match=message) as err:
            cnnlib.load_weights(m, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "allow_pickle" not in str(err.value)
    assert peak < 8 << 20  # nothing large was decompressed
    assert_unchanged(m, before)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_weights: no such file"):
        cnnlib.load_weights(linear(), tmp_path / "nothing.npz")


FULL_DISK = """
import resource, sys
import numpy as np
import cnnlib
m = cnnlib.Sequential(cnnlib.Linear(300, 300, rng=np.random.default_rng(1)))
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    cnnlib.save_weights(m, sys.argv[1])
except OSError as e:
    print("refused:", type(e).__name__)
"""


def test_a_full_disk_leaves_the_old_checkpoint_loadable(tmp_path):
    path = tmp_path / "w.npz"
    small = cnnlib.Sequential(cnnlib.Linear(300, 300, rng=np.random.default_rng(0)))
    small.params["0.weight"][...] = 0.5
    cnnlib.save_weights(small, path)
    old = path.read_bytes()
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True,
                         text=True, timeout=60, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
    assert "refused: OSError" in out.stdout, out.stderr
    assert path.read_bytes() == old
    back = cnnlib.Sequential(cnnlib.Linear(300, 300, rng=np.random.default_rng(3)))
    cnnlib.load_weights(back, path)
    assert np.all(back.params["0.weight"] == 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_checkpoints_get_the_usual_file_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        path = cnnlib.save_weights(linear(), tmp_path / "w.npz")
        cnnlib.train.History().to_json(tmp_path / "h.json")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "h.json").stat().st_mode & 0o777 == 0o644
