#include "model/head.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "model/graph.hpp"

namespace camkit::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;
namespace aten = c10::aten;
namespace prim = c10::prim;

// Ops that pass a tensor's values through unchanged in eval mode (shape changes, dropout).
bool is_identity_like(const Node* n) {
  static const std::set<c10::Symbol> ops = {
      aten::flatten, aten::view, aten::reshape, aten::squeeze, aten::contiguous, aten::clone,
      aten::detach, aten::dropout, aten::dropout_, aten::feature_dropout, aten::feature_dropout_,
      aten::alpha_dropout, aten::alpha_dropout_, aten::to, aten::feature_alpha_dropout,
      aten::feature_alpha_dropout_, aten::unsqueeze,
      // After the pooling these move size-1 dimensions
      // (ConvNeXt's LayerNorm2d permutes the pooled map).
      aten::permute, aten::transpose};
  return ops.count(n->kind()) > 0;
}

// Uses that read only a tensor's shape, type or device.
bool is_shape_query(const Node* n) {
  static const std::set<c10::Symbol> ops = {
      aten::size,   aten::dim,  aten::len, c10::Symbol::fromQualString("aten::numel"),
      prim::device, prim::dtype};
  return ops.count(n->kind()) > 0;
}

// A tuple, list or dict built only to be returned: the model returns the value beside its
// logits ((features, logits) models), which leaves the logits' computation alone.
bool only_returned(const Node* n) {
  if (n->kind() != prim::TupleConstruct && n->kind() != prim::ListConstruct &&
      n->kind() != prim::DictConstruct)
    return false;
  for (const torch::jit::Use& use : n->output()->uses())
    if (use.user->kind() != prim::Return && !only_returned(use.user)) return false;
  return true;
}

// An op the way users know it from torch.nn: "LayerNorm", "Hardswish".
std::string user_name(const Node* n) {
  static const std::map<std::string, std::string> names = {{"layer_norm", "LayerNorm"},
                                                           {"batch_norm", "BatchNorm"},
                                                           {"group_norm", "GroupNorm"},
                                                           {"instance_norm", "InstanceNorm"},
                                                           {"relu", "ReLU"},
                                                           {"relu6", "ReLU6"},
                                                           {"hardtanh", "Hardtanh"},
                                                           {"hardswish", "Hardswish"},
                                                           {"hardsigmoid", "Hardsigmoid"},
                                                           {"gelu", "GELU"},
                                                           {"silu", "SiLU"},
                                                           {"sigmoid", "Sigmoid"},
                                                           {"tanh", "Tanh"},
                                                           {"elu", "ELU"},
                                                           {"leaky_relu", "LeakyReLU"},
                                                           {"softmax", "Softmax"},
                                                           {"log_softmax", "LogSoftmax"},
                                                           {"linear", "second Linear"},
                                                           {"addmm", "second Linear"},
                                                           {"matmul", "matmul"},
                                                           {"mul", "multiplication"},
                                                           {"div", "division"},
                                                           {"add", "addition"},
                                                           {"cat", "concatenation"},
                                                           {"pow", "power"},
                                                           {"mean", "mean"},
                                                           {"max", "max"}};
  const std::string op = op_name(n);
  const auto it = names.find(op);
  return it == names.end() ? n->kind().toQualString() : it->second;
}

// " (classifier.0, LayerNorm2d)": where an op runs, by module path and class.
std::string where(const Node* n, const torch::jit::Module& root) {
  const std::string path = module_path(n);
  if (path.empty()) return "";
  const std::string type = module_type(root, path);
  return " (" + path + (type.empty() ? "" : ", " + type) + ")";
}

bool is_relu(const Node* n) {
  return n->kind() == aten::relu || n->kind() == aten::relu_;
}

// Global average pooling over the spatial axes of (N, C, H, W) or (N, C, D, H, W). The graph
// does not always say the input's rank (scripted models); a mean over H and W of a 3-D map is
// not global and fails the numerical identity check at load, as does a partial avg_pool.
bool is_global_pool(Node* n) {
  if (n->kind() == aten::adaptive_avg_pool2d || n->kind() == aten::adaptive_avg_pool3d) {
    auto size = int_list_of(n->input(1));
    return size && std::all_of(size->begin(), size->end(), [](int64_t s) { return s == 1; });
  }
  if (n->kind() == aten::mean && n->inputs().size() >= 3) {
    auto dims = int_list_of(n->input(1));
    if (!dims || (dims->size() != 2 && dims->size() != 3)) return false;
    std::set<int64_t> d(dims->begin(), dims->end());
    return d == std::set<int64_t>{2, 3} || d == std::set<int64_t>{-2, -1} ||
           d == std::set<int64_t>{2, 3, 4} || d == std::set<int64_t>{-3, -2, -1};
  }
  // A whole-map average pool: its size is only known at run time; the numerical identity check
  // at load time rejects a pool that is not global.
  return n->kind() == aten::avg_pool2d || n->kind() == aten::avg_pool3d;
}

// The tensor behind a weight operand, undoing a transpose; undefined if not a known constant.
at::Tensor weight_of(Value* v, const torch::jit::Module& module, bool transposed,
                     std::string* path) {
  Node* n = v->node();
  if (n->kind() == aten::t || n->kind() == aten::numpy_T ||
      (n->kind() == aten::transpose && int_list_of(n->input(1)) && int_list_of(n->input(2)))) {
    return weight_of(n->input(0), module, !transposed, path);
  }
  auto iv = attribute_of(v, module);
  if (!iv || !iv->isTensor()) return {};
  *path = attribute_path(v);
  at::Tensor w = iv->toTensor().detach();
  if (w.dim() != 2) return {};
  return transposed ? w.t() : w;
}

at::Tensor bias_of(Value* v, const torch::jit::Module& module, bool* ok) {
  auto iv = attribute_of(v, module);
  *ok = iv.has_value() && (iv->isNone() || iv->isTensor());
  if (!*ok || iv->isNone()) return {};
  return iv->toTensor().detach().reshape({-1});
}

std::string classifier_name(const Node* n, const std::string& weight_path) {
  std::string p = module_path(n);
  if (!p.empty()) return p;
  auto dot = weight_path.rfind('.');
  return dot == std::string::npos ? weight_path : weight_path.substr(0, dot);
}

struct Linear {
  Value* output = nullptr;
  at::Tensor weight, bias;
  std::string name;
};

// Recognises x -> linear(x, W, b), addmm(b, x, W^T), matmul/mm(x, W^T) [+ b] with x as the
// data operand; returns std::nullopt for anything else.
std::optional<Linear> as_linear(Node* n, Value* x, const torch::jit::Module& module) {
  Linear lin;
  std::string wpath;
  bool ok = true;
  if (n->kind() == aten::linear && n->input(0) == x) {
    lin.weight = weight_of(n->input(1), module, false, &wpath);
    lin.bias = bias_of(n->input(2), module, &ok);
    lin.output = n->output();
  } else if (n->kind() == aten::addmm && n->input(1) == x) {
    auto beta = constant_of(n->input(3)), alpha = constant_of(n->input(4));
    if (!beta || !alpha || beta->toScalar().toDouble() != 1.0 ||
        alpha->toScalar().toDouble() != 1.0)
      return std::nullopt;
    lin.weight = weight_of(n->input(2), module, true, &wpath);
    lin.bias = bias_of(n->input(0), module, &ok);
    lin.output = n->output();
  } else if ((n->kind() == aten::matmul || n->kind() == aten::mm) && n->input(0) == x) {
    lin.weight = weight_of(n->input(1), module, true, &wpath);
    lin.output = n->output();
    // An optional bias added right after: matmul(x, W^T) + b.
    if (lin.output->uses().size() == 1) {
      Node* add = lin.output->uses()[0].user;
      if ((add->kind() == aten::add || add->kind() == aten::add_) && add->inputs().size() == 3 &&
          add->input(0) == lin.output) {
        auto alpha = constant_of(add->input(2));
        bool bias_ok = false;
        at::Tensor b = bias_of(add->input(1), module, &bias_ok);
        if (bias_ok && b.defined() && alpha && alpha->toScalar().toDouble() == 1.0) {
          lin.bias = b;
          lin.output = add->output();
        }
      }
    }
  } else {
    return std::nullopt;
  }
  if (!ok || !lin.weight.defined()) return std::nullopt;
  if (lin.bias.defined() && lin.bias.numel() != lin.weight.size(0)) return std::nullopt;
  lin.name = classifier_name(n, wpath);
  return lin;
}

// Follows `v` forward through identity-like ops. Collects the values reached and the first use
// that is neither identity-like nor a shape query (`other`), or the return.
struct Flow {
  std::vector<Value*> values;
  std::vector<torch::jit::Use> others;
  bool reaches_return = false;
};
Flow follow(Value* v) {
  Flow f;
  std::vector<Value*> todo{v};
  while (!todo.empty()) {
    Value* cur = todo.back();
    todo.pop_back();
    f.values.push_back(cur);
    for (const torch::jit::Use& use : cur->uses()) {
      Node* user = use.user;
      if (user->kind() == prim::Return || only_returned(user)) {
        f.reaches_return = true;
      } else if (is_shape_query(user)) {
        continue;
      } else if (is_identity_like(user) && use.offset == 0) {
        todo.push_back(user->output());
      } else {
        f.others.push_back(use);
      }
    }
  }
  return f;
}

// Whether `from` reaches `target` (the model's chosen logits) through identity-like ops only,
// following tuples element by element (packed by TupleConstruct, unpacked by TupleUnpack or
// TupleIndex: scripted GoogLeNet builds GoogLeNetOutputs twice). On failure `why` names the
// first op in the way, in the user's terms.
bool reaches(Value* from, Value* target, const torch::jit::Module& root, std::string* why) {
  struct Item {
    Value* value;
    std::vector<size_t> path;  // tuple indices from the outermost tuple down to the value
  };
  std::vector<Item> todo{{from, {}}};
  std::string first;
  while (!todo.empty()) {
    Item cur = todo.back();
    todo.pop_back();
    if (cur.value == target && cur.path.empty()) return true;
    for (const torch::jit::Use& use : cur.value->uses()) {
      Node* user = use.user;
      const bool in_tuple = !cur.path.empty();
      if (user->kind() == prim::Return || is_shape_query(user)) continue;
      if (user->kind() == prim::TupleConstruct || user->kind() == prim::ListConstruct) {
        Item next{user->output(), cur.path};
        next.path.push_back(use.offset);
        todo.push_back(next);
      } else if (in_tuple && user->kind() == prim::TupleUnpack) {
        Item next{user->output(cur.path.back()), cur.path};
        next.path.pop_back();
        todo.push_back(next);
      } else if (in_tuple &&
                 (user->kind() == prim::TupleIndex || user->kind() == aten::__getitem__)) {
        auto index = constant_of(user->input(1));
        if (!index || !index->isInt() || static_cast<size_t>(index->toInt()) != cur.path.back())
          continue;
        Item next{user->output(), cur.path};
        next.path.pop_back();
        todo.push_back(next);
      } else if (!in_tuple && is_identity_like(user) && use.offset == 0) {
        todo.push_back({user->output(), cur.path});
      } else if (first.empty() && !in_tuple) {
        first = "a " + user_name(user) + where(user, root);
      }
    }
  }
  *why = first.empty() ? "nothing: it does not reach the logits the model returns" : first;
  return false;
}

// SqueezeNet form: pool input <- [ReLU] <- 1x1 conv (stride 1, no padding, groups 1).
std::optional<GraphHead> conv_classifier_before(Node* pool, const torch::jit::Module& module) {
  GraphHead h;
  Value* v = pool->input(0);
  if (is_relu(v->node())) {
    h.relu_before_pool = true;
    v = v->node()->input(0);
  }
  Node* conv = v->node();
  const bool conv_op = conv->kind() == aten::_convolution || conv->kind() == aten::conv2d ||
                       conv->kind() == aten::conv3d;
  if (!conv_op) return std::nullopt;
  auto w = attribute_of(conv->input(1), module);
  if (!w || !w->isTensor()) return std::nullopt;
  at::Tensor weight = w->toTensor().detach();
  // A 1x1 (or 1x1x1) kernel: a linear map of the channels at every position.
  if (weight.dim() != 4 && weight.dim() != 5) return std::nullopt;
  for (int64_t d = 2; d < weight.dim(); ++d)
    if (weight.size(d) != 1) return std::nullopt;
  auto stride = int_list_of(conv->input(3)), padding = int_list_of(conv->input(4)),
       dilation = int_list_of(conv->input(5));
  const int groups_index = conv->kind() == aten::_convolution ? 8 : 6;
  auto groups = constant_of(conv->input(groups_index));
  auto all_eq = [](const std::optional<std::vector<int64_t>>& l, int64_t x) {
    return l && std::all_of(l->begin(), l->end(), [x](int64_t e) { return e == x; });
  };
  if (!all_eq(stride, 1) || !all_eq(padding, 0) || !all_eq(dilation, 1) || !groups ||
      groups->toInt() != 1)
    return std::nullopt;
  if (conv->kind() == aten::_convolution) {
    auto transposed = constant_of(conv->input(6));
    if (!transposed || transposed->toBool()) return std::nullopt;
  }
  bool ok = true;
  h.bias = bias_of(conv->input(2), module, &ok);
  if (!ok) return std::nullopt;
  h.weight = weight.flatten(1);
  // The map is taken from the classifier's input; dropout before it is identity in eval.
  Value* features = conv->input(0);
  while (features->node()->kind() == aten::dropout || features->node()->kind() == aten::dropout_ ||
         features->node()->kind() == aten::feature_dropout)
    features = features->node()->input(0);
  h.features = features;
  h.kind = "conv1x1";
  h.classifier = classifier_name(conv, attribute_path(conv->input(1)));
  return h;
}

// Exam models (MRNet) pool every slice of the batch and then reduce the pooled vectors over the
// slices, dimension 0: torch.max(x, 0)[0], amax(x, 0) or mean(x, 0). Returns "max" or "mean".
std::string slice_reduction(const torch::jit::Use& use) {
  Node* n = use.user;
  if (use.offset != 0) return "";
  auto dims_are_zero = [](Value* v) {
    if (auto list = int_list_of(v)) return list->size() == 1 && list->front() == 0;
    auto c = constant_of(v);
    return c && c->isInt() && c->toInt() == 0;
  };
  if (n->kind() == aten::max && n->inputs().size() == 3 && n->outputs().size() == 2 &&
      dims_are_zero(n->input(1)) && n->output(1)->uses().empty())
    return "max";
  if (n->kind() == aten::amax && n->inputs().size() >= 2 && dims_are_zero(n->input(1)))
    return "max";
  if (n->kind() == aten::mean && n->inputs().size() >= 3 && dims_are_zero(n->input(1)))
    return "mean";
  return "";
}

}  // namespace

GraphHead find_cam_head(torch::jit::Graph& graph, const torch::jit::Module& module, Value* logits) {
  std::vector<Node*> pools;
  for (Node* n : graph.nodes())
    if (is_global_pool(n)) pools.push_back(n);
  GraphHead none;
  if (pools.empty()) {
    none.reason =
        "no global average pooling found (adaptive_avg_pool2d/3d to 1, mean over H and W or "
        "D, H and W, or a whole-map avg_pool2d/3d)";
    return none;
  }
  // The pooling closest to the output decides; earlier ones (auxiliary heads, squeeze-and-
  // excitation blocks) are tried when it does not qualify, but its reason is the one reported.
  std::string last_reason;
  for (auto it = pools.rbegin(); it != pools.rend(); ++it) {
    Node* pool = *it;
    const std::string pool_kind = pool->kind().toQualString();
    Flow flow = follow(pool->output());
    std::string reduce;
    if (flow.others.size() == 1 && !flow.reaches_return) {
      reduce = slice_reduction(flow.others.front());
      if (!reduce.empty()) flow = follow(flow.others.front().user->output(0));
    }
    const bool pooled_are_logits =
        std::find(flow.values.begin(), flow.values.end(), logits) != flow.values.end();
    if (pooled_are_logits) {
      if (auto h = conv_classifier_before(pool, module)) {
        h->found = true;
        h->pooling = pool_kind;
        h->logits = logits;
        return *h;
      }
      if (last_reason.empty())
        last_reason = "the pooled features are returned without a classifier after them";
      continue;
    }
    if (flow.others.size() != 1) {
      if (last_reason.empty())
        last_reason = "the pooled features are used by " + std::to_string(flow.others.size()) +
                      " operations; CAM needs exactly one linear classifier";
      continue;
    }
    const torch::jit::Use use = flow.others.front();
    auto lin = as_linear(use.user, use.user->input(use.offset), module);
    if (!lin) {
      if (last_reason.empty())
        last_reason = "the pooled features go through a " + user_name(use.user) +
                      where(use.user, module) +
                      " before any linear layer; a non-linear function of the pooled vector has "
                      "no class activation map";
      continue;
    }
    std::string why;
    if (!reaches(lin->output, logits, module, &why)) {
      if (last_reason.empty())
        last_reason = "the output of " + lin->name + " goes through " + why +
                      " before the logits; a non-linear head has no class activation map";
      continue;
    }
    GraphHead h;
    h.found = true;
    h.kind = "linear";
    h.pooling = pool_kind;
    h.classifier = lin->name;
    h.features = pool->input(0);
    h.logits = lin->output;
    h.weight = lin->weight;
    h.bias = lin->bias;
    h.slice_reduce = reduce;
    return h;
  }
  none.reason = last_reason;
  return none;
}

}  // namespace camkit::detail
