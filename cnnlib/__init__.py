"""cnnlib: a small NumPy library of CNN layers, losses, optimisers and tools."""

from cnnlib import data, functional, gradcheck, init, shapes, train
from cnnlib.autograd import Value
from cnnlib.io import load_weights, save_weights
from cnnlib.layers import (AvgPool2d, Conv2d, Flatten, GELU, Identity, Linear, LogSoftmax,
                           MaxPool2d, ReLU)
from cnnlib.losses import CrossEntropyLoss, MSELoss, NLLLoss
from cnnlib.module import Module, Sequential
from cnnlib.norm import BatchNorm2d, Dropout
from cnnlib.optim import SGD, Adam
from cnnlib.residual import ResidualBlock
from cnnlib.shapes import receptive_field, summary

__all__ = [
    "data", "functional", "gradcheck", "init", "shapes", "train", "Value", "load_weights",
    "save_weights",
    "AvgPool2d", "Conv2d", "Flatten", "GELU", "Identity", "Linear", "LogSoftmax", "MaxPool2d",
    "ReLU", "CrossEntropyLoss", "MSELoss", "NLLLoss", "Module", "Sequential", "BatchNorm2d",
    "Dropout", "SGD", "Adam", "ResidualBlock", "receptive_field", "summary",
]
