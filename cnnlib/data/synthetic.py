"""Synthetic data generated with NumPy alone: the T and L letters on an 8x8 grid."""

import numpy as np

from cnnlib.checks import check_int, check_number, check_real


def letter_shape(letter, size):
    """A ``size`` x ``size`` binary T or L.

    T: a full top bar and a stem down the middle column.
    L: a full left column and a full bottom bar.
    """
    size = check_int("letter_shape: size", size, minimum=2)
    grid = np.zeros((size, size), dtype=np.int64)
    if letter == "T":
        grid[0, :] = 1
        grid[:, size // 2] = 1
    elif letter == "L":
        grid[:, 0] = 1
        grid[-1, :] = 1
    else:
        raise ValueError(f"letter_shape: letter must be 'T' or 'L', got {letter!r}")
    return grid


def place(shape, row, col, canvas=8):
    """Put a small ``shape`` on an empty ``canvas`` x ``canvas`` grid at (row, col)."""
    shape = check_real("place", shape, "shape")
    if shape.ndim != 2:
        raise ValueError(f"place: shape must be a 2-D array, got shape {shape.shape}")
    canvas = check_int("place: canvas", canvas)
    row = check_int("place: row", row, minimum=0)
    col = check_int("place: col", col, minimum=0)
    h, w = shape.shape
    if not (0 <= row <= canvas - h and 0 <= col <= canvas - w):
        raise ValueError(f"place: a {h}x{w} shape does not fit at ({row}, {col}) "
                         f"on a {canvas}x{canvas} canvas")
    grid = np.zeros((canvas, canvas), dtype=shape.dtype)
    grid[row: row + h, col: col + w] = shape
    return grid


def tl_letters(sizes=(3, 4, 5), canvas=8, holdout=0.25, seed=0):
    """Every placement of T and L on an 8x8 grid, with held-out positions.

    Parameters
    ----------
    sizes : tuple of int
        Letter sizes; each letter of size s fits at (canvas - s + 1)**2 places.
    holdout : float
        Fraction of placements of each letter (and size) kept for testing.
    seed : int
        Chooses the held-out placements.

    Returns
    -------
    dict with
        x_train, x_test : float64 arrays, shape (N, 1, canvas, canvas)
        y_train, y_test : int arrays, shape (N,); T is 1 and L is 0
        pos_train, pos_test : int arrays, shape (N, 3) of (size, row, col)
    """
    canvas = check_int("tl_letters: canvas", canvas, minimum=2)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"tl_letters: sizes must be a tuple of ints, got {sizes!r}") from None
    if not sizes:
        raise ValueError("tl_letters: sizes must name at least one letter size")
    sizes = tuple(check_int("tl_letters: sizes", s, minimum=2) for s in sizes)
    if max(sizes) > canvas:
        raise ValueError(f"tl_letters: a letter of size {max(sizes)} does not fit on a "
                         f"{canvas}x{canvas} canvas")
    holdout = check_number("tl_letters: holdout", holdout, low=0, high=1, high_open=True)
    rng = np.random.default_rng(seed)
    parts = {"train": ([], [], []), "test": ([], [], [])}
    for label, letter in ((1, "T"), (0, "L")):
        for size in sizes:
            shape = letter_shape(letter, size)
            spots = [(r, c) for r in range(canvas - size + 1) for c in range(canvas - size + 1)]
            n_test = int(round(holdout * len(spots)))
            test_idx = set(rng.choice(len(spots), n_test, replace=False).tolist())
            for i, (r, c) in enumerate(spots):
                xs, ys, ps = parts["test" if i in test_idx else "train"]
                xs.append(place(shape, r, c, canvas))
                ys.append(label)
                ps.append((size, r, c))
    out = {}
    for split, (xs, ys, ps) in parts.items():
        out[f"x_{split}"] = np.array(xs, dtype=np.float64)[:, None]
        out[f"y_{split}"] = np.array(ys, dtype=np.int64)
        out[f"pos_{split}"] = np.array(ps, dtype=np.int64)
    return out
