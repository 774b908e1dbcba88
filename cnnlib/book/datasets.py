"""Datasets that need the book's extras: scikit-learn's digits and letters rendered from fonts."""

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from cnnlib.checks import check_int, check_number


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
    test_fraction = check_number("digits: test_fraction", test_fraction, low=0, high=1,
                                 low_open=True, high_open=True)
    seed = check_int("digits: seed", seed, minimum=0)
    bunch = load_digits()
    n_test = math.ceil(test_fraction * len(bunch.target))
    if not 10 <= n_test <= len(bunch.target) - 10:
        raise ValueError(f"digits: test_fraction {test_fraction} leaves {n_test} test images; "
                         f"each of the 10 classes needs at least one test and one training "
                         f"image, so choose a fraction between about 0.006 and 0.994")
    x = (bunch.images / 16.0).astype(dtype)[:, None]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


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
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


_GLYPHS = {}


def _glyph(font, char):
    """Outline of ``char`` in ``font`` as a matplotlib Path, centred on (0, 0), longest side 1."""
    key = (font, char)
    if key not in _GLYPHS:
        path = TextPath((0, 0), char, size=100, prop=FontProperties(fname=_font_file(font)))
        box = path.get_extents()
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        verts = (path.vertices - centre) / max(box.width, box.height)
        _GLYPHS[key] = MplPath(verts, path.codes)
    return _GLYPHS[key]


def render_glyphs(glyphs, *, rng, size=28, box=20.0, max_shift=1.0, max_rotation=12.0,
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


def render_letters(fonts, per_glyph, *, rng, **options):
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
    x = render_glyphs([(fonts[f], c) for f, _, c in items], rng=rng, **options)
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
    per_glyph = {"train": check_int("letters: per_glyph_train", per_glyph_train),
                 "test": check_int("letters: per_glyph_test", per_glyph_test)}
    unknown = set(splits) - set(fonts)
    if unknown:
        raise ValueError(f"letters: splits must be 'train' and/or 'test', got {sorted(unknown)}")
    out = {}
    for split in splits:
        key = (split, per_glyph[split], seed, np.dtype(dtype).str)
        if key not in _LETTER_SPLITS:
            rng = np.random.default_rng([seed, list(fonts).index(split)])
            x, y, font = render_letters(fonts[split], per_glyph[split], rng=rng)
            _LETTER_SPLITS[key] = (x.astype(dtype)[:, None], y, font)
        x, y, font = _LETTER_SPLITS[key]
        out.update({f"x_{split}": x.copy(), f"y_{split}": y.copy(), f"font_{split}": font.copy()})
    return out
