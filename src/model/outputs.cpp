#include "model/outputs.hpp"

#include <sstream>

#include "camkit/error.hpp"
#include "model/graph.hpp"

namespace camkit::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;

bool is_tensor(const Value* v) {
  return v->type()->isSubtypeOf(*c10::TensorType::get());
}

void collect(Value* v, const std::string& name, const std::string& field,
             std::vector<OutputCandidate>& out, const std::string& path) {
  Node* n = v->node();
  if (is_tensor(v)) {
    out.push_back({name, field, v});
    return;
  }
  auto child = [&](const std::string& part) { return name.empty() ? part : name + "." + part; };
  if (n->kind() == c10::prim::TupleConstruct || n->kind() == c10::prim::ListConstruct) {
    std::vector<std::string> fields;
    if (auto tuple = v->type()->cast<c10::TupleType>(); tuple && tuple->schema())
      for (const auto& arg : tuple->schema()->arguments()) fields.push_back(arg.name());
    for (size_t i = 0; i < n->inputs().size(); ++i)
      collect(n->input(i), child(std::to_string(i)), i < fields.size() ? fields[i] : "", out, path);
    return;
  }
  if (n->kind() == c10::prim::DictConstruct) {
    for (size_t i = 0; i + 1 < n->inputs().size(); i += 2) {
      auto key = constant_of(n->input(i));
      if (!key || !key->isString())
        throw Error(ErrorCode::model, path +
                                          ": the model returns a dict whose keys are not "
                                          "constant strings; camkit cannot tell its outputs");
      collect(n->input(i + 1), child(key->toStringRef()), "", out, path);
    }
    return;
  }
  if (v->type()->cast<c10::TupleType>()) {
    // A tuple made elsewhere (returned by a branch): read its elements where it is returned.
    const auto elements = v->type()->cast<c10::TupleType>()->elements();
    torch::jit::WithInsertPoint guard(v->owningGraph()->return_node());
    for (size_t i = 0; i < elements.size(); ++i) {
      Node* index = v->owningGraph()->insertNode(v->owningGraph()->createTupleIndex(
          v, v->owningGraph()->insertConstant(static_cast<int64_t>(i)), elements[i]));
      collect(index->output(), child(std::to_string(i)), "", out, path);
    }
    return;
  }
  // None (an absent auxiliary output), numbers, strings: not outputs to explain.
}

std::string shape_of(const Value* v, const Shapes& shapes) {
  const auto it = shapes.find(v);
  if (it == shapes.end() || it->second.empty()) return "?";
  // The probe's batch of one is any batch: N.
  std::string s = "[N";
  for (size_t i = 1; i < it->second.size(); ++i) s += ", " + std::to_string(it->second[i]);
  return s + "]";
}

}  // namespace

std::vector<OutputCandidate> output_candidates(torch::jit::Graph& graph, const std::string& path) {
  std::vector<OutputCandidate> out;
  collect(graph.outputs().at(0), "", "", out, path);
  if (out.empty()) throw Error(ErrorCode::model, path + ": the model returns no tensor");
  return out;
}

std::string describe_candidates(const std::vector<OutputCandidate>& candidates,
                                const Shapes& shapes) {
  std::ostringstream s;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const OutputCandidate& c = candidates[i];
    s << (i ? ", " : "") << (c.name.empty() ? "the output" : c.name);
    if (!c.field.empty()) s << " (" << c.field << ")";
    s << " " << shape_of(c.value, shapes);
  }
  return s.str();
}

const OutputCandidate& choose_output(const std::vector<OutputCandidate>& candidates,
                                     const Shapes& shapes, const std::string& requested,
                                     int classes, const std::string& path, std::string* chosen_by) {
  const std::string listing = describe_candidates(candidates, shapes);
  if (!requested.empty()) {
    for (const OutputCandidate& c : candidates)
      if (c.name == requested || (!c.field.empty() && c.field == requested)) {
        *chosen_by = "--output " + requested;
        return c;
      }
    throw Error(ErrorCode::usage,
                "--output " + requested + ": the model has no such output (" + listing + ")");
  }
  if (candidates.size() == 1) {
    *chosen_by = candidates.front().name.empty() ? "the only output" : "the only tensor output";
    return candidates.front();
  }
  for (const OutputCandidate& c : candidates)
    if (c.name == "logits" || c.field == "logits") {
      *chosen_by = "named logits";
      return c;
    }
  std::vector<const OutputCandidate*> fit;
  for (const OutputCandidate& c : candidates) {
    const auto it = shapes.find(c.value);
    if (it == shapes.end() || it->second.size() != 2) continue;
    if (classes > 0 && it->second[1] != classes) continue;
    fit.push_back(&c);
  }
  if (fit.size() == 1 && classes > 0) {
    *chosen_by = "the only output with " + std::to_string(classes) + " classes";
    return *fit.front();
  }
  const std::string known =
      classes > 0 ? "the model's metadata declares " + std::to_string(classes) + " classes"
                  : "the model declares no class count (labels) to tell them apart";
  throw Error(ErrorCode::model,
              path + ": the model returns several tensors (" + listing + ") and " + known +
                  (fit.empty() ? ", which none of them has" : ", which more than one has") +
                  "; name the one that holds the logits with --output NAME|INDEX (or embed it: "
                  "tools/export_model.py --meta-only MODEL --output NAME)");
}

}  // namespace camkit::detail
