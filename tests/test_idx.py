"""IDX files: round trips of every element type, and refusal of every kind of malformed file."""

import gzip
import os
import re
import tracemalloc
import zlib

import numpy as np
import pytest

import cnnlib.data.idx as idx
from cnnlib.data.idx import read_idx, write_idx

pytestmark = pytest.mark.unit

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 5)]
MB = 1 << 20


def values(dtype, shape, rng):
    """Random values spanning the dtype's range, including its extremes."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        x = rng.standard_normal(shape) * 1e3
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=shape, endpoint=True)
        x.flat[0], x.flat[-1] = info.min, info.max
    return x.astype(dtype)


def save(path, data, *, compress=False):
    """Write raw bytes, gzip-compressed if asked, whatever the file's name."""
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def peak_bytes(fn, *args):
    """Peak traced allocation while running ``fn(*args)``, and its result or exception."""
    tracemalloc.start()
    try:
        try:
            result = fn(*args)
        except Exception as exc:                     # noqa: BLE001 - returned to the test
            result = exc
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, rng, dtype, shape, suffix):
    x = values(dtype, shape, rng)
    path = tmp_path / f"x.idx{suffix}"
    write_idx(path, x)
    y = read_idx(path)
    assert y.dtype == x.dtype and y.dtype.isnative and y.shape == shape
    assert np.array_equal(x, y)
    assert y.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert os.listdir(tmp_path) == [path.name]      # no temporary file left behind


def test_big_endian_layout_matches_the_format(tmp_path):
    """Bytes written by hand as the IDX definition gives them, read both ways."""
    data = (b"\0\0\x0b\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
            + np.array([[1, -2, 256], [300, -32768, 32767]], dtype=">i2").tobytes())
    expected = np.array([[1, -2, 256], [300, -32768, 32767]], dtype=np.int16)
    assert np.array_equal(read_idx(save(tmp_path / "a", data)), expected)
    write_idx(tmp_path / "b", expected)
    assert (tmp_path / "b").read_bytes() == data


def test_float_and_byte_type_codes(tmp_path):
    for code, dtype, sample in [(0x08, "u1", [0, 255]), (0x09, "i1", [-128, 127]),
                                (0x0C, "i4", [-2**31, 2**31 - 1]), (0x0D, "f4", [1.5, -0.25]),
                                (0x0E, "f8", [1e300, -1e-300])]:
        body = np.array(sample, dtype=">" + dtype).tobytes()
        path = save(tmp_path / f"t{code}", bytes([0, 0, code, 1]) + (2).to_bytes(4, "big") + body)
        y = read_idx(path)
        assert y.dtype == np.dtype(dtype) and y.tolist() == sample


def test_gzip_is_detected_by_content_not_name(tmp_path):
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "x.gz", x)
    os.rename(tmp_path / "x.gz", tmp_path / "compressed-without-suffix")
    write_idx(tmp_path / "plain", x)
    os.rename(tmp_path / "plain", tmp_path / "plain-with-suffix.gz")
    assert np.array_equal(read_idx(tmp_path / "compressed-without-suffix"), x)
    assert np.array_equal(read_idx(tmp_path / "plain-with-suffix.gz"), x)


def test_empty_dimension_is_allowed(tmp_path):
    write_idx(tmp_path / "e", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "e").shape == (0, 28, 28)


HEADER_1D_U8_4 = b"\0\0\x08\x01" + (4).to_bytes(4, "big")
MALFORMED = {
    "empty": (b"", "empty"),
    "short header": (b"\0\0\x08", "truncated header"),
    "bad magic": (b"\x01\x00\x08\x01" + (4).to_bytes(4, "big") + b"abcd", "bad magic"),
    "unknown type": (b"\0\0\x0a\x01" + (4).to_bytes(4, "big") + b"abcd", "unknown element type"),
    "zero dimensions": (b"\0\0\x08\x00", "0 dimensions"),
    "too many dimensions": (b"\0\0\x08\x21" + (1).to_bytes(4, "big") * 33 + b"a",
                            "33 dimensions"),
    "missing sizes": (b"\0\0\x08\x03" + (4).to_bytes(4, "big"), "truncated header"),
    "truncated data": (HEADER_1D_U8_4 + b"abc", "truncated"),
    "extra bytes": (HEADER_1D_U8_4 + b"abcde", "extra bytes"),
    "sizes do not match": (b"\0\0\x0c\x02" + (2).to_bytes(4, "big") * 2 + b"x" * 12,
                           "truncated"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_file_is_refused(tmp_path, kind, compress):
    data, problem = MALFORMED[kind]
    path = save(tmp_path / "bad-file", data, compress=compress)
    with pytest.raises(ValueError, match=problem) as err:
        read_idx(path)
    assert "read_idx" in str(err.value) and str(path) in str(err.value)


def test_gzip_with_a_wrong_crc_is_refused(tmp_path):
    good = gzip.compress(HEADER_1D_U8_4 + b"abcd")
    path = save(tmp_path / "x.gz", good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:])
    with pytest.raises(ValueError, match=f"read_idx: {re.escape(str(path))}: corrupt gzip"):
        read_idx(path)


def test_truncated_gzip_is_refused(tmp_path):
    path = save(tmp_path / "x.gz", gzip.compress(HEADER_1D_U8_4 + b"abcd")[:-6])
    with pytest.raises(ValueError, match="truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_huge_declared_size_is_refused_without_allocating(tmp_path, compress):
    # (65536, 65536, 65536) float64 would be 2 PB; the file is a few dozen bytes.
    header = b"\0\0\x0e\x03" + (65536).to_bytes(4, "big") * 3
    path = save(tmp_path / "huge", header + b"\0" * 64, compress=compress)
    peak, result = peak_bytes(read_idx, path)
    assert isinstance(result, ValueError) and "truncated" in str(result), result
    assert peak < 2 * MB


def test_extra_bytes_are_refused_before_reading_the_data(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros(8 * MB, dtype=np.uint8))
    with open(path, "ab") as f:
        f.write(b"\0")
    peak, result = peak_bytes(read_idx, path)
    assert isinstance(result, ValueError) and "1 extra bytes" in str(result), result
    assert peak < MB


def test_gzip_bomb_is_not_decompressed(tmp_path):
    """A valid header for 16 bytes, then 256 MB of zeros in a stream with no trailer.

    A reader that stops one byte past the declared data reports the extra bytes;
    one that decompressed to the end would instead meet the missing trailer.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [b"\x1f\x8b\x08\0\0\0\0\0\x02\xff",
             packer.compress(b"\0\0\x08\x01" + (16).to_bytes(4, "big") + b"x" * 16)]
    zeros = bytes(MB)
    parts += [packer.compress(zeros) for _ in range(256)]
    parts.append(packer.flush())
    path = save(tmp_path / "bomb.gz", b"".join(parts))
    assert path.stat().st_size < MB
    peak, result = peak_bytes(read_idx, path)
    assert isinstance(result, ValueError) and "extra bytes" in str(result), result
    assert peak < 4 * MB


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reading_allocates_little_beyond_the_array(tmp_path, rng, suffix):
    x = values("float32", (2 * MB,), rng)               # 8 MB
    path = tmp_path / f"x{suffix}"
    write_idx(path, x)
    peak, y = peak_bytes(read_idx, path)
    assert np.array_equal(x, y)
    assert peak < x.nbytes + 4 * MB


def test_missing_file(tmp_path):
    missing = re.escape(str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match=f"read_idx: no such file: {missing}"):
        read_idx(tmp_path / "nothing")


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, np.uint16),
                                   np.zeros(3, np.float16), np.zeros(3, bool),
                                   np.zeros(3, np.complex64), np.array(["a"])],
                         ids=lambda a: str(a.dtype))
def test_write_refuses_dtypes_idx_cannot_hold(tmp_path, array):
    with pytest.raises(ValueError, match=f"write_idx: .*IDX cannot hold dtype {array.dtype}"):
        write_idx(tmp_path / "x", array)
    assert os.listdir(tmp_path) == []


def test_write_refuses_a_scalar(tmp_path):
    with pytest.raises(ValueError, match="0 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


def test_write_accepts_little_endian_input(tmp_path):
    x = np.array([1, 2, 70000], dtype="<i4")
    write_idx(tmp_path / "x", x)
    assert (tmp_path / "x").read_bytes()[8:] == x.astype(">i4").tobytes()


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(5, dtype=np.uint8))
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(idx.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(9, dtype=np.uint8))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]
