"""cnnlib: a small NumPy library of CNN layers, losses, optimisers and tools.

The core needs only NumPy. The chapters' helpers live in :mod:`cnnlib.book`,
which needs the ``[book]`` extra.
"""

from cnnlib import data, functional, init, models, nn, parallel, tools, train
from cnnlib import interop
from cnnlib.autograd import Value
from cnnlib.io import load_weights, save_weights
from cnnlib.losses import CrossEntropyLoss, MSELoss, NLLLoss
from cnnlib.losses import SigmoidFocalLoss, SmoothL1Loss
from cnnlib.nn import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Bottleneck, Branches,
                       Conv2d, ConvTranspose2d, Dropout, Flatten, GELU, Identity, Linear,
                       LogSoftmax, MaxPool2d, Module, ReLU, ResidualBlock, Sequential)
from cnnlib.nn import (ClassToken, ConvNeXtBlock, EncoderBlock, GroupNorm, InvertedResidual,
                       LayerNorm, LayerNorm2d, MultiheadAttention, PatchEmbedding,
                       PositionalEmbedding, ReLU6, SelectToken, Sigmoid, SqueezeExcitation,
                       Upsample)
from cnnlib.optim import SGD, Adam
from cnnlib.parallel import DataParallel
from cnnlib.tools import gradcheck, shapes
from cnnlib.tools.shapes import receptive_field, summary
from cnnlib import averaging, lr_range, monitor, progress, schedules
from cnnlib.nn.module import no_grad

__all__ = [
    "data", "functional", "gradcheck", "init", "models", "nn", "parallel", "shapes", "tools",
    "train", "DataParallel",
    "Value", "load_weights", "save_weights",
    "AvgPool2d", "Conv2d", "Flatten", "GELU", "Identity", "Linear", "LogSoftmax", "MaxPool2d",
    "ReLU", "CrossEntropyLoss", "MSELoss", "NLLLoss", "Module", "Sequential", "BatchNorm2d",
    "Dropout", "SGD", "Adam", "ResidualBlock", "receptive_field", "summary",
    "AdaptiveAvgPool2d", "Bottleneck", "Branches", "ConvTranspose2d",
    "averaging", "lr_range", "monitor", "progress", "schedules",
    "SigmoidFocalLoss", "SmoothL1Loss", "Upsample",
    "ClassToken", "ConvNeXtBlock", "EncoderBlock", "GroupNorm", "InvertedResidual",
    "LayerNorm", "LayerNorm2d", "MultiheadAttention", "PatchEmbedding",
    "PositionalEmbedding", "ReLU6", "SelectToken", "Sigmoid", "SqueezeExcitation",
    "interop",
    "no_grad",
]
