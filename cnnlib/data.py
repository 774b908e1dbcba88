"""Datasets used by the book, all generated or shipped offline."""

import numpy as np


def letter_shape(letter, size):
    """A ``size`` x ``size`` binary T or L.

    T: a full top bar and a stem down the middle column.
    L: a full left column and a full bottom bar.
    """
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


# ----------------------------------------------------------------- digits

def digits(test_fraction=0.2, seed=0, dtype=np.float64):
    """scikit-learn's 1,797 handwritten 8x8 digits, scaled to [0, 1] and split.

    The split is stratified: each digit contributes the same fraction of its
    images to the test set.

    Parameters
    ----------
    test_fraction : float
        Fraction of each class kept for testing.
    seed : int
        Chooses the test images.
    dtype : numpy dtype

    Returns
    -------
    dict with
        x_train, x_test : arrays of ``dtype``, shape (N, 1, 8, 8), ink = 1
        y_train, y_test : int64 arrays, shape (N,), the digit 0..9
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(dtype)[:, None]
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for k in range(10):
        idx = np.flatnonzero(y == k)
        test[rng.choice(idx, int(round(test_fraction * len(idx))), replace=False)] = True
    return {"x_train": x[~test], "y_train": y[~test], "x_test": x[test], "y_test": y[test]}


# ---------------------------------------------------------------- letters

LETTERS = "abcdefghijklmnopqrstuvwxyz"
"""Class names of :func:`letters`: label k is ``LETTERS[k]``, upper and lower case merged."""

LETTER_FONTS_TRAIN = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
    "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmtt10.ttf", "cmmi10.ttf",
)
"""Fonts shipped with matplotlib that :func:`letters` renders its training images from."""

LETTER_FONTS_TEST = (
    "DejaVuSans-Oblique.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "cmss10.ttf", "cmti10.ttf",
)
"""Fonts held out from training: :func:`letters` renders its test images from these only."""


def _font_file(name):
    from pathlib import Path

    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


_GLYPHS = {}


def _glyph(font, char):
    """Outline of ``char`` in ``font`` as a matplotlib Path, centred on (0, 0), longest side 1."""
    key = (font, char)
    if key not in _GLYPHS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.path import Path
        from matplotlib.textpath import TextPath

        path = TextPath((0, 0), char, size=100, prop=FontProperties(fname=_font_file(font)))
        box = path.get_extents()
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        verts = (path.vertices - centre) / max(box.width, box.height)
        _GLYPHS[key] = Path(verts, path.codes)
    return _GLYPHS[key]


def render_glyphs(glyphs, rng, *, size=28, box=20.0, max_shift=1.0, max_rotation=12.0,
                  scale=(0.8, 1.1), stroke=(0.0, 1.5)):
    """Rasterise glyph outlines with random placement, rotation, scale and stroke width.

    Each glyph is centred on the canvas, its longest side scaled to ``box``
    pixels times a random factor, rotated, shifted by up to ``max_shift``
    pixels in each direction (sub-pixel), and its outline thickened by a
    random stroke. Matplotlib's Agg rasteriser anti-aliases the edges.

    Parameters
    ----------
    glyphs : list of (font file name, character)
    rng : numpy.random.Generator
        Draws every random parameter, so equal generators give equal images.
    size : int
        Height and width of the images.
    box : float
        Longest side of an unscaled glyph, in pixels.
    max_shift : float
        Largest shift in pixels along each axis.
    max_rotation : float
        Largest rotation in degrees, either way.
    scale : (float, float)
        Range of the random scale factor.
    stroke : (float, float)
        Range of the extra outline width in pixels.

    Returns
    -------
    images : float64 array, shape (len(glyphs), size, size), ink = 1, paper = 0
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.transforms import Affine2D

    n = len(glyphs)
    shifts = rng.uniform(-max_shift, max_shift, size=(n, 2))
    angles = rng.uniform(-max_rotation, max_rotation, size=n)
    scales = rng.uniform(*scale, size=n) * box
    strokes = rng.uniform(*stroke, size=n)
    images = np.empty((n, size, size))
    renderer = RendererAgg(size, size, 72)
    gc = renderer.new_gc()
    gc.set_foreground((0, 0, 0, 1))
    for i, (font, char) in enumerate(glyphs):
        renderer.clear()
        gc.set_linewidth(strokes[i])
        transform = (Affine2D().scale(scales[i]).rotate_deg(angles[i])
                     .translate(size / 2 + shifts[i, 0], size / 2 + shifts[i, 1]))
        renderer.draw_path(gc, _glyph(font, char), transform, (0, 0, 0, 1))
        images[i] = np.asarray(renderer.buffer_rgba())[..., 3] / 255.0
    return images


def render_letters(fonts, per_glyph, rng, **options):
    """Every letter, upper and lower case, in every font, ``per_glyph`` times.

    Parameters
    ----------
    fonts : sequence of str
        Font file names from matplotlib's ``mpl-data/fonts/ttf``.
    per_glyph : int
        Random renderings of each (font, character) pair.
    rng : numpy.random.Generator
    **options
        Passed to :func:`render_glyphs`.

    Returns
    -------
    x : float64 array, shape (N, 28, 28) with N = len(fonts) * 52 * per_glyph
    y : int64 array, shape (N,), label k means ``LETTERS[k]`` in either case
    font : int64 array, shape (N,), index into ``fonts``
    """
    items = [(f, k, c) for f in range(len(fonts)) for k, letter in enumerate(LETTERS)
             for c in (letter.upper(), letter) for _ in range(per_glyph)]
    x = render_glyphs([(fonts[f], c) for f, _, c in items], rng, **options)
    y = np.array([k for _, k, _ in items], dtype=np.int64)
    font = np.array([f for f, _, _ in items], dtype=np.int64)
    return x, y, font


_LETTER_SPLITS = {}


def letters(per_glyph_train=12, per_glyph_test=4, seed=0, dtype=np.float32,
            splits=("train", "test")):
    """A 26-class letters dataset rendered from fonts, with test fonts held out.

    Synthetic stand-in for EMNIST letters: upper and lower case share a label,
    as in EMNIST. Training images come from :data:`LETTER_FONTS_TRAIN`, test
    images from the disjoint :data:`LETTER_FONTS_TEST`. Rendering runs at a
    few thousand images per second; each split is kept in memory, keyed by
    its arguments, so a second call is instant.

    Parameters
    ----------
    per_glyph_train, per_glyph_test : int
        Random renderings per (font, character) pair in each split.
    seed : int
        Seeds the generators that draw every rendering parameter; each split
        has its own generator, so rendering one split does not change the other.
    dtype : numpy dtype
    splits : tuple of str
        Which of "train" and "test" to render.

    Returns
    -------
    dict with, for each split s in ``splits``,
        x_s : array of ``dtype``, shape (N, 1, 28, 28), ink = 1
        y_s : int64 array, shape (N,), label k is ``LETTERS[k]``
        font_s : int64 array, shape (N,), index into the split's font tuple
    """
    fonts = {"train": LETTER_FONTS_TRAIN, "test": LETTER_FONTS_TEST}
    per_glyph = {"train": per_glyph_train, "test": per_glyph_test}
    unknown = set(splits) - set(fonts)
    if unknown:
        raise ValueError(f"letters: splits must be 'train' and/or 'test', got {sorted(unknown)}")
    out = {}
    for split in splits:
        key = (split, per_glyph[split], seed, np.dtype(dtype).str)
        if key not in _LETTER_SPLITS:
            rng = np.random.default_rng([seed, list(fonts).index(split)])
            x, y, font = render_letters(fonts[split], per_glyph[split], rng)
            _LETTER_SPLITS[key] = (x.astype(dtype)[:, None], y, font)
        x, y, font = _LETTER_SPLITS[key]
        out.update({f"x_{split}": x.copy(), f"y_{split}": y.copy(), f"font_{split}": font.copy()})
    return out
