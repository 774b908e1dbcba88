"""What the chapters need beyond the library: widgets, figures, datasets, references, experiments.

Unlike the rest of cnnlib, this subpackage needs the ``[book]`` extra
(matplotlib, ipywidgets, scikit-learn, threadpoolctl).
"""
