"""Which chapters follow the book's figure style, shared by the style and browser tests.

A chapter is listed once its setup cell calls ``cnnlib.book.viz.use_book_style()``
and its notebook has been re-executed with it. For the listed chapters, the
browser test's figure-legibility check and the font-size scan in
tests/test_viz_style.py are hard failures; the other chapters are reported only.
"""

STYLED_CHAPTERS = (
    "book/01_sliding_window", "book/02_convolution_by_hand", "book/03_tracking_dimensions",
    "book/04_backprop", "book/05_first_cnn", "book/06_training_machinery",
    "book/07_letters_classifier", "book/09_training_recipes",
    "book/08_resnet", "book/10_modern_blocks", "book/11_fashion_mnist",
    "book/12_what_a_cnn_sees", "book/13_attribution_attacks_calibration",
    "book/14_detection_segmentation", "book/15_modern_convnets_vit", "book/16_fast_convolution",
    "book/17_to_pytorch",
)
"""Docnames such as ``"book/05_first_cnn"`` (extend as chapters are re-executed)."""
