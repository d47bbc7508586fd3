// Axis tracking: the label of every tensor dimension of the inlined graph (layout.hpp).
#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "camkit/error.hpp"
#include "model/graph.hpp"
#include "model/layout.hpp"

namespace camkit::detail {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;
using Sizes = std::vector<std::int64_t>;

bool is_tensor(const Value* v) {
  return v->type()->isSubtypeOf(*c10::TensorType::get());
}

// Ops whose output has the shape and meaning of input 0, axis for axis.
const std::set<std::string>& preserving_ops() {
  static const std::set<std::string> ops = {"relu",
                                            "gelu",
                                            "silu",
                                            "sigmoid",
                                            "tanh",
                                            "hardswish",
                                            "hardsigmoid",
                                            "hardtanh",
                                            "relu6",
                                            "leaky_relu",
                                            "elu",
                                            "selu",
                                            "celu",
                                            "mish",
                                            "softplus",
                                            "prelu",
                                            "glu",
                                            "dropout",
                                            "feature_dropout",
                                            "alpha_dropout",
                                            "feature_alpha_dropout",
                                            "batch_norm",
                                            "instance_norm",
                                            "group_norm",
                                            "layer_norm",
                                            "clone",
                                            "contiguous",
                                            "detach",
                                            "to",
                                            "type_as",
                                            "float",
                                            "softmax",
                                            "log_softmax",
                                            "neg",
                                            "abs",
                                            "exp",
                                            "log",
                                            "sqrt",
                                            "rsqrt",
                                            "clamp",
                                            "clamp_min",
                                            "clamp_max",
                                            "masked_fill",
                                            "fill",
                                            "zero",
                                            "square",
                                            "reciprocal",
                                            "erf",
                                            "sign",
                                            "frobenius_norm",
                                            "pad",
                                            "constant_pad_nd",
                                            "reflection_pad1d",
                                            "reflection_pad2d",
                                            "reflection_pad3d",
                                            "replication_pad1d",
                                            "replication_pad2d",
                                            "replication_pad3d",
                                            "upsample_bilinear2d",
                                            "upsample_nearest2d",
                                            "upsample_bicubic2d",
                                            "upsample_trilinear3d",
                                            "upsample_nearest3d",
                                            "upsample_linear1d",
                                            "upsample_nearest1d",
                                            "interpolate",
                                            "native_dropout",
                                            "channel_shuffle",
                                            "local_response_norm"};
  return ops;
}

// Elementwise ops of several tensors (broadcasting).
const std::set<std::string>& broadcast_ops() {
  static const std::set<std::string> ops = {
      "add",     "sub",     "mul",   "div",         "rsub",         "maximum",
      "minimum", "pow",     "where", "true_divide", "floor_divide", "remainder",
      "addcmul", "addcdiv", "lerp",  "hypot",       "fmod"};
  return ops;
}

const std::set<std::string>& pooling_ops() {
  static const std::set<std::string> ops = {"adaptive_avg_pool1d",
                                            "adaptive_avg_pool2d",
                                            "adaptive_avg_pool3d",
                                            "adaptive_max_pool1d",
                                            "adaptive_max_pool2d",
                                            "adaptive_max_pool3d",
                                            "avg_pool1d",
                                            "avg_pool2d",
                                            "avg_pool3d",
                                            "max_pool1d",
                                            "max_pool2d",
                                            "max_pool3d",
                                            "max_pool2d_with_indices",
                                            "max_pool3d_with_indices",
                                            "lp_pool2d"};
  return ops;
}

const std::set<std::string>& reduction_ops() {
  static const std::set<std::string> ops = {"mean", "sum", "amax",      "amin", "max", "min",
                                            "std",  "var", "logsumexp", "norm", "prod"};
  return ops;
}

bool is_conv(const std::string& op) {
  return op == "_convolution" || op == "conv1d" || op == "conv2d" || op == "conv3d" ||
         op == "conv_transpose1d" || op == "conv_transpose2d" || op == "conv_transpose3d" ||
         op == "mkldnn_convolution";
}

int normalise_dim(std::int64_t d, size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  return static_cast<int>(d < 0 ? d + r : d);
}

// A value produced by a parameter read (possibly transposed): a weight, not data.
bool is_parameter(const Value* v) {
  const Node* n = v->node();
  while (n->kind() == c10::aten::t || n->kind() == c10::aten::transpose ||
         n->kind() == c10::aten::numpy_T)
    n = n->input(0)->node();
  return n->kind() == c10::prim::GetAttr || n->kind() == c10::prim::Constant;
}

// One label for several dimensions merged into one (flatten, reshape), from their labels and
// sizes: size-1 dimensions vanish; spatial axes merge into a token grid in row-major order.
Axis merge(const std::vector<Axis>& axes, const Sizes& sizes) {
  std::vector<Axis> kept;
  bool pooled = false;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (sizes[i] == 1) {
      pooled |= axes[i].kind == Axis::pooled;
      continue;
    }
    kept.push_back(axes[i]);
  }
  if (kept.empty()) return Axis::of(pooled ? Axis::pooled : Axis::unknown);
  if (kept.size() == 1) return kept.front();
  Axis g = Axis::of(Axis::grid);
  for (size_t i = 0, j = 0; i < axes.size(); ++i) {
    if (sizes[i] == 1) continue;
    const Axis& a = kept[j++];
    if (a.kind == Axis::space)
      g.cells.emplace_back(a.axis, sizes[i]);
    else if (a.kind == Axis::grid && a.prefix == 0 && a.suffix == 0)
      g.cells.insert(g.cells.end(), a.cells.begin(), a.cells.end());
    else
      return Axis{};
  }
  return g;
}

// Labels for one dimension split into several of sizes `out` (a token grid unflattened).
std::vector<Axis> split(const Axis& a, const Sizes& out) {
  std::vector<Axis> result(out.size());
  Sizes big;
  for (std::int64_t s : out)
    if (s != 1) big.push_back(s);
  if (big.size() <= 1) {  // one real dimension, the rest size 1
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i] != 1 || big.empty()) result[i] = a;
    return result;
  }
  if (a.kind != Axis::grid || a.prefix != 0 || a.suffix != 0 || a.cells.size() != big.size())
    return result;
  for (size_t i = 0; i < big.size(); ++i)
    if (a.cells[i].second != big[i]) return result;
  for (size_t i = 0, j = 0; i < out.size(); ++i)
    if (out[i] != 1) result[i] = Axis::of(Axis::space, a.cells[j++].first);
  return result;
}

// reshape/view from sizes `in` to `out`: dimensions grouped by equal running products.
Axes reshape(const Axes& a, const Sizes& in, const Sizes& out) {
  Axes result(out.size());
  size_t i = 0, j = 0;
  while (i < in.size() || j < out.size()) {
    // Size-1 dimensions stand alone on either side.
    if (i < in.size() && in[i] == 1 && (j >= out.size() || out[j] != 1)) {
      ++i;
      continue;
    }
    if (j < out.size() && out[j] == 1 && (i >= in.size() || in[i] != 1)) {
      ++j;
      continue;
    }
    if (i < in.size() && j < out.size() && in[i] == 1 && out[j] == 1) {
      result[j++] = a[i++];
      continue;
    }
    if (i >= in.size() || j >= out.size()) break;
    const size_t i0 = i, j0 = j;
    std::int64_t pi = in[i++], pj = out[j++];
    while (pi != pj) {
      if (pi < pj && i < in.size())
        pi *= in[i++];
      else if (pj < pi && j < out.size())
        pj *= out[j++];
      else
        return Axes(out.size());
    }
    const Axes group_in(a.begin() + static_cast<long>(i0), a.begin() + static_cast<long>(i));
    const Sizes sizes_in(in.begin() + static_cast<long>(i0), in.begin() + static_cast<long>(i));
    const Sizes sizes_out(out.begin() + static_cast<long>(j0), out.begin() + static_cast<long>(j));
    Axes labels;
    if (group_in.size() == 1)
      labels = split(group_in.front(), sizes_out);
    else if (sizes_out.size() == 1)
      labels = {merge(group_in, sizes_in)};
    else
      labels = Axes(sizes_out.size());
    std::copy(labels.begin(), labels.end(), result.begin() + static_cast<long>(j0));
  }
  return result;
}

// Labels of a broadcast result from the operands' labels (right-aligned): a dimension takes
// the label its known, non-broadcast operands agree on.
Axes broadcast(const std::vector<std::pair<const Axes*, const Sizes*>>& operands, size_t rank,
               const Sizes* out) {
  Axes result(rank);
  for (size_t d = 0; d < rank; ++d) {
    bool conflict = false, any = false;
    Axis label;
    for (const auto& [axes, sizes] : operands) {
      const size_t r = axes->size();
      if (rank - d > r) continue;
      const size_t k = r - (rank - d);
      if (sizes && out && (*sizes)[k] == 1 && (*out)[d] != 1) continue;
      const Axis& a = (*axes)[k];
      if (a.kind == Axis::unknown) continue;
      if (any && a != label) conflict = true;
      label = a;
      any = true;
    }
    if (any && !conflict) result[d] = label;
  }
  return result;
}

std::string axis_name(const Axis& a) {
  switch (a.kind) {
    case Axis::batch:
      return "batch";
    case Axis::channel:
      return "channel";
    case Axis::space:
      return "space " + std::to_string(a.axis);
    case Axis::grid: {
      std::string s = "tokens (";
      if (a.prefix) s += std::to_string(a.prefix) + " + ";
      for (size_t i = 0; i < a.cells.size(); ++i)
        s += (i ? "x" : "") + std::to_string(a.cells[i].second);
      if (a.suffix) s += " + " + std::to_string(a.suffix);
      return s + ")";
    }
    case Axis::pooled:
      return "pooled";
    default:
      return "?";
  }
}

}  // namespace

std::string describe_axes(const Axes& axes) {
  std::string s = "(";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + axis_name(axes[i]);
  return s + ")";
}

AxisMap::AxisMap(torch::jit::Graph& graph, const Axes& input, const Shapes& shapes)
    : shapes_(shapes) {
  if (graph.inputs().size() >= 2) axes_[graph.inputs()[1]] = input;
  visit(graph.block());
}

const Axes* AxisMap::find(const Value* v) const {
  const auto it = axes_.find(v);
  return it == axes_.end() ? nullptr : &it->second;
}

const Sizes* AxisMap::shape(const Value* v) const {
  const auto it = shapes_.find(v);
  return it == shapes_.end() ? nullptr : &it->second;
}

void AxisMap::set(const Value* v, Axes axes) {
  if (const Sizes* s = shape(v); s && s->size() != axes.size()) return;
  if (std::all_of(axes.begin(), axes.end(), [](const Axis& a) { return a.kind == Axis::unknown; }))
    return;
  axes_[v] = std::move(axes);
}

void AxisMap::visit(Block* block) {
  for (Node* n : block->nodes()) visit(n);
}

void AxisMap::visit(Node* n) {
  const c10::Symbol kind = n->kind();
  if (kind == c10::prim::If) {
    auto cond = constant_of(n->input(0));
    std::vector<Block*> taken;
    if (cond && cond->isBool())
      taken.push_back(n->blocks()[cond->toBool() ? 0 : 1]);
    else
      taken.assign(n->blocks().begin(), n->blocks().end());
    for (Block* b : taken) visit(b);
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      const Axes* first = find(taken.front()->outputs()[i]);
      bool same = first != nullptr;
      for (Block* b : taken)
        same = same && find(b->outputs()[i]) && *find(b->outputs()[i]) == *first;
      if (same) set(n->output(i), *first);
    }
    return;
  }
  if (kind == c10::prim::ListConstruct || kind == c10::prim::TupleConstruct) {
    std::vector<Axes> items;
    for (Value* in : n->inputs()) items.push_back(find(in) ? *find(in) : Axes{});
    lists_[n->output()] = std::move(items);
    return;
  }
  if (kind == c10::prim::ListUnpack || kind == c10::prim::TupleUnpack) {
    const auto it = lists_.find(n->input(0));
    if (it == lists_.end()) return;
    for (size_t i = 0; i < n->outputs().size() && i < it->second.size(); ++i)
      set(n->output(i), it->second[i]);
    return;
  }
  if (kind == c10::prim::TupleIndex) {
    const auto it = lists_.find(n->input(0));
    auto index = constant_of(n->input(1));
    if (it != lists_.end() && index && index->isInt() && index->toInt() >= 0 &&
        static_cast<size_t>(index->toInt()) < it->second.size())
      set(n->output(), it->second[static_cast<size_t>(index->toInt())]);
    return;
  }
  if (!kind.is_aten() || n->outputs().empty()) return;
  std::string op = kind.toUnqualString();
  if (!op.empty() && op.back() == '_' && op != "_convolution") op.pop_back();
  Value* out = n->output(0);
  const Sizes* out_shape = shape(out);

  if (op == "chunk" || op == "split" || op == "split_with_sizes" || op == "unsafe_chunk" ||
      op == "unsafe_split" || op == "tensor_split") {
    const Axes* a = find(n->input(0));
    auto dim = n->inputs().size() >= 3 ? constant_of(n->input(2)) : std::nullopt;
    if (!a || !dim || !dim->isInt()) return;
    Axes each = *a;
    const int d = normalise_dim(dim->toInt(), a->size());
    if (d < 0 || d >= static_cast<int>(each.size())) return;
    if (each[d].kind != Axis::channel) each[d] = Axis{};
    // The element count is only known from the unpacking; enough copies for any of them.
    lists_[out] = std::vector<Axes>(64, each);
    return;
  }
  if (!is_tensor(out)) return;
  const Axes* a = n->inputs().empty() ? nullptr : find(n->input(0));
  const Sizes* in_shape = n->inputs().empty() ? nullptr : shape(n->input(0));

  if (preserving_ops().count(op)) {
    if (a) set(out, *a);
    return;
  }
  if (broadcast_ops().count(op)) {
    std::vector<std::pair<const Axes*, const Sizes*>> operands;
    size_t rank = 0;
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      Value* v = n->input(i);
      if (op == "where" && i == 0) continue;  // the condition carries no meaning of its own
      if (!is_tensor(v) || !find(v)) continue;
      operands.emplace_back(find(v), shape(v));
      rank = std::max(rank, find(v)->size());
    }
    if (out_shape) rank = out_shape->size();
    if (!operands.empty()) set(out, broadcast(operands, rank, out_shape));
    return;
  }
  if (is_conv(op)) {
    if (!a || a->size() < 3) return;
    Axes r = *a;
    r[1] = Axis::of(Axis::channel);
    set(out, r);
    return;
  }
  if (pooling_ops().count(op)) {
    if (!a) return;
    Axes r = *a;
    for (size_t d = 0; d < r.size(); ++d) {
      const bool collapsed = out_shape && in_shape && (*out_shape)[d] == 1 && (*in_shape)[d] > 1;
      if (r[d].kind == Axis::space && collapsed) r[d] = Axis::of(Axis::pooled);
    }
    set(out, r);
    return;
  }
  if (op == "linear" || ((op == "matmul" || op == "mm") && is_parameter(n->input(1)))) {
    if (!a || a->empty()) return;
    Axes r = *a;
    r.back() = Axis::of(Axis::channel);
    set(out, r);
    return;
  }
  if (op == "addmm") {
    const Axes* x = find(n->input(1));
    if (x && x->size() == 2) set(out, {(*x)[0], Axis::of(Axis::channel)});
    return;
  }
  if (op == "cat" || op == "concat") {
    const auto it = lists_.find(n->input(0));
    auto dim = constant_of(n->input(1));
    if (it == lists_.end() || !dim || !dim->isInt()) return;
    const Node* list = n->input(0)->node();
    if (list->kind() != c10::prim::ListConstruct || list->inputs().size() != it->second.size())
      return;
    std::vector<std::pair<const Axes*, const Sizes*>> operands;
    size_t r = 0;
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (it->second[i].empty()) continue;
      operands.emplace_back(&it->second[i], shape(list->input(i)));
      r = std::max(r, it->second[i].size());
    }
    if (out_shape) r = out_shape->size();
    if (r == 0) return;
    const int d = normalise_dim(dim->toInt(), r);
    Axes result = broadcast(operands, r, nullptr);
    // Along the concatenated dimension: one token grid with other tokens around it.
    int grid_at = -1;
    bool all_channels = true;
    for (size_t i = 0; i < list->inputs().size(); ++i) {
      const Axes& x = it->second[i];
      const Axis label = x.size() == r ? x[d] : Axis{};
      if (label.kind == Axis::grid) grid_at = grid_at == -1 ? static_cast<int>(i) : -2;
      all_channels &= label.kind == Axis::channel;
    }
    result[d] = Axis{};
    if (all_channels) result[d] = Axis::of(Axis::channel);
    if (grid_at >= 0) {
      Axis g = it->second[grid_at][d];
      bool sized = true;
      for (size_t i = 0; i < list->inputs().size(); ++i) {
        if (static_cast<int>(i) == grid_at) continue;
        const Sizes* s = shape(list->input(i));
        if (!s || s->size() != r) {
          sized = false;
          break;
        }
        (static_cast<int>(i) < grid_at ? g.prefix : g.suffix) += (*s)[d];
      }
      if (sized) result[d] = g;
    }
    set(out, result);
    return;
  }
  if (!a) return;
  const size_t rank = a->size();
  if (op == "permute") {
    auto dims = int_list_of(n->input(1));
    if (!dims || dims->size() != rank) return;
    Axes r;
    for (std::int64_t d : *dims) r.push_back((*a)[normalise_dim(d, rank)]);
    set(out, r);
  } else if (op == "transpose" || op == "swapaxes") {
    auto d0 = constant_of(n->input(1)), d1 = constant_of(n->input(2));
    if (!d0 || !d1 || !d0->isInt() || !d1->isInt()) return;
    Axes r = *a;
    std::swap(r[normalise_dim(d0->toInt(), rank)], r[normalise_dim(d1->toInt(), rank)]);
    set(out, r);
  } else if (op == "t" || op == "numpy_T") {
    Axes r = *a;
    std::reverse(r.begin(), r.end());
    set(out, r);
  } else if (op == "flatten") {
    auto s = constant_of(n->input(1)), e = constant_of(n->input(2));
    if (!s || !e || !in_shape || rank == 0) return;
    const int start = normalise_dim(s->toInt(), rank), end = normalise_dim(e->toInt(), rank);
    if (start > end) return;
    Axes r(a->begin(), a->begin() + start);
    r.push_back(merge(Axes(a->begin() + start, a->begin() + end + 1),
                      Sizes(in_shape->begin() + start, in_shape->begin() + end + 1)));
    r.insert(r.end(), a->begin() + end + 1, a->end());
    set(out, r);
  } else if (op == "view" || op == "reshape" || op == "_unsafe_view" || op == "view_as" ||
             op == "reshape_as" || op == "unflatten") {
    if (in_shape && out_shape) set(out, reshape(*a, *in_shape, *out_shape));
  } else if (op == "squeeze") {
    if (!in_shape) return;
    Axes r;
    auto dim = n->inputs().size() >= 2 ? constant_of(n->input(1)) : std::nullopt;
    for (size_t d = 0; d < rank; ++d) {
      const bool drop =
          (*in_shape)[d] == 1 &&
          (!dim || !dim->isInt() || normalise_dim(dim->toInt(), rank) == static_cast<int>(d));
      if (!drop) r.push_back((*a)[d]);
    }
    set(out, r);
  } else if (op == "unsqueeze") {
    auto dim = constant_of(n->input(1));
    if (!dim || !dim->isInt()) return;
    Axes r = *a;
    const int d = normalise_dim(dim->toInt(), rank + 1);
    r.insert(r.begin() + d, Axis{});
    set(out, r);
  } else if (op == "select") {
    auto dim = constant_of(n->input(1));
    if (!dim || !dim->isInt()) return;
    Axes r = *a;
    r.erase(r.begin() + normalise_dim(dim->toInt(), rank));
    set(out, r);
  } else if (op == "slice") {
    auto dim = constant_of(n->input(1)), start = constant_of(n->input(2)),
         end = constant_of(n->input(3)), step = constant_of(n->input(4));
    if (!dim || !dim->isInt()) return;
    Axes r = *a;
    const int d = normalise_dim(dim->toInt(), rank);
    Axis& x = r[d];
    if (x.kind == Axis::grid) {
      const std::int64_t cells =
          std::accumulate(x.cells.begin(), x.cells.end(), std::int64_t{1},
                          [](std::int64_t p, const auto& c) { return p * c.second; });
      const std::int64_t total = x.prefix + cells + x.suffix;
      const std::int64_t s0 =
          start && start->isInt()
              ? std::clamp<std::int64_t>(
                    start->toInt() < 0 ? start->toInt() + total : start->toInt(), 0, total)
              : 0;
      const std::int64_t e0 =
          end && end->isInt()
              ? std::clamp<std::int64_t>(end->toInt() < 0 ? end->toInt() + total : end->toInt(), 0,
                                         total)
              : total;
      const bool unit = !step || !step->isInt() || step->toInt() == 1;
      if (unit && s0 <= x.prefix && e0 >= x.prefix + cells) {
        x.prefix -= s0;
        x.suffix = e0 - (x.prefix + s0 + cells);
      } else {
        x = Axis{};
      }
    }
    set(out, r);
  } else if (op == "expand" || op == "expand_as" || op == "repeat") {
    if (!in_shape || !out_shape || out_shape->size() != rank) return;
    Axes r = *a;
    for (size_t d = 0; d < rank; ++d)
      if ((*in_shape)[d] != (*out_shape)[d]) r[d] = Axis{};
    set(out, r);
  } else if (reduction_ops().count(op)) {
    if (n->inputs().size() < 2) return;
    auto dims = int_list_of(n->input(1));
    if (!dims) return;
    bool keep = false;
    if (n->inputs().size() >= 3)
      if (auto k = constant_of(n->input(2)); k && k->isBool()) keep = k->toBool();
    std::set<int> reduced;
    for (std::int64_t d : *dims) reduced.insert(normalise_dim(d, rank));
    Axes r;
    for (size_t d = 0; d < rank; ++d) {
      if (!reduced.count(static_cast<int>(d)))
        r.push_back((*a)[d]);
      else if (keep)
        r.push_back(Axis::of(Axis::pooled));
    }
    set(out, r);
  } else if (op == "roll") {
    auto dims = n->inputs().size() >= 3 ? int_list_of(n->input(2)) : std::nullopt;
    if (!dims) return;
    Axes r = *a;  // shifted positions no longer sit where the input's did
    for (std::int64_t d : *dims) r[normalise_dim(d, rank)] = Axis{};
    set(out, r);
  }
}

}  // namespace camkit::detail
