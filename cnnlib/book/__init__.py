"""What the chapters need beyond the library: explorers, viewers, figures, datasets, experiments.

Unlike the rest of cnnlib, this subpackage needs the ``[book]`` extra
(matplotlib, ipywidgets, scikit-learn, threadpoolctl).
"""
