// CAM (Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016, sec. 2):
// M_c(x, y) = sum_k w^c_k f_k(x, y), where f_k is the k-th feature map entering the global
// average pooling and w^c the classifier row of class c. Pure function; no I/O, no state.
#pragma once

#include <ATen/ATen.h>

namespace camkit::methods {

/// Raw maps for the classifier rows `weight` (k, C) over one image's features (C, h, w):
/// one (k, C) x (C, h*w) product, returned as (k, h, w). No bias, no ReLU.
at::Tensor cam(const at::Tensor& weight, const at::Tensor& features);

}  // namespace camkit::methods
