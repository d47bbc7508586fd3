// One explained input -> its camkit eval record (maps to boxes and peaks; docs/eval.md).
#include <algorithm>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

ImageRecord predictions_record(const Explanation& ex, const GroundTruth& truth) {
  ImageRecord rec;
  rec.labels = truth.labels;
  if (ex.binary) {
    const bool positive = !ex.predictions.empty() && ex.predictions.front().positive;
    rec.predicted = {positive ? 1 : 0};
  } else {
    for (const Prediction& p : ex.predictions) rec.predicted.push_back(p.class_index);
  }
  if (ex.task == Task::multilabel) {
    rec.scores = ex.scores;
    rec.positives = ex.positives;
  }
  return rec;
}

// The map that localises class c: the single logit's for binary models.
const ClassMap* map_of(const Explanation& ex, int c) {
  const ClassMap* map = ex.binary && !ex.maps.empty() ? &ex.maps.front() : nullptr;
  for (const ClassMap& m : ex.maps)
    if (!ex.binary && m.prediction.class_index == c) map = &m;
  if (!map)
    throw Error(ErrorCode::usage, "eval: the explanation has no map of class " + std::to_string(c));
  return map;
}

}  // namespace

ImageRecord eval_record_3d(const Explanation& ex, const Volume& volume, const GroundTruth& truth,
                           const std::map<std::string, std::shared_ptr<const VoxelMask>>& masks,
                           const std::vector<float>& thresholds) {
  if (thresholds.empty()) throw Error(ErrorCode::usage, "eval: at least one box threshold");
  ImageRecord rec = predictions_record(ex, truth);
  for (int c : truth.labels) {
    ClassTrial trial;
    trial.class_index = c;
    trial.volume = true;
    trial.truth = truth.boxes_of(c);
    for (const std::string& path : truth.masks_of(c)) {
      const auto it = masks.find(path);
      if (it == masks.end() || !it->second)
        throw Error(ErrorCode::usage, "eval: the mask " + path + " was not read");
      trial.masks.push_back(it->second);
    }
    for (const auto& m : trial.masks) trial.truth.push_back(*m->bounds());
    if (trial.truth.empty() || (ex.binary && c != 1)) continue;
    const ClassMap* map = map_of(ex, c);
    // On the scan's own grid (the NIfTI map camkit explain writes): the raw map trilinearly
    // upsampled straight to the scan, so boxes and peaks are in the scan's voxels.
    const Map display = display_map(map->raw, volume.depth, volume.height, volume.width,
                                    method_uses_relu(ex.method));
    for (float t : thresholds) trial.boxes.push_back(largest_component_box(display, t));
    const auto& d = display.data;
    const std::size_t at =
        static_cast<std::size_t>(std::max_element(d.begin(), d.end()) - d.begin());
    const std::size_t w = static_cast<std::size_t>(volume.width);
    const std::size_t h = static_cast<std::size_t>(volume.height);
    trial.peak_x = static_cast<double>(at % w) + 0.5;
    trial.peak_y = static_cast<double>(at / w % h) + 0.5;
    trial.peak_z = static_cast<double>(at / (w * h)) + 0.5;
    rec.trials.push_back(std::move(trial));
  }
  return rec;
}

ImageRecord eval_record(const Explanation& ex, const Prepared& input, const GroundTruth& truth,
                        const std::vector<float>& thresholds) {
  if (thresholds.empty()) throw Error(ErrorCode::usage, "eval: at least one box threshold");
  ImageRecord rec = predictions_record(ex, truth);
  for (int c : truth.labels) {
    ClassTrial trial;
    trial.class_index = c;
    trial.truth = truth.boxes_of(c);
    // Binary models localise only positives, with the single logit's map.
    if (trial.truth.empty() || (ex.binary && c != 1)) continue;
    const ClassMap* map = map_of(ex, c);
    // One display map per trial; every threshold's box comes from it. As camkit explain: no
    // ReLU for CAM (its paper min-max normalises the class map as is), ReLU for the others.
    const Localization loc =
        localize(map->raw, input, thresholds.front(), method_uses_relu(ex.method));
    trial.boxes.push_back(loc.box);
    for (size_t i = 1; i < thresholds.size(); ++i)
      trial.boxes.push_back(image_box(loc.display, input.geometry, thresholds[i]));
    trial.peak_x = loc.peak_x;
    trial.peak_y = loc.peak_y;
    rec.trials.push_back(std::move(trial));
  }
  return rec;
}

}  // namespace camkit
