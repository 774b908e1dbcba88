"""The functional ops, ``from cnnlib import functional as F``: each forward beside its backward.

Convolution lives in :mod:`cnnlib.nn.conv`, pooling in :mod:`cnnlib.nn.pooling`,
activations in :mod:`cnnlib.nn.activations`, layer and group norm in
:mod:`cnnlib.nn.normalization`, attention in :mod:`cnnlib.nn.attention`,
interpolation in :mod:`cnnlib.nn.upsample` and the detection losses (focal,
smooth L1) in :mod:`cnnlib.losses`; this module gathers them under one name, as
``torch.nn.functional`` does.
"""

from cnnlib.losses import (sigmoid_focal_loss, sigmoid_focal_loss_backward, smooth_l1_loss,
                           smooth_l1_loss_backward)
from cnnlib.nn.activations import (gelu, gelu_backward, gelu_erf_backward, gelu_erf_with_cdf,
                                   gelu_with_tanh, log_softmax, log_softmax_backward, normal_cdf,
                                   relu, relu6, relu_backward, sigmoid, sigmoid_backward, softmax)
from cnnlib.nn.conv import (check_conv_args, col2im, conv2d, conv2d_backward,
                            conv_transpose2d, conv_transpose2d_backward, im2col)
from cnnlib.nn.pooling import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                               adaptive_windows, avg_pool2d, avg_pool2d_backward, max_pool2d,
                               max_pool2d_backward, max_pool2d_with_indices)
from cnnlib.nn.attention import (scaled_dot_product_attention,
                                 scaled_dot_product_attention_backward,
                                 scaled_dot_product_attention_forward)
from cnnlib.nn.normalization import (group_norm, group_norm_backward, group_norm_forward,
                                     layer_norm, layer_norm2d, layer_norm2d_backward,
                                     layer_norm2d_forward, layer_norm_backward,
                                     layer_norm_forward)
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
    "gelu_erf_with_cdf", "gelu_erf_backward", "normal_cdf", "relu6", "sigmoid", "sigmoid_backward",
    "scaled_dot_product_attention", "scaled_dot_product_attention_forward",
    "scaled_dot_product_attention_backward", "layer_norm", "layer_norm_forward",
    "layer_norm_backward", "layer_norm2d", "layer_norm2d_forward", "layer_norm2d_backward",
    "group_norm", "group_norm_forward", "group_norm_backward",
]
