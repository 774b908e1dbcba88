"""Tools for looking at models: shapes and receptive fields, gradient checks, timing."""

from cnnlib.tools.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.tools.shapes import receptive_field, summary

__all__ = ["check_layer", "numerical_gradient", "receptive_field", "rel_error", "summary"]
