"""The functional ops, ``from cnnlib import functional as F``: each forward beside its backward.

Convolution lives in :mod:`cnnlib.nn.conv`, pooling in :mod:`cnnlib.nn.pooling`
and activations in :mod:`cnnlib.nn.activations`; this module gathers them
under one name, as ``torch.nn.functional`` does. Interpolation lives in
:mod:`cnnlib.nn.upsample`, and the detection losses (focal, smooth L1) in
:mod:`cnnlib.losses`.
"""

from cnnlib.losses import (sigmoid_focal_loss, sigmoid_focal_loss_backward, smooth_l1_loss,
                           smooth_l1_loss_backward)
from cnnlib.nn.activations import (gelu, gelu_backward, gelu_with_tanh, log_softmax,
                                   log_softmax_backward, relu, relu_backward, softmax)
from cnnlib.nn.conv import (check_conv_args, col2im, conv2d, conv2d_backward,
                            conv_transpose2d, conv_transpose2d_backward, im2col)
from cnnlib.nn.pooling import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                               adaptive_windows, avg_pool2d, avg_pool2d_backward, max_pool2d,
                               max_pool2d_backward, max_pool2d_with_indices)
from cnnlib.nn.upsample import interpolate, interpolate_backward
from cnnlib.nn.windows import conv_transpose_output_size, output_size

__all__ = [
    "output_size", "conv_transpose_output_size", "im2col", "col2im", "conv2d",
    "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward", "check_conv_args",
    "max_pool2d", "max_pool2d_with_indices", "max_pool2d_backward", "avg_pool2d",
    "avg_pool2d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_windows", "relu", "relu_backward", "gelu", "gelu_with_tanh", "gelu_backward",
    "softmax", "log_softmax", "log_softmax_backward",
    "sigmoid_focal_loss", "sigmoid_focal_loss_backward", "smooth_l1_loss",
    "smooth_l1_loss_backward", "interpolate", "interpolate_backward",
]
