"""The bridge to PyTorch and ONNX: convert a model, load a state dict, export a graph.

Every function here imports PyTorch (or onnx) when it is called, never when
this module is imported, so ``import cnnlib`` keeps needing NumPy alone.
"""

from cnnlib.interop.convert import CONVERTERS, register, to_torch
from cnnlib.interop.export import export_onnx
from cnnlib.interop import modern  # registers the converters of the modern layers
from cnnlib.interop.state import load_state_dict

__all__ = ["CONVERTERS", "export_onnx", "load_state_dict", "register", "to_torch"]
