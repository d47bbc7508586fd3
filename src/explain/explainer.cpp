#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <algorithm>
#include <numeric>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"

namespace camkit {
namespace detail {

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

std::string positive_label(const Model& model) {
  const auto& labels = model.metadata().labels;
  if (labels.size() == 2) return labels[1];
  if (labels.size() == 1) return labels[0];
  return "positive";
}

Prediction predict(const Model& model, bool binary, const float* logits, const float* scores,
                   int c) {
  Prediction p;
  p.class_index = c;
  p.label = binary ? positive_label(model) : model.label(c);
  p.logit = logits[c];
  p.score = scores[c];
  return p;
}

}  // namespace detail

namespace {

struct MethodName {
  Method method;
  const char* name;
};
constexpr MethodName kMethods[] = {{Method::cam, "cam"},
                                   {Method::gradcam, "gradcam"},
                                   {Method::gradcam_pp, "gradcam++"},
                                   {Method::xgradcam, "xgradcam"},
                                   {Method::layercam, "layercam"},
                                   {Method::hirescam, "hirescam"},
                                   {Method::scorecam, "scorecam"},
                                   {Method::ablationcam, "ablationcam"},
                                   {Method::eigencam, "eigencam"}};

}  // namespace

namespace detail {

bool is_gradient_method(Method m) {
  return m == Method::gradcam || m == Method::gradcam_pp || m == Method::xgradcam ||
         m == Method::layercam || m == Method::hirescam;
}

at::Tensor gradient_map(Method m, const at::Tensor& a, const at::Tensor& g) {
  switch (m) {
    case Method::gradcam:
      return methods::gradcam(a, g);
    case Method::gradcam_pp:
      return methods::gradcam_pp(a, g);
    case Method::xgradcam:
      return methods::xgradcam(a, g);
    case Method::layercam:
      return methods::layercam(a, g);
    default:
      return methods::hirescam(a, g);
  }
}

void check_method(const Model& model, Method method) {
  const Model::Impl& m = model.impl();
  if (method == Method::cam && !m.cam_layer_error.empty())
    throw Error(ErrorCode::usage, m.cam_layer_error);
  if (method == Method::cam && !m.head.found)
    throw Error(ErrorCode::model, model.path() + ": no CAM head: " + m.head.reason +
                                      ". Gradient-based methods explain models without one: "
                                      "--method gradcam");
  if (!m.layer.found) throw Error(ErrorCode::model, model.path() + ": " + m.layer.reason);
}

std::pair<at::Tensor, at::Tensor> run_tapped(const Model::Impl& m, Method method,
                                             const at::Tensor& batch) {
  if (is_gradient_method(method)) return m.run_with_grad(batch);
  torch::NoGradGuard no_grad;
  return m.run(batch);
}

void check_cam(const Model::Impl& m, const at::Tensor& features, const at::Tensor& logits,
               const std::string& why) {
  if (features.size(1) != m.weight.size(1))
    throw Error(ErrorCode::usage,
                "layer " + m.layer.layer + " has " + std::to_string(features.size(1)) +
                    " channels; CAM needs the classifier's " + std::to_string(m.weight.size(1)));
  if (m.head.kind != "linear") return;
  const at::Tensor expected = m.head_logits(features).to(at::kCPU);
  const double scale = std::max(1.0, logits.abs().max().item<double>());
  if (expected.sizes() != logits.sizes() ||
      (expected - logits).abs().max().item<double>() > 1e-3 * scale)
    throw Error(ErrorCode::model, "the maps do not reproduce the model's logits; " + why);
}

}  // namespace detail

std::optional<Method> parse_method(std::string_view name) {
  for (const auto& m : kMethods)
    if (name == m.name) return m.method;
  return std::nullopt;
}

std::string method_name(Method method) {
  for (const auto& m : kMethods)
    if (m.method == method) return m.name;
  return "";
}

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (const auto& m : kMethods) out.push_back(m.name);
  return out;
}

bool method_uses_relu(Method method) {
  return method != Method::cam;
}

namespace detail {

Map to_map(const at::Tensor& hw) {
  at::Tensor t = hw.detach().to(at::kCPU, at::kFloat).contiguous();
  Map m;
  m.height = static_cast<int>(t.size(0));
  m.width = static_cast<int>(t.size(1));
  m.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return m;
}

Selection select_classes(const at::Tensor& logits, const ExplainOptions& options,
                         const Model& model) {
  const int64_t n = logits.size(0);
  const int k = static_cast<int>(logits.size(1));
  for (int c : options.classes)
    if (c < 0 || c >= k)
      throw Error(ErrorCode::usage, "class " + std::to_string(c) + " out of range: the model has " +
                                        std::to_string(k) + (k == 1 ? " logit" : " classes"));
  const bool binary = k == 1;
  const at::Tensor scores = binary ? logits.sigmoid() : logits.softmax(1);
  Selection sel;
  sel.explanations.resize(n);
  sel.classes.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    Explanation& ex = sel.explanations[i];
    ex.binary = binary;
    ex.method = options.method;
    const float* lg = logits[i].data_ptr<float>();
    const float* sc = scores[i].data_ptr<float>();
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    const int top = std::clamp(options.top_k, 1, k);
    std::partial_sort(order.begin(), order.begin() + top, order.end(),
                      [&](int a, int b) { return lg[a] > lg[b] || (lg[a] == lg[b] && a < b); });
    for (int j = 0; j < top; ++j)
      ex.predictions.push_back(detail::predict(model, binary, lg, sc, order[j]));
    sel.classes[i] = options.classes.empty() ? std::vector<int>(order.begin(), order.begin() + top)
                                             : options.classes;
  }
  return sel;
}

void add_maps(Explanation& ex, const std::vector<int>& classes, const at::Tensor& maps,
              const at::Tensor& logits_row, bool binary, const Model& model) {
  const at::Tensor lg = logits_row.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor sc = binary ? lg.sigmoid() : lg.softmax(0);
  for (size_t j = 0; j < classes.size(); ++j)
    ex.maps.push_back(
        {detail::predict(model, binary, lg.data_ptr<float>(), sc.data_ptr<float>(), classes[j]),
         to_map(maps[static_cast<int64_t>(j)])});
}

}  // namespace detail

Explainer::Explainer(const Model& model) : model_(model) {}

Explanation Explainer::explain(const Prepared& input, const ExplainOptions& options) const {
  return explain_batch({&input}, options).front();
}

std::vector<Explanation> Explainer::explain_batch(const std::vector<const Prepared*>& inputs,
                                                  const ExplainOptions& options) const {
  if (inputs.empty()) return {};
  const Model::Impl& m = model_.impl();
  const Method method = options.method;
  detail::check_method(model_, method);
  const at::Tensor batch = detail::to_batch(inputs, m.input.channels);
  auto [logits, features] = detail::run_tapped(m, method, batch);
  const int64_t n = static_cast<int64_t>(inputs.size());
  const at::Tensor lg = logits.detach().to(at::kCPU, at::kFloat).reshape({n, -1});
  if (features.dim() != 4)
    throw Error(ErrorCode::model, "the tapped layer " + m.layer.layer + " has shape " +
                                      c10::str(features.sizes()) + "; methods need (N, C, h, w)");
  detail::Selection sel = detail::select_classes(lg, options, model_);
  const bool binary = lg.size(1) == 1;

  if (method == Method::cam) {
    torch::NoGradGuard no_grad;
    features = features.to(at::kFloat);
    if (!m.head.slice_reduce.empty())
      throw Error(ErrorCode::usage, model_.path() + ": the model reduces over slices (" +
                                        m.head.slice_reduce +
                                        " over its batch): explain exams with --volume");
    detail::check_cam(m, features, lg, "the pooling is not global for this input size");
    for (int64_t i = 0; i < n; ++i) {
      const auto& cls = sel.classes[i];
      const at::Tensor idx =
          at::tensor(std::vector<int64_t>(cls.begin(), cls.end())).to(m.weight.device());
      detail::add_maps(sel.explanations[i], cls,
                       methods::cam(m.weight.index_select(0, idx), features[i]), lg[i], binary,
                       model_);
      if (options.all_classes) {
        const at::Tensor all = methods::cam(m.weight, features[i]);
        for (int c = 0; c < static_cast<int>(all.size(0)); ++c) {
          Explanation tmp;
          detail::add_maps(tmp, {c}, all.slice(0, c, c + 1), lg[i], binary, model_);
          sel.explanations[i].all_maps.push_back(std::move(tmp.maps.front()));
        }
      }
    }
  } else if (detail::is_gradient_method(method)) {
    // One backward per rank j of the requested classes, all inputs at once: the gradient of
    // sum_i y_{i, c_ij} with respect to the features of input i is d y_{c_ij} / d A_i.
    const size_t rounds = sel.classes.front().size();
    std::vector<std::vector<at::Tensor>> maps(n);
    for (size_t j = 0; j < rounds; ++j) {
      at::Tensor go = at::zeros_like(logits);
      for (int64_t i = 0; i < n; ++i) go.view({n, -1})[i][sel.classes[i][j]] = 1;
      const at::Tensor g = torch::autograd::grad({logits}, {features}, {go},
                                                 /*retain_graph=*/j + 1 < rounds)[0];
      torch::NoGradGuard no_grad;
      for (int64_t i = 0; i < n; ++i)
        maps[i].push_back(detail::gradient_map(method, features[i].detach(), g[i]));
    }
    for (int64_t i = 0; i < n; ++i)
      detail::add_maps(sel.explanations[i], sel.classes[i], at::stack(maps[i]), lg[i], binary,
                       model_);
  } else {
    torch::NoGradGuard no_grad;
    std::vector<c10::IValue> crossing;
    if (method == Method::ablationcam && m.upper) {
      const auto t = m.call(*m.tapped_cut, {batch.to(m.device)}).toTuple();
      features = t->elements()[1].toTensor();
      for (size_t e = 2; e < t->elements().size(); ++e) crossing.push_back(t->elements()[e]);
    }
    for (int64_t i = 0; i < n; ++i) {
      const auto& cls = sel.classes[i];
      at::Tensor maps;
      if (method == Method::eigencam) {
        maps = methods::eigencam(features[i].to(at::kFloat))
                   .unsqueeze(0)
                   .expand({static_cast<int64_t>(cls.size()), -1, -1});
      } else if (method == Method::scorecam) {
        maps =
            detail::scorecam_maps(m, batch[i].to(m.device), features[i], cls, options.batch_size);
      } else {
        std::vector<c10::IValue> mine;
        for (const auto& v : crossing)
          mine.emplace_back(v.isTensor() && n > 1 ? v.toTensor().slice(0, i, i + 1) : v);
        maps = detail::ablationcam_maps(m, features[i], mine, lg[i], cls, options.batch_size);
      }
      detail::add_maps(sel.explanations[i], cls, maps, lg[i], binary, model_);
    }
  }
  return std::move(sel.explanations);
}

std::vector<std::vector<float>> Explainer::scores(const std::vector<const Prepared*>& inputs,
                                                  int batch_size) const {
  const Model::Impl& m = model_.impl();
  if (!m.layer.found) throw Error(ErrorCode::model, model_.path() + ": " + m.layer.reason);
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> out;
  const size_t step = static_cast<size_t>(std::max(1, batch_size));
  for (size_t start = 0; start < inputs.size(); start += step) {
    const std::vector<const Prepared*> chunk(
        inputs.begin() + start, inputs.begin() + std::min(inputs.size(), start + step));
    const int64_t n = static_cast<int64_t>(chunk.size());
    const at::Tensor lg = m.run(detail::to_batch(chunk, m.input.channels))
                              .first.to(at::kCPU, at::kFloat)
                              .reshape({n, -1});
    const at::Tensor sc = (lg.size(1) == 1 ? lg.sigmoid() : lg.softmax(1)).contiguous();
    for (int64_t i = 0; i < n; ++i)
      out.emplace_back(sc[i].data_ptr<float>(), sc[i].data_ptr<float>() + sc.size(1));
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
