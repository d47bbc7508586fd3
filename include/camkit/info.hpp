// camkit/info.hpp — what camkit found in a model, as one JSON object (`camkit info --json`).
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   std::cout << camkit::model_info_json(model) << "\n";   // {"head": {...}, "layer": {...}, ...}
//   if (std::string why = camkit::gradient_status(model); !why.empty()) std::cerr << why << "\n";
//
// The camkit command (`camkit info --json`) and the Python module (`Model.info()`) both print
// this object, so they cannot differ. Fields: model, input, preprocess, head, output,
// num_classes, task, layer, gradients {available, reason}, max_batch, modules, metadata.
//
// Threading: reentrant; the Model may be shared.
#pragma once

#include <string>

#include "camkit/model.hpp"

namespace camkit {

/// "" when gradient methods can run on the model (one probe backward pass reaches the layer;
/// checked once per model), else why not, one line.
std::string gradient_status(const Model& model);

/// The model's description as compact JSON text (one line, no trailing newline); file names
/// that are not UTF-8 have their bytes replaced by U+FFFD.
std::string model_info_json(const Model& model);

}  // namespace camkit
