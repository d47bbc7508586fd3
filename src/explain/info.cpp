// The JSON description of a model (camkit/info.hpp), shared by `camkit info --json` and Python.
#include "camkit/info.hpp"

#include <nlohmann/json.hpp>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"

namespace camkit {
namespace {

nlohmann::json output_json(const OutputInfo& o) {
  nlohmann::json c = nlohmann::json::array();
  for (const auto& x : o.candidates) {
    nlohmann::json j{{"name", x.name}, {"shape", x.shape}};
    if (!x.field.empty()) j["field"] = x.field;
    c.push_back(j);
  }
  return {{"candidates", c},
          {"chosen", o.chosen},
          {"chosen_by", o.chosen_by},
          {"activation", o.activation.empty() ? nlohmann::json() : nlohmann::json(o.activation)}};
}

nlohmann::json layer_json(const LayerInfo& l, bool three_d) {
  if (!l.found) return {{"found", false}, {"reason", l.reason}};
  // 3-D models: (C, d, h, w).
  const nlohmann::json shape = three_d ? nlohmann::json{l.channels, l.depth, l.height, l.width}
                                       : nlohmann::json{l.channels, l.height, l.width};
  return {{"found", true},
          {"layer", l.layer},
          {"ops", l.ops},
          {"chosen_by", l.chosen_by},
          {"layout", l.layout},
          {"layout_shape", l.layout_shape},
          {"prefix_tokens", l.prefix_tokens},
          {"shape", shape}};
}

nlohmann::json preprocess_json(const Preprocess& p) {
  nlohmann::json j{{"channels", p.channels}};
  if (p.resize) j["resize"] = p.resize;
  if (p.crop_height) j["crop"] = {p.crop_height, p.crop_width};
  if (p.size_height) j["size"] = {p.size_height, p.size_width};
  j["mean"] = p.mean;
  j["std"] = p.std;
  return j;
}

nlohmann::json head_json(const HeadInfo& h, bool three_d) {
  nlohmann::json head{{"found", h.found}};
  if (!h.found) {
    head["reason"] = h.reason;
    return head;
  }
  head.update({{"kind", h.kind},
               {"pooling", h.pooling},
               {"feature_layer", h.feature_layer},
               {"feature_ops", h.feature_ops},
               {"feature_shape",
                three_d ? nlohmann::json{h.feature_channels, h.feature_depth, h.feature_height,
                                         h.feature_width}
                        : nlohmann::json{h.feature_channels, h.feature_height, h.feature_width}},
               {"classifier", h.classifier},
               {"num_classes", h.num_classes},
               {"has_bias", h.has_bias},
               {"relu_before_pool", h.relu_before_pool},
               {"slice_reduce",
                h.slice_reduce.empty() ? nlohmann::json() : nlohmann::json(h.slice_reduce)}});
  return head;
}

}  // namespace

std::string gradient_status(const Model& model) {
  if (!model.layer().found) return model.layer().reason;
  try {
    ExplainOptions o;
    o.method = Method::gradcam;
    Explainer(model).check(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string model_info_json(const Model& model) {
  const std::string gradients = gradient_status(model);
  const InputSpec in = model.input_spec();
  const bool three_d = in.rank == 3;
  const ModelMetadata& meta = model.metadata();
  nlohmann::json j{
      {"model", model.path()},
      {"input", {{"channels", in.channels}, {"height", in.height}, {"width", in.width}}},
      {"preprocess", preprocess_json(model.preprocess())},
      {"head", head_json(model.head(), three_d)},
      {"output", output_json(model.output())},
      {"num_classes", model.num_classes()},
      {"task", task_name(model.task())},
      {"layer", layer_json(model.layer(), three_d)},
      {"gradients",
       {{"available", gradients.empty()},
        {"reason", gradients.empty() ? nlohmann::json() : nlohmann::json(gradients)}}},
      {"max_batch", model.max_batch()},
      {"modules", model.module_paths()}};
  j["metadata"] = meta.present ? nlohmann::json::parse(meta.json) : nlohmann::json();
  if (three_d) j["input"]["depth"] = in.depth;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace camkit
