"""Which chapters follow the book's figure style, shared by the style and browser tests.

A chapter is listed once its setup cell calls ``cnnlib.book.viz.use_book_style()``
and its notebook has been re-executed with it. For the listed chapters, the
browser test's figure-legibility check and the font-size scan in
tests/test_viz_style.py are hard failures; the other chapters are reported only.
"""

STYLED_CHAPTERS = (
)
"""Docnames such as ``"book/05_first_cnn"`` (extend as chapters are re-executed)."""
