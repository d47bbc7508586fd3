#include <torch/script.h>

#include <algorithm>
#include <numeric>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "methods/cam.hpp"
#include "model/model_impl.hpp"

namespace camkit {
namespace {

at::Tensor to_batch(const std::vector<const Prepared*>& inputs, int channels) {
  const Prepared& first = *inputs.front();
  for (const Prepared* p : inputs) {
    if (p->channels != first.channels || p->height != first.height || p->width != first.width)
      throw Error(ErrorCode::input, "inputs of one batch must have the same size");
  }
  if (channels > 0 && first.channels != channels)
    throw Error(ErrorCode::input, "input has " + std::to_string(first.channels) +
                                      " channels, the model takes " + std::to_string(channels));
  const int64_t n = static_cast<int64_t>(inputs.size());
  at::Tensor batch = at::empty({n, first.channels, first.height, first.width}, at::kFloat);
  float* dst = batch.data_ptr<float>();
  const size_t plane = first.chw.size();
  for (int64_t i = 0; i < n; ++i)
    std::copy(inputs[i]->chw.begin(), inputs[i]->chw.end(), dst + i * plane);
  return batch;
}

Map to_map(const at::Tensor& hw) {
  at::Tensor t = hw.to(at::kCPU, at::kFloat).contiguous();
  Map m;
  m.height = static_cast<int>(t.size(0));
  m.width = static_cast<int>(t.size(1));
  m.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return m;
}

std::string positive_label(const Model& model) {
  const auto& labels = model.metadata().labels;
  if (labels.size() == 2) return labels[1];
  if (labels.size() == 1) return labels[0];
  return "positive";
}

}  // namespace

Explainer::Explainer(const Model& model) : model_(model) {
  if (!model.head().found)
    throw Error(ErrorCode::model, model.path() + ": no CAM head: " + model.head().reason +
                                      ". Gradient-based methods (Grad-CAM) explain models "
                                      "without a global-average-pooling head");
}

Explanation Explainer::explain(const Prepared& input, const ExplainOptions& options) const {
  return explain_batch({&input}, options).front();
}

std::vector<Explanation> Explainer::explain_batch(const std::vector<const Prepared*>& inputs,
                                                  const ExplainOptions& options) const {
  if (inputs.empty()) return {};
  const Model::Impl& m = model_.impl();
  const int k = model_.num_classes();
  for (int c : options.classes) {
    if (c < 0 || c >= k)
      throw Error(ErrorCode::usage, "class " + std::to_string(c) + " out of range: the model has " +
                                        std::to_string(k) + (k == 1 ? " logit" : " classes"));
  }
  torch::NoGradGuard no_grad;
  at::Tensor logits, features;
  std::tie(logits, features) = m.run(to_batch(inputs, m.input.channels));
  logits = logits.to(at::kCPU, at::kFloat).reshape({static_cast<int64_t>(inputs.size()), -1});
  features = features.to(at::kFloat);
  if (features.dim() != 4 || features.size(1) != m.weight.size(1))
    throw Error(ErrorCode::model, "the feature map has shape " + c10::str(features.sizes()) +
                                      "; expected (N, " + std::to_string(m.weight.size(1)) +
                                      ", h, w)");
  if (m.head.kind == "linear") {
    // Free correctness check (CAM identity): pooled features through the classifier must give
    // the logits; costs K*C multiply-adds, a fraction of a millisecond.
    at::Tensor expected = at::addmm(m.bias, features.mean({2, 3}), m.weight.t()).to(at::kCPU);
    const double scale = std::max(1.0, logits.abs().max().item<double>());
    if ((expected - logits).abs().max().item<double>() > 1e-3 * scale)
      throw Error(ErrorCode::model,
                  "the maps do not reproduce the model's logits; the pooling "
                  "is not global for this input size");
  }
  const bool binary = k == 1;
  at::Tensor scores = binary ? logits.sigmoid() : logits.softmax(1);
  std::vector<Explanation> out(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    Explanation& ex = out[i];
    ex.binary = binary;
    const float* lg = logits[i].data_ptr<float>();
    const float* sc = scores[i].data_ptr<float>();
    auto predict = [&](int c) {
      Prediction p;
      p.class_index = c;
      p.label = binary ? positive_label(model_) : model_.label(c);
      p.logit = lg[c];
      p.score = sc[c];
      return p;
    };
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    const int top = std::clamp(options.top_k, 1, k);
    std::partial_sort(order.begin(), order.begin() + top, order.end(),
                      [&](int a, int b) { return lg[a] > lg[b] || (lg[a] == lg[b] && a < b); });
    for (int j = 0; j < top; ++j) ex.predictions.push_back(predict(order[j]));

    std::vector<int> chosen = options.classes;
    if (chosen.empty()) chosen.assign(order.begin(), order.begin() + top);
    std::vector<int64_t> rows(chosen.begin(), chosen.end());
    at::Tensor idx = at::tensor(rows, at::kLong).to(m.weight.device());
    at::Tensor maps = methods::cam(m.weight.index_select(0, idx), features[i]);
    for (size_t j = 0; j < chosen.size(); ++j)
      ex.maps.push_back({predict(chosen[j]), to_map(maps[static_cast<int64_t>(j)])});
    if (options.all_classes) {
      at::Tensor all = methods::cam(m.weight, features[i]);
      for (int c = 0; c < k; ++c) ex.all_maps.push_back({predict(c), to_map(all[c])});
    }
  }
  return out;
}

std::string decision_label(const Explanation& ex, const Model& model) {
  if (!ex.binary) return ex.predictions.empty() ? "" : ex.predictions.front().label;
  const bool positive = !ex.predictions.empty() && ex.predictions.front().score >= 0.5f;
  const auto& labels = model.metadata().labels;
  if (labels.size() == 2) return positive ? labels[1] : labels[0];
  return positive ? "positive" : "negative";
}

}  // namespace camkit
