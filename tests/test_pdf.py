"""The PDF route's logic (tools/pdf.py): contents page numbers and the checks of make pdf-check.

Printing the book takes a second Sphinx build and three Chromium prints, so
the PDF itself is built and checked by `make pdf-check`, not by `make test`;
these tests cover the logic that decides page numbers and verdicts.
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pdf  # noqa: E402

TITLES = ["Introduction", "1. The sliding window", "2. Convolution by hand"]
GOOD_TEXT = "Introduction\n1. The sliding window\nwe compute \u2202L/\u2202X here\n2. Convolution by hand\n"


def test_heading_pages_skip_the_contents_and_quotations():
    texts = [
        "Title page",
        "Contents\n1. The sliding window 3\n1.1. Dense layers 3\n2. Convolution by hand 4",
        "Intro\nWhat you will learn:\n1. The sliding window. Why a dense layer is a poor fit",
        "1. The sliding window\nText.\n1.1. Dense layers\nMore.",
        "2. Convolution\nby hand\nThe grid.",
    ]
    entries = ["Intro", "1. The sliding window", "1.1. Dense layers", "2. Convolution by hand"]
    assert pdf.heading_pages(entries, texts, first=2) == [3, 4, 4, 5]


def test_heading_pages_never_go_back():
    texts = ["1.2. Later\n", "1.1. Earlier\n"]
    with pytest.raises(pdf.PrintError, match="'1.2. Later' is on no printed page from page 2"):
        pdf.heading_pages(["1.1. Earlier", "1.2. Later"], texts, first=0)


def test_a_missing_heading_is_an_error_that_names_it():
    with pytest.raises(pdf.PrintError, match="'3. Tracking dimensions'"):
        pdf.heading_pages(["3. Tracking dimensions"], ["3. Tracking\n", "dimensions\n"], first=0)


def test_pdf_problems_accepts_a_good_book():
    assert pdf.pdf_problems(120, GOOD_TEXT, 30, TITLES, ["frac", "times"]) == []


@pytest.mark.parametrize("change, problem", [
    (dict(n_pages=79), "79 pages, expected at least 80"),
    (dict(n_images=19), "19 images, expected at least 20"),
    (dict(titles=TITLES + ["3. Tracking dimensions"]), "no chapter title '3. Tracking dimensions'"),
    (dict(text=GOOD_TEXT + "the size is \\(n + 2p\\)"), "raw TeX"),
    (dict(text=GOOD_TEXT + "$$ y = x $$"), "raw TeX"),
    (dict(text=GOOD_TEXT + "a \\frac{1}{2} here"), "raw TeX"),
    (dict(text=GOOD_TEXT + "VBox(children=(IntSlider(value=5),))"), "plain text instead of their figure"),
    (dict(text=GOOD_TEXT + "<IPython.core.display.HTML object>"), "plain text instead of their figure"),
    (dict(text=GOOD_TEXT + "<Figure size 640x480 with 1 Axes>"), "plain text instead of their figure"),
])
def test_pdf_problems_names_each_failure(change, problem):
    args = dict(n_pages=120, text=GOOD_TEXT, n_images=30, titles=TITLES, commands=["frac"])
    args.update(change)
    problems = pdf.pdf_problems(**args)
    assert len(problems) == 1 and problem in problems[0]


def test_code_is_neither_raw_tex_nor_a_fallback():
    text = (GOOD_TEXT + 'print("dL/dX =\\n", dx)\nax.set_title("a\\ncorr(X, G)")\n'
            "row = widgets.HBox([slider, out])\n")
    assert pdf.pdf_problems(120, text, 30, TITLES, pdf.tex_commands()) == []


def test_chapter_titles_follow_the_toc_and_its_numbering():
    _, parts = pdf.toc_parts()
    titles = pdf.chapter_titles()
    assert len(titles) == sum(len(docs) for _, _, docs in parts)
    numbered = [t for t in titles if t[0].isdigit()]
    assert numbered[0].startswith("1. ") and numbered[-1].startswith(f"{len(numbered)}. ")
    assert titles[0] == pdf.document_title(parts[0][2][0])


def test_the_book_uses_tex_commands_the_check_looks_for():
    assert {"frac", "times"} <= set(pdf.tex_commands())


def test_title_page_escapes_the_configuration(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text('title: "Nets <from> Scratch & more"\nauthor: A & B\ncopyright: "2026"\n')
    title, page = pdf.title_page(config)
    assert title == "Nets <from> Scratch & more"
    assert "Nets &lt;from&gt; Scratch &amp; more" in page and "A &amp; B" in page and "© 2026" in page


@pytest.mark.skipif(shutil.which("pdfimages") is None,
                    reason="poppler-utils is not installed (make pdf needs it)")
def test_poppler_readers_on_a_small_pdf(tmp_path, agg):
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "two.pdf"
    with PdfPages(path) as pages:
        for name in ("first page", "second page"):
            fig, ax = agg.subplots()
            ax.imshow([[0, 1], [1, 0]])
            ax.set_title(name)
            pages.savefig(fig)
    data = path.read_bytes()
    assert pdf.page_count(data) == 2
    assert pdf.image_count(data) == 2
    texts = pdf.page_texts(data)
    assert "first page" in texts[0] and "second page" in texts[1]
