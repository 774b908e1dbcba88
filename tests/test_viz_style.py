"""The book's figure style: legible text at phone width, and no code that sets smaller text."""

import ast
import json
import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest

from book_pages import STYLED_CHAPTERS
from cnnlib.book import viz

ROOT = Path(__file__).resolve().parent.parent
# Keyword arguments that set a text's size in matplotlib calls.
SIZE_KEYWORDS = {"fontsize", "size", "labelsize", "titlesize", "title_fontsize"}
SIZE_CALLS = {"text", "annotate", "set_title", "set_xlabel", "set_ylabel", "suptitle",
              "supxlabel", "supylabel", "legend", "tick_params", "set_xticklabels",
              "set_yticklabels", "title", "xlabel", "ylabel", "colorbar", "figtext",
              "bar_label", "clabel", "set_fontsize", "Text"}


def small_font_sizes(source, minimum=viz.MIN_FONTSIZE, *, skip=()):
    """(line, size) of each literal font size below ``minimum`` in Python source.

    Counts ``fontsize=9`` (and the other size keywords) in text-drawing calls,
    ``fontsize=8`` in any call, ``set_fontsize(9)``, and ``"font.size": 9`` in
    rcParams dicts. Sizes given by name ("small") count as too small too.
    Code inside the functions named in ``skip`` ("Class.method" or "function")
    is not scanned.
    """
    named = {"xx-small", "x-small", "small", "smaller"}
    found = []

    def too_small(node):
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value < minimum
            return isinstance(value, str) and value in named
        return False

    def nodes(tree, prefix=""):
        for child in ast.iter_child_nodes(tree):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if name not in skip:
                    yield from nodes(child, name + ".")
            else:
                yield child
                yield from nodes(child, prefix)

    for node in nodes(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            for kw in node.keywords:
                if kw.arg == "fontsize" or (kw.arg in SIZE_KEYWORDS and name in SIZE_CALLS):
                    if too_small(kw.value):
                        found.append((node.lineno, kw.value.value))
            if name == "set_fontsize" and node.args and too_small(node.args[0]):
                found.append((node.lineno, node.args[0].value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                        and re.search(r"(font\.size|labelsize|titlesize|fontsize)$", key.value)
                        and too_small(value)):
                    found.append((node.lineno, value.value))
    return sorted(found)


def notebook_code(path):
    """The code cells of a notebook as one Python source (magics dropped)."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            lines.extend(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
    return "\n".join(lines)


def test_the_rule_in_numbers():
    assert viz.MAX_WIDTH == pytest.approx(5.0)
    assert viz.MIN_FONTSIZE / viz.MAX_WIDTH >= viz.MIN_RATIO
    # the rule is the 11 CSS px floor at a 358 px column: pt * 358 / (72 * W) >= 11
    assert viz.MIN_RATIO * 358 / 72 == pytest.approx(10.94, abs=0.01)
    style = viz.BOOK_STYLE
    sizes = [v for k, v in style.items() if k.endswith(("size", "fontsize")) and k != "figure.figsize"]
    assert min(sizes) == viz.MIN_FONTSIZE
    assert style["figure.figsize"][0] <= viz.MAX_WIDTH


def test_use_book_style_sets_rcparams(agg):
    with mpl.rc_context():
        mpl.rcParams["font.size"] = 7
        viz.use_book_style()
        assert mpl.rcParams["font.size"] == 12
        assert mpl.rcParams["xtick.labelsize"] == viz.MIN_FONTSIZE
        assert tuple(mpl.rcParams["figure.figsize"]) == (viz.MAX_WIDTH, 3.2)


def test_legibility_problems_finds_small_text(agg):
    with mpl.rc_context(viz.BOOK_STYLE):
        fig, ax = agg.subplots(figsize=(5, 3))
        ax.plot([0, 1])
        ax.set_title("fine")
        assert viz.legibility_problems(fig) == []
        ax.text(0.5, 0.5, "tiny", fontsize=10)
        assert viz.legibility_problems(fig) == [("tiny", 10.0)]
        fig.set_figwidth(7)      # 12 / 7 < 2.2: now the title and ticks are too small too
        problems = dict(viz.legibility_problems(fig))
        assert problems["fine"] == 12 and "tiny" in problems and len(problems) > 3


@pytest.mark.parametrize("n", [3, 6])
def test_helpers_draw_legible_figures(agg, n):
    with mpl.rc_context(viz.BOOK_STYLE):
        fig = viz.show_images(np.zeros((n, 5, 5)), [f"#{i}" for i in range(n)])
        assert fig.get_figwidth() <= viz.MAX_WIDTH + 1e-9
        assert viz.legibility_problems(fig) == []
        fig, ax = agg.subplots(figsize=(4, 4))
        viz.heatmap(ax, np.arange(16.0).reshape(4, 4), title="h")
        assert viz.legibility_problems(fig) == []


def test_scanner_catches_small_sizes():
    src = ("ax.text(0, 0, 's', fontsize=9)\nax.set_title('t', size=8)\n"
           "ax.tick_params(labelsize='small')\nplt.rcParams.update({'font.size': 10})\n"
           "t.set_fontsize(7)\nax.text(0, 0, 'ok', fontsize=11)\nnp.zeros(size=3)\n"
           "f(fontsize=6)\n")
    assert [line for line, _ in small_font_sizes(src)] == [1, 2, 3, 4, 5, 8]
    method = "class A:\n    def f(self):\n        ax.text(0, 0, 's', fontsize=9)\n"
    assert small_font_sizes(method) == [(3, 9)]
    assert small_font_sizes(method, skip={"A.f"}) == []


BOOK_HELPERS = sorted((ROOT / "cnnlib" / "book").rglob("*.py"))
# The explorers' frames are saved inside the chapters' HTML outputs, which
# nbval compares; their sizes change together with re-executing chapters 1-3.
# They are shown at a fixed size (the browser test checks that size instead).
EXPLORER_FRAMES = {"widgets/kernel.py": {"KernelExplorer.figure"},
                   "widgets/positions.py": {"PositionsExplorer.draw"},
                   "widgets/signal.py": {"_StepPlot"}}


@pytest.mark.parametrize("path", BOOK_HELPERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_figure_helpers_set_no_small_fonts(path):
    skip = EXPLORER_FRAMES.get(str(path.relative_to(ROOT / "cnnlib" / "book")), ())
    assert small_font_sizes(path.read_text(encoding="utf-8"), skip=skip) == []


def test_styled_chapters_set_no_small_fonts_and_use_the_style():
    # one test over the list (not a parametrized one), so an empty list skips nothing
    problems = {}
    for docname in STYLED_CHAPTERS:
        source = notebook_code(ROOT / f"{docname}.ipynb")
        if "use_book_style()" not in source:
            problems[docname] = "does not call use_book_style()"
        elif small_font_sizes(source):
            problems[docname] = f"font sizes below {viz.MIN_FONTSIZE} pt (line, size): " \
                                f"{small_font_sizes(source)}"
    assert problems == {}


def test_notebook_code_drops_magics(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", "x = 1"]},
                    {"cell_type": "markdown", "source": ["fontsize=3"]}]}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    assert notebook_code(tmp_path / "a.ipynb") == "x = 1"
