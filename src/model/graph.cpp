#include "model/graph.hpp"

#include <unordered_set>

namespace camkit::detail {

using torch::jit::Node;
using torch::jit::Value;

std::string module_path(const Node* node) {
  const auto cs = node->callstack();
  if (!cs) return "";
  std::string path;
  for (const auto& entry : (*cs)->vec()) {
    const auto& info = std::get<2>(entry);
    // No instance: a free function (F.relu). "SELF": the module calling its own method.
    if (!info || info->instance_name() == "SELF") continue;
    if (!path.empty()) path += '.';
    path += info->instance_name();
  }
  return path;
}

bool inside(const std::string& path, const std::string& scope) {
  if (scope.empty()) return true;
  return path == scope || (path.size() > scope.size() &&
                           path.compare(0, scope.size(), scope) == 0 && path[scope.size()] == '.');
}

std::optional<c10::IValue> constant_of(Value* v) {
  if (auto iv = torch::jit::toIValue(v)) return iv;
  Node* n = v->node();
  if (n->kind() == c10::prim::ListConstruct) {
    std::vector<int64_t> ints;
    for (Value* in : n->inputs()) {
      auto iv = torch::jit::toIValue(in);
      if (!iv || !iv->isInt()) return std::nullopt;
      ints.push_back(iv->toInt());
    }
    return c10::IValue(ints);
  }
  return std::nullopt;
}

std::optional<std::vector<int64_t>> int_list_of(Value* v) {
  auto iv = constant_of(v);
  if (!iv) return std::nullopt;
  if (iv->isInt()) return std::vector<int64_t>{iv->toInt()};
  if (iv->isIntList()) return iv->toIntVector();
  return std::nullopt;
}

std::optional<c10::IValue> attribute_of(Value* v, const torch::jit::Module& root) {
  const Node* n = v->node();
  if (n->kind() == c10::prim::Param && v->offset() == 0) return root._ivalue();
  if (n->kind() == c10::prim::GetAttr) {
    auto parent = attribute_of(n->input(0), root);
    if (!parent || !parent->isObject()) return std::nullopt;
    const auto obj = parent->toObject();
    const std::string& name = n->s(c10::attr::name);
    if (!obj->type()->hasAttribute(name)) return std::nullopt;
    return obj->getAttr(name);
  }
  if (auto iv = torch::jit::toIValue(v)) return iv;
  return std::nullopt;
}

std::string attribute_path(Value* v) {
  const Node* n = v->node();
  if (n->kind() != c10::prim::GetAttr) return "";
  const std::string parent = attribute_path(n->input(0));
  const std::string& name = n->s(c10::attr::name);
  return parent.empty() ? name : parent + "." + name;
}

const std::string& ModulePaths::of(const Node* node) const {
  auto it = paths_.find(node);
  if (it == paths_.end()) it = paths_.emplace(node, module_path(node)).first;
  return it->second;
}

Value* ModulePaths::module_output(const std::string& path) const {
  if (auto it = outputs_.find(path); it != outputs_.end()) return it->second;
  Value* found = nullptr;
  for (Node* n : graph_.nodes()) {
    if (n->kind() == c10::prim::GetAttr || n->kind() == c10::prim::Constant) continue;
    if (!inside(of(n), path)) continue;
    for (Value* out : n->outputs()) {
      if (!out->type()->isSubtypeOf(*c10::TensorType::get())) continue;
      for (const torch::jit::Use& use : out->uses()) {
        const Node* user = use.user;
        while (user->owningBlock() != graph_.block()) user = user->owningBlock()->owningNode();
        if (user->kind() == c10::prim::Return || !inside(of(user), path)) {
          found = out;  // graph order: the last such value wins
          break;
        }
      }
    }
  }
  outputs_[path] = found;
  return found;
}

std::string module_type(const torch::jit::Module& root, const std::string& path) {
  c10::IValue cur = root._ivalue();
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur.isObject() || !cur.toObject()->type()->hasAttribute(name)) return "";
    cur = cur.toObject()->getAttr(name);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!cur.isObject()) return "";
  const auto qn = cur.toObject()->type()->name();
  return qn ? qn->name() : "";
}

std::string op_name(const Node* node) {
  std::string s = node->kind().toUnqualString();
  if (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

std::pair<std::string, std::vector<std::string>> ModulePaths::describe(Value* v) const {
  std::vector<std::string> ops;
  for (int hops = 0; hops < 8; ++hops) {
    const std::string path = of(v->node());
    // The outermost enclosing module whose output this value is.
    std::string prefix;
    size_t pos = 0;
    while (!path.empty()) {
      pos = path.find('.', pos);
      prefix = path.substr(0, pos);
      if (module_output(prefix) == v) {
        std::reverse(ops.begin(), ops.end());
        return {prefix, ops};
      }
      if (pos == std::string::npos) break;
      ++pos;
    }
    // Not a module's output: step over an element-wise op applied outside any module.
    Node* n = v->node();
    // Scripted F.relu(x, inplace=...) is an If choosing relu_ or relu: name the op inside.
    if (n->kind() == c10::prim::If && !n->blocks().empty() && !n->blocks()[0]->outputs().empty()) {
      Node* inner = n->blocks()[0]->outputs()[0]->node();
      if (inner->owningBlock() == n->blocks()[0] && !inner->inputs().empty()) n = inner;
    }
    if (n->inputs().empty() || n->kind() == c10::prim::Param) break;
    ops.push_back(op_name(n));
    v = n->input(0);
  }
  std::reverse(ops.begin(), ops.end());
  return {"", ops};
}

}  // namespace camkit::detail
