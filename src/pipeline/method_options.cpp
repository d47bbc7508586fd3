// The record's account of what modified the method (docs/methods.md, "Smoothing").
#include <cmath>

#include "pipeline/stages.hpp"

namespace camkit::pipeline {

nlohmann::json method_options_json(const ExplainOptions& e) {
  nlohmann::json j = nlohmann::json::object();
  if (e.eigen_smooth) j["eigen_smooth"] = true;
  if (e.aug_smooth) {
    j["augmentations"] = nlohmann::json::array();
    for (const Augmentation& a : augmentations())
      j["augmentations"].push_back(
          {{"hflip", a.flip}, {"scale", std::round(a.scale * 100.0) / 100.0}});
  }
  if (e.method == Method::smoothgradcam_pp || e.method == Method::sscam)
    j["noise"] = {{"sigma", e.noise_sigma}, {"samples", e.samples}, {"seed", e.seed}};
  if (e.method == Method::iscam) j["steps"] = e.samples;
  return j.empty() ? nlohmann::json() : j;
}

}  // namespace camkit::pipeline
