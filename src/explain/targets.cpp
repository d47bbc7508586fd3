// What is explained and how it is scored: the model's task turns logits into scores, selects
// the classes to explain and fills the predictions (DESIGN.md, "Targets").
#include <torch/script.h>

#include <algorithm>
#include <numeric>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"

namespace camkit::detail {
namespace {

std::string positive_label(const Model& model) {
  const auto& labels = model.metadata().labels;
  if (labels.size() == 2) return labels[1];
  if (labels.size() == 1) return labels[0];
  return "positive";
}

bool has_positive(Task task) {
  return task == Task::binary || task == Task::multilabel;
}

}  // namespace

at::Tensor scores_of(const at::Tensor& logits, Task task) {
  switch (task) {
    case Task::multiclass:
      return logits.softmax(1);
    case Task::binary:
    case Task::multilabel:
      return logits.sigmoid();
    default:
      return logits.clone();
  }
}

Prediction predict(const Model& model, const float* logits, const float* scores, int c,
                   const ExplainOptions& options) {
  Prediction p;
  p.class_index = c;
  p.label = model.task() == Task::binary ? positive_label(model) : model.label(c);
  p.logit = logits[c];
  p.score = scores[c];
  p.positive = has_positive(model.task()) && p.score >= options.positive_threshold;
  return p;
}

Selection select_classes(const at::Tensor& logits, const ExplainOptions& options,
                         const Model& model) {
  const int64_t n = logits.size(0);
  const int k = static_cast<int>(logits.size(1));
  for (int c : options.classes)
    if (c < 0 || c >= k)
      throw Error(ErrorCode::usage, "class " + std::to_string(c) + " out of range: the model has " +
                                        std::to_string(k) + (k == 1 ? " output" : " classes"));
  const Task task = model.task();
  const at::Tensor scores = scores_of(logits, task).contiguous();
  Selection sel;
  sel.explanations.resize(n);
  sel.classes.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    Explanation& ex = sel.explanations[i];
    ex.task = task;
    ex.binary = task == Task::binary;
    ex.method = options.method;
    const float* lg = logits[i].data_ptr<float>();
    const float* sc = scores[i].data_ptr<float>();
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    // Regression outputs are values, not competing classes: they keep their order.
    if (task != Task::regression)
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return lg[a] > lg[b]; });
    const int top = std::clamp(options.top_k, 1, k);
    for (int j = 0; j < top; ++j)
      ex.predictions.push_back(predict(model, lg, sc, order[j], options));
    ex.scores.assign(sc, sc + k);
    if (has_positive(task))
      for (int c : order)
        if (sc[c] >= options.positive_threshold) ex.positives.push_back(c);
    std::vector<int>& cls = sel.classes[i];
    if (!options.classes.empty()) {
      cls = options.classes;
    } else if (options.explain_positives) {
      for (int c : order)
        if (sc[c] >= options.positive_threshold) cls.push_back(c);
    } else {
      cls.assign(order.begin(), order.begin() + top);
    }
  }
  return sel;
}

void add_maps(Explanation& ex, const std::vector<int>& classes, const at::Tensor& maps,
              const at::Tensor& logits_row, const ExplainOptions& options, const Model& model) {
  const at::Tensor lg = logits_row.to(at::kCPU, at::kFloat).contiguous().view({1, -1});
  const at::Tensor sc = scores_of(lg, model.task()).contiguous();
  for (size_t j = 0; j < classes.size(); ++j)
    ex.maps.push_back(
        {predict(model, lg.data_ptr<float>(), sc.data_ptr<float>(), classes[j], options),
         to_map(maps[static_cast<int64_t>(j)])});
}

Map to_map(const at::Tensor& hw) {
  at::Tensor t = hw.detach().to(at::kCPU, at::kFloat).contiguous();
  Map m;
  m.depth = t.dim() == 3 ? static_cast<int>(t.size(0)) : 1;
  m.height = static_cast<int>(t.size(t.dim() - 2));
  m.width = static_cast<int>(t.size(t.dim() - 1));
  m.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return m;
}

}  // namespace camkit::detail

namespace camkit {

std::string decision_label(const Explanation& ex, const Model& model) {
  if (!ex.binary) return ex.predictions.empty() ? "" : ex.predictions.front().label;
  const bool positive = !ex.predictions.empty() && ex.predictions.front().positive;
  const auto& labels = model.metadata().labels;
  if (labels.size() == 2) return positive ? labels[1] : labels[0];
  return positive ? "positive" : "negative";
}

}  // namespace camkit
