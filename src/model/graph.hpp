// Reading an inlined TorchScript graph: module paths from call stacks, constants, attributes,
// and module outputs. Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

namespace camkit::detail {

/// Dotted path of the module whose forward produced the node ("layer4.1.conv2"), "" for the
/// top-level forward. Built from the inlined call stack; entries that are plain functions or the
/// module calling its own methods are skipped.
std::string module_path(const torch::jit::Node* node);

/// True when `path` is `scope` or lies inside it ("layer4.1" is inside "layer4").
bool inside(const std::string& path, const std::string& scope);

/// A compile-time constant: prim::Constant, or a prim::ListConstruct of constants.
std::optional<c10::IValue> constant_of(torch::jit::Value* v);
std::optional<std::vector<int64_t>> int_list_of(torch::jit::Value* v);

/// The object a prim::GetAttr chain rooted at the graph's `self` input refers to, or a constant.
std::optional<c10::IValue> attribute_of(torch::jit::Value* v, const torch::jit::Module& root);

/// "fc.weight" for a GetAttr chain from self; "" when `v` is not one.
std::string attribute_path(torch::jit::Value* v);

/// Module paths of a graph's nodes, each computed once: analysing a large model (ViT-B has
/// thousands of nodes) asks for them many times.
class ModulePaths {
 public:
  explicit ModulePaths(torch::jit::Graph& graph) : graph_(graph) {}
  const std::string& of(const torch::jit::Node* node) const;

  /// The tensor value that module `path` outputs (produced inside it, used outside it); the
  /// last one when the module runs more than once. nullptr when no node runs inside the module.
  torch::jit::Value* module_output(const std::string& path) const;

  /// Name for a feature value: the outermost module whose output it is, plus the element-wise
  /// ops applied after that module (DenseNet: "features" + {"relu"}).
  std::pair<std::string, std::vector<std::string>> describe(torch::jit::Value* v) const;

 private:
  torch::jit::Graph& graph_;
  mutable std::unordered_map<const torch::jit::Node*, std::string> paths_;
  mutable std::unordered_map<std::string, torch::jit::Value*> outputs_;
};

/// The class name of the submodule at `path` ("LayerNorm2d"), "" when there is none.
std::string module_type(const torch::jit::Module& root, const std::string& path);

/// "aten::relu_" -> "relu".
std::string op_name(const torch::jit::Node* node);

}  // namespace camkit::detail
