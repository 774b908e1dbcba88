"""Layers and their functional ops: the module base, convolution, pooling, activations, norms, blocks."""

from cnnlib.nn.blocks import ResidualBlock
from cnnlib.nn.layers import (AvgPool2d, Conv2d, Flatten, GELU, Identity, Linear, LogSoftmax,
                              MaxPool2d, ReLU)
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.norm import BatchNorm2d, Dropout

__all__ = ["AvgPool2d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten", "GELU", "Identity",
           "Linear", "LogSoftmax", "MaxPool2d", "Module", "ReLU", "ResidualBlock", "Sequential"]
