"""Bad input gives an error that names the layer, what it expected and what it got."""

import numpy as np
import pytest

import cnnlib
from cnnlib import functional as F

RNG = np.random.default_rng(0)


def conv(**kw):
    return cnnlib.Conv2d(1, 2, 3, rng=np.random.default_rng(0), **kw)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv2d(np.zeros((3, 8, 8)), np.zeros((1, 3, 3, 3))), ValueError,
     r"conv2d: expected a 4-D input \(N, C, H, W\), got an array with 3 dimensions"),
    (lambda: conv().forward(np.zeros((8, 8))), ValueError,
     r"Conv2d: expected a 4-D input .* 2 dimensions of shape \(8, 8\)"),
    (lambda: cnnlib.Linear(4, 2, rng=RNG).forward(np.zeros((2, 2, 2))), ValueError,
     r"Linear: expected a 2-D input"),
    (lambda: F.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 1, 3, 3))), ValueError,
     r"conv2d: input has 3 channels but the kernel expects 1"),
    (lambda: conv().forward(np.zeros((1, 3, 8, 8))), ValueError,
     r"Conv2d: input has 3 channels but the kernel expects 1"),
    (lambda: cnnlib.Linear(4, 2, rng=RNG).forward(np.zeros((2, 5))), ValueError,
     r"Linear: input has 5 features but the layer expects 4"),
    (lambda: cnnlib.BatchNorm2d(3).forward(np.zeros((2, 4, 2, 2))), ValueError,
     r"BatchNorm2d: input has 4 channels but the layer expects 3"),
    (lambda: F.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3))), ValueError,
     r"conv2d: window 3x3 is larger than the padded input 2x2"),
    (lambda: conv(padding=0).forward(np.zeros((1, 1, 2, 5))), ValueError,
     r"Conv2d: window 3x3 is larger than the padded input 2x5"),
    (lambda: F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=0), ValueError,
     r"conv2d: stride must be a positive int, got 0"),
    (lambda: conv(stride=-1), ValueError, r"Conv2d: stride must be a positive int, got -1"),
    (lambda: cnnlib.MaxPool2d(2, 0), ValueError, r"MaxPool2d: stride must be a positive int, got 0"),
    (lambda: conv(stride=1.5), ValueError, r"Conv2d: stride must be a positive int, got 1.5"),
    (lambda: F.output_size(5, 3, stride=0), ValueError, r"output_size: stride must be a positive int, got 0"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 3, 3)), 4), ValueError,
     r"max_pool2d: pooling window 4x4 is larger than the input 3x3"),
    (lambda: cnnlib.AvgPool2d(3).forward(np.zeros((1, 1, 2, 8))), ValueError,
     r"avg_pool2d: pooling window 3x3 is larger than the input 2x8"),
    (lambda: cnnlib.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"CrossEntropyLoss: labels must lie in \[0, 2\] for 3 classes, got values from 0 to 3"),
    (lambda: cnnlib.NLLLoss().forward(np.zeros((2, 3)), np.array([-1, 0])), ValueError,
     r"NLLLoss: labels must lie in \[0, 2\]"),
    (lambda: cnnlib.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0])),
     TypeError, r"CrossEntropyLoss: labels must be integers, got dtype float64"),
    (lambda: cnnlib.CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0, 1, 2])),
     ValueError, r"CrossEntropyLoss: expected 2 labels of shape \(2,\), got shape \(3,\)"),
    (lambda: cnnlib.CrossEntropyLoss().forward(np.array([[np.nan, 0.0]]), np.array([0])),
     ValueError, r"CrossEntropyLoss: input contains 1 NaN or infinite values"),
    (lambda: cnnlib.MSELoss().forward(np.array([1.0, np.nan]), np.zeros(2)), ValueError,
     r"MSELoss: prediction contains 1 NaN"),
    (lambda: cnnlib.MSELoss().forward(np.zeros((4, 1)), np.zeros(4)), ValueError,
     r"MSELoss: prediction has shape \(4, 1\) but target has shape \(4,\)"),
    (lambda: conv(dtype=np.float32).forward(np.zeros((1, 1, 5, 5))), TypeError,
     r"Conv2d: input is float64 but the layer's parameters are float32"),
    (lambda: cnnlib.Sequential(cnnlib.ReLU(), "relu"), TypeError,
     r"Sequential: item 1 is str, not a Module"),
    (lambda: cnnlib.Branches(), ValueError, r"Branches: give at least one branch"),
    (lambda: cnnlib.MaxPool2d(3, 2, 2), ValueError,
     r"MaxPool2d: padding 2x2 must be at most half the window 3x3"),
    (lambda: cnnlib.MaxPool2d(3, 2, -1), ValueError, r"MaxPool2d: padding"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=(1, 2)), ValueError,
     r"max_pool2d: padding 1x2 must be at most half the window 2x2"),
    (lambda: cnnlib.Branches(cnnlib.ReLU(), cnnlib.MaxPool2d(2)).forward(np.zeros((1, 1, 4, 4))),
     ValueError, r"Branches: the branches' outputs \[\(1, 1, 4, 4\), \(1, 1, 2, 2\)\] differ"),
    (lambda: cnnlib.Branches(conv(), conv(dtype=np.float32)), TypeError,
     r"Branches: the branches mix dtypes"),
])
def test_bad_input_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
