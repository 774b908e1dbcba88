"""Layers and their functional ops: the module base, convolution, pooling, activations, norms, blocks."""

from cnnlib.nn.attention import MultiheadAttention
from cnnlib.nn.blocks import Bottleneck, Branches, ResidualBlock
from cnnlib.nn.convnext import ConvNeXtBlock
from cnnlib.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, Flatten,
                              GELU, Identity, Linear, LogSoftmax, MaxPool2d, ReLU, ReLU6,
                              Sigmoid)
from cnnlib.nn.mobile import InvertedResidual, SqueezeExcitation
from cnnlib.nn.module import Module, Sequential
from cnnlib.nn.norm import BatchNorm2d, Dropout
from cnnlib.nn.normalization import GroupNorm, LayerNorm, LayerNorm2d
from cnnlib.nn.transformer import (ClassToken, EncoderBlock, PatchEmbedding, PositionalEmbedding,
                                   SelectToken)
from cnnlib.nn.upsample import Upsample

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Bottleneck", "Branches", "Conv2d",
           "ConvTranspose2d", "Dropout", "Flatten", "GELU", "Identity",
           "Linear", "LogSoftmax", "MaxPool2d", "Module", "ReLU", "ResidualBlock", "Sequential",
           "Upsample", "ClassToken", "ConvNeXtBlock", "EncoderBlock", "GroupNorm",
           "InvertedResidual", "LayerNorm", "LayerNorm2d", "MultiheadAttention", "PatchEmbedding",
           "PositionalEmbedding", "ReLU6", "SelectToken", "Sigmoid", "SqueezeExcitation"]
