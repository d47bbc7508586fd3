// One explained input -> its camkit eval record (maps to boxes and peaks; docs/eval.md).
#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {

ImageRecord eval_record(const Explanation& ex, const Prepared& input, const GroundTruth& truth,
                        const std::vector<float>& thresholds) {
  if (thresholds.empty()) throw Error(ErrorCode::usage, "eval: at least one box threshold");
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
  for (int c : truth.labels) {
    ClassTrial trial;
    trial.class_index = c;
    trial.truth = truth.boxes_of(c);
    // Binary models localise only positives, with the single logit's map.
    if (trial.truth.empty() || (ex.binary && c != 1)) continue;
    const ClassMap* map = ex.binary && !ex.maps.empty() ? &ex.maps.front() : nullptr;
    for (const ClassMap& m : ex.maps)
      if (!ex.binary && m.prediction.class_index == c) map = &m;
    if (!map)
      throw Error(ErrorCode::usage,
                  "eval: the explanation has no map of class " + std::to_string(c));
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
