"""Layers and their functional ops: the module base, convolution, pooling, activations, norms, blocks."""

from cnnlib.nn.blocks import Bottleneck, Branches, ResidualBlock
from cnnlib.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, Flatten,
                              GELU, Identity, Linear, LogSoftmax, MaxPool2d, ReLU)
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.norm import BatchNorm2d, Dropout
from cnnlib.nn.upsample import Upsample

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Bottleneck", "Branches", "Conv2d",
           "ConvTranspose2d", "Dropout", "Flatten", "GELU", "Identity",
           "Linear", "LogSoftmax", "MaxPool2d", "Module", "ReLU", "ResidualBlock", "Sequential",
           "Upsample"]
