#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <algorithm>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"

namespace camkit {
namespace detail {

at::Tensor to_batch(const std::vector<const Prepared*>& inputs, int channels, int rank) {
  const Prepared& first = *inputs.front();
  for (const Prepared* p : inputs) {
    if (p->channels != first.channels || p->height != first.height || p->width != first.width ||
        p->depth != first.depth)
      throw Error(ErrorCode::input, "inputs of one batch must have the same size");
  }
  if (rank == 2 && first.depth != 1)
    throw Error(ErrorCode::input,
                "a volume of depth " + std::to_string(first.depth) + " for a model of 2-D inputs");
  if (channels > 0 && first.channels != channels)
    throw Error(ErrorCode::input, "input has " + std::to_string(first.channels) +
                                      " channels, the model takes " + std::to_string(channels));
  const int64_t n = static_cast<int64_t>(inputs.size());
  std::vector<int64_t> shape{n, first.channels, first.height, first.width};
  if (rank == 3) shape.insert(shape.begin() + 2, first.depth);
  at::Tensor batch = at::empty(shape, at::kFloat);
  float* dst = batch.data_ptr<float>();
  const size_t plane = first.chw.size();
  for (int64_t i = 0; i < n; ++i)
    std::copy(inputs[i]->chw.begin(), inputs[i]->chw.end(), dst + i * plane);
  return batch;
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
                                   {Method::eigencam, "eigencam"},
                                   {Method::attention_relevance, "attention-relevance"},
                                   {Method::gradcam_elementwise, "gradcam-elementwise"},
                                   {Method::eigengradcam, "eigengradcam"},
                                   {Method::smoothgradcam_pp, "smoothgradcam++"},
                                   {Method::guided_backprop, "guided-backprop"},
                                   {Method::guided_gradcam, "guided-gradcam"},
                                   {Method::sscam, "sscam"},
                                   {Method::iscam, "iscam"},
                                   {Method::fullgrad, "fullgrad"}};

}  // namespace

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

bool method_uses_gradients(Method method) {
  return detail::is_gradient_method(method) || method == Method::attention_relevance ||
         method == Method::smoothgradcam_pp || method == Method::guided_backprop ||
         method == Method::guided_gradcam || method == Method::fullgrad;
}

Explainer::Explainer(const Model& model) : model_(model) {}

void Explainer::check(const ExplainOptions& options) const {
  detail::check_method(model_, options);
}

Explanation Explainer::explain(const Prepared& input, const ExplainOptions& options) const {
  return explain_batch({&input}, options).front();
}

std::vector<Explanation> Explainer::explain_batch(const std::vector<const Prepared*>& inputs,
                                                  const ExplainOptions& options) const {
  if (inputs.empty()) return {};
  const Model::Impl& m = model_.impl();
  const Method method = options.method;
  detail::check_method(model_, options);
  if (options.aug_smooth) return detail::explain_augmented(*this, inputs, options);
  if (method == Method::guided_backprop || method == Method::guided_gradcam)
    return detail::explain_guided(*this, model_, inputs, options);
  if (method == Method::fullgrad) return detail::explain_fullgrad(model_, inputs, options);
  if (m.max_batch == 1 && inputs.size() > 1) {  // the graph fixes a batch of one
    std::vector<Explanation> out;
    for (const Prepared* p : inputs) out.push_back(explain_batch({p}, options).front());
    return out;
  }
  const at::Tensor batch = detail::to_batch(inputs, m.input.channels, m.spatial_dims);
  if (method == Method::attention_relevance)
    return detail::explain_attention(model_, batch, options);
  // Ablation-CAM runs the layers above the tap again on ablated maps: they also read the
  // values crossing the cut.
  at::Tensor logits, raw;
  std::vector<c10::IValue> crossing;
  if (method == Method::ablationcam) {
    std::vector<c10::IValue> cut = m.run_cut(batch);
    logits = cut[0].toTensor();
    raw = cut[1].toTensor();
    crossing.assign(cut.begin() + 2, cut.end());
  } else {
    std::tie(logits, raw) = detail::run_tapped(m, method, batch);
  }
  const int64_t n = static_cast<int64_t>(inputs.size());
  const at::Tensor lg = m.logits_rows(logits, n);
  detail::check_finite(lg, "the model's logits");
  // The layer's activations as (N, C, h, w), whatever its layout.
  at::Tensor features = detail::channels_first(raw, m.layout);
  if (features.size(0) != n)
    throw Error(ErrorCode::model, "the tapped layer " + m.layer.layer + " has shape " +
                                      c10::str(raw.sizes()) + " for a batch of " +
                                      std::to_string(n));
  detail::Selection sel = detail::select_classes(lg, options, model_);
  for (Explanation& ex : sel.explanations) {
    ex.layer = m.layer.layer;
    ex.layout = m.layout.name();
    ex.feature_shape.assign(features.sizes().begin() + 1, features.sizes().end());
  }

  auto add = [&](int64_t i, const std::vector<int>& cls, const at::Tensor& maps) {
    detail::check_finite(maps, "the maps");
    detail::add_maps(sel.explanations[i], cls, maps, lg[i], options, model_);
  };
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
          at::tensor(std::vector<int64_t>(cls.begin(), cls.end()), at::kLong).to(m.weight.device());
      add(i, cls, methods::cam(m.weight.index_select(0, idx), features[i]));
      if (options.all_classes) {
        const at::Tensor all = methods::cam(m.weight, features[i]);
        for (int c = 0; c < static_cast<int>(all.size(0)); ++c) {
          Explanation tmp;
          detail::add_maps(tmp, {c}, all.slice(0, c, c + 1), lg[i], options, model_);
          sel.explanations[i].all_maps.push_back(std::move(tmp.maps.front()));
        }
      }
    }
  } else if (detail::is_gradient_method(method)) {
    // One backward per rank j of the requested classes, all inputs at once: the gradient of
    // sum_i y_{i, c_ij} with respect to the features of input i is d y_{c_ij} / d A_i. Inputs
    // with fewer classes (multi-label findings) take no part in the later rounds.
    size_t rounds = 0;
    for (const auto& cls : sel.classes) rounds = std::max(rounds, cls.size());
    std::vector<std::vector<at::Tensor>> maps(n);
    for (size_t j = 0; j < rounds; ++j) {
      at::Tensor go = at::zeros_like(logits);
      for (int64_t i = 0; i < n; ++i)
        if (j < sel.classes[i].size()) go.view({n, -1})[i][sel.classes[i][j]] = 1;
      const at::Tensor g = detail::channels_first(
          torch::autograd::grad({logits}, {raw}, {go}, /*retain_graph=*/j + 1 < rounds)[0],
          m.layout);
      torch::NoGradGuard no_grad;
      for (int64_t i = 0; i < n; ++i)
        if (j < sel.classes[i].size())
          maps[i].push_back(
              detail::gradient_map(method, features[i].detach(), g[i], options.eigen_smooth));
    }
    for (int64_t i = 0; i < n; ++i)
      if (!maps[i].empty()) add(i, sel.classes[i], at::stack(maps[i]));
  } else {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < n; ++i) {
      const auto& cls = sel.classes[i];
      if (cls.empty()) continue;
      at::Tensor maps;
      if (method == Method::eigencam) {
        const at::Tensor e = methods::eigencam(features[i].to(at::kFloat));
        std::vector<int64_t> each = e.sizes().vec();
        each.insert(each.begin(), static_cast<int64_t>(cls.size()));
        maps = e.unsqueeze(0).expand(each);
      } else if (method == Method::smoothgradcam_pp) {
        maps = detail::smoothgradcam_pp_maps(m, batch[i], features[i].to(at::kFloat), cls, options);
      } else if (method == Method::sscam) {
        maps = detail::sscam_maps(m, batch[i].to(m.device), features[i], cls, options);
      } else if (method == Method::iscam) {
        maps = detail::iscam_maps(m, batch[i].to(m.device), features[i], cls, options);
      } else if (method == Method::scorecam) {
        maps =
            detail::scorecam_maps(m, batch[i].to(m.device), features[i], cls, options.batch_size);
      } else {
        std::vector<c10::IValue> mine;
        for (const auto& v : crossing)
          mine.emplace_back(v.isTensor() && n > 1 ? v.toTensor().slice(0, i, i + 1) : v);
        maps = detail::ablationcam_maps(m, raw.slice(0, i, i + 1), features[i], mine, lg[i], cls,
                                        options.batch_size);
      }
      add(i, cls, maps);
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
  const size_t step = static_cast<size_t>(m.max_batch == 1 ? 1 : std::max(1, batch_size));
  for (size_t start = 0; start < inputs.size(); start += step) {
    const std::vector<const Prepared*> chunk(
        inputs.begin() + start, inputs.begin() + std::min(inputs.size(), start + step));
    const int64_t n = static_cast<int64_t>(chunk.size());
    const at::Tensor lg =
        m.logits_rows(m.run(detail::to_batch(chunk, m.input.channels, m.spatial_dims)).first, n);
    detail::check_finite(lg, "the model's logits");
    const at::Tensor sc = detail::scores_of(lg, m.task).contiguous();
    for (int64_t i = 0; i < n; ++i)
      out.emplace_back(sc[i].data_ptr<float>(), sc[i].data_ptr<float>() + sc.size(1));
  }
  return out;
}

}  // namespace camkit
