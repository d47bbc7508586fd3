// Faithfulness of one map: the perturbed inputs through the model (docs/eval.md).
#include <algorithm>

#include "camkit/error.hpp"
#include "camkit/faithfulness.hpp"

namespace camkit {

FaithfulnessTrial faithfulness_trial(const Explainer& explainer, const Prepared& input,
                                     const Map& display, int class_index,
                                     const FaithfulnessOptions& options) {
  if (options.batch_size < 1)
    throw Error(ErrorCode::usage, "faithfulness: the batch size must be at least 1");
  if (class_index < 0)
    throw Error(ErrorCode::usage, "faithfulness: class " + std::to_string(class_index));
  const Prepared masked = masked_input(input, display);  // checks the map's size
  const std::vector<int> counts = step_counts(input.height * input.width, options.steps);
  const std::vector<int> order = saliency_order(display);

  const std::vector<double>& percentiles = options.road_percentiles;
  for (double p : percentiles) road_removed({}, p, true);  // checks every percentile first

  // Scored in this order: deletion steps 0..S, insertion steps 0..S, the masked input, then
  // ROAD's MoRF and LeRF points. Each curve is built in place, one step's pixels at a time,
  // and copied into the batch; each ROAD input is imputed when its turn comes.
  Prepared zeros = input;
  std::fill(zeros.chw.begin(), zeros.chw.end(), 0.f);
  Prepared deleted = input, inserted = rise_blur(input);
  const size_t points = counts.size(), road = percentiles.size();
  const size_t total = 2 * points + 1 + 2 * road;
  std::vector<double> probability;
  probability.reserve(total);
  std::vector<Prepared> batch;
  for (size_t i = 0; i < total; ++i) {
    if (i < 2 * points) {
      const size_t s = i % points;
      const int from = s ? counts[s - 1] : 0;
      Prepared& x = i < points ? deleted : inserted;
      paste_pixels(x, i < points ? zeros : input, order, from, counts[s]);
      batch.push_back(x);
    } else if (i == 2 * points) {
      batch.push_back(masked);
    } else {
      const size_t r = i - 2 * points - 1;  // MoRF points, then LeRF points
      const bool morf = r < road;
      const double p = percentiles[morf ? r : r - road];
      // One noise stream per curve point, reproducible whatever the batch size.
      batch.push_back(road_impute(input, road_removed(order, p, morf), options.road_noise,
                                  options.road_seed * 1000003ULL + r));
    }
    if (batch.size() < static_cast<size_t>(options.batch_size) && i + 1 < total) continue;
    std::vector<const Prepared*> ptrs;
    for (const Prepared& p : batch) ptrs.push_back(&p);
    for (const std::vector<float>& row : explainer.scores(ptrs, options.batch_size)) {
      if (class_index >= static_cast<int>(row.size()))
        throw Error(ErrorCode::usage, "faithfulness: class " + std::to_string(class_index) +
                                          " out of range: the model has " +
                                          std::to_string(row.size()) + " outputs");
      probability.push_back(row[static_cast<size_t>(class_index)]);
    }
    batch.clear();
  }

  FaithfulnessTrial t;
  t.class_index = class_index;
  const double pixels = counts.back();
  for (int k : counts) t.fraction.push_back(k / pixels);
  t.deletion.assign(probability.begin(), probability.begin() + points);
  t.insertion.assign(probability.begin() + points, probability.begin() + 2 * points);
  t.deletion_auc = trapezoid_auc(t.fraction, t.deletion);
  t.insertion_auc = trapezoid_auc(t.fraction, t.insertion);
  t.full_score = t.deletion.front();
  t.masked_score = probability[2 * points];
  t.road_morf.assign(probability.begin() + 2 * points + 1,
                     probability.begin() + 2 * points + 1 + road);
  t.road_lerf.assign(probability.begin() + 2 * points + 1 + road, probability.end());
  t.drop = t.full_score > 0 ? std::max(0.0, t.full_score - t.masked_score) / t.full_score : 0;
  t.increase = t.masked_score > t.full_score;
  return t;
}

std::vector<FaithfulnessTrial> faithfulness_trials(const Explainer& explainer,
                                                   const Explanation& ex, const Prepared& input,
                                                   const FaithfulnessOptions& options,
                                                   const std::vector<int>& classes) {
  std::vector<FaithfulnessTrial> out;
  std::vector<int> found;
  for (const ClassMap& m : ex.maps) {
    const int c = ex.binary ? 0 : m.prediction.class_index;
    if (!classes.empty() && std::find(classes.begin(), classes.end(), c) == classes.end()) continue;
    if (std::find(found.begin(), found.end(), c) != found.end()) continue;  // listed twice
    found.push_back(c);
    // The map as camkit explain draws it: CAM without ReLU, its successors with.
    const Map display = display_map(m.raw, input.height, input.width, method_uses_relu(ex.method));
    out.push_back(faithfulness_trial(explainer, input, display, c, options));
  }
  for (int c : classes)
    if (std::find(found.begin(), found.end(), c) == found.end())
      throw Error(ErrorCode::usage,
                  "faithfulness: the explanation has no map of class " + std::to_string(c));
  return out;
}

}  // namespace camkit
