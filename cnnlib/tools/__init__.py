"""Tools for looking at models: shapes, gradient checks, timing, attribution, FGSM, calibration."""

from cnnlib.tools.adversarial import fgsm, fgsm_accuracy, loss_gradient
from cnnlib.tools.attribution import (grad_cam, gradient_times_input, input_gradient,
                                      integrated_gradients, occlusion, patches_to_pixels, rank,
                                      saliency, spearman)
from cnnlib.tools.calibration import (Reliability, expected_calibration_error, reliability,
                                      top_k_accuracy)
from cnnlib.tools.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.tools.inspect import layer_outputs, receptive_box, top_patches
from cnnlib.tools.shapes import receptive_field, summary

__all__ = ["check_layer", "numerical_gradient", "receptive_field", "rel_error", "summary",
           "Reliability", "expected_calibration_error", "fgsm", "fgsm_accuracy", "grad_cam",
           "gradient_times_input", "input_gradient", "integrated_gradients", "layer_outputs",
           "loss_gradient", "occlusion", "patches_to_pixels", "rank", "receptive_box",
           "reliability", "saliency", "spearman", "top_k_accuracy", "top_patches"]
