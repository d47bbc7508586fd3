// Where each axis of an activation comes from, and the (N, C, spatial...) view of it.
// Private to the model and explain areas.
//
// Axis tracking labels every dimension of every tensor in the inlined forward graph, starting
// from the input (batch, channels, spatial axes) and following each op's semantics: a
// convolution keeps its input's spatial axes and makes dimension 1 the channels, a linear layer
// makes the last dimension the channels, permute/transpose move labels, flatten/reshape merge
// spatial axes into a token grid or split one back, a concatenation in front of a token grid
// adds prefix tokens (ViT's class token), a residual add takes the labels its known operand
// has. Whatever no rule covers is unknown, and a layer with an unknown axis is refused, never
// guessed. Layouts of the values that matter (channels-first, channels-last, tokens) follow.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace camkit::detail {

/// The label of one tensor dimension.
struct Axis {
  enum Kind : std::uint8_t { unknown, batch, channel, space, grid, pooled };
  Kind kind = unknown;
  int axis = -1;  ///< space: which spatial axis of the input (0 = the first after channels)
  /// grid: the flattened spatial axes in row-major order, (axis, size) each, after `prefix`
  /// and before `suffix` other tokens.
  std::vector<std::pair<int, std::int64_t>> cells;
  std::int64_t prefix = 0, suffix = 0;

  static Axis of(Kind k, int s = -1) {
    Axis a;
    a.kind = k;
    a.axis = s;
    return a;
  }
  bool operator==(const Axis& o) const {
    return kind == o.kind && axis == o.axis && cells == o.cells && prefix == o.prefix &&
           suffix == o.suffix;
  }
  bool operator!=(const Axis& o) const { return !(*this == o); }
};
using Axes = std::vector<Axis>;

/// Sizes of tensor values for the probe input (values not measured are absent).
using Shapes = std::unordered_map<const torch::jit::Value*, std::vector<std::int64_t>>;

/// Labels of the tensor values of `graph`, tracked from its input `input` (graph input 1).
class AxisMap {
 public:
  AxisMap(torch::jit::Graph& graph, const Axes& input, const Shapes& shapes);
  /// The labels of `v`; nullptr when nothing is known about it.
  const Axes* find(const torch::jit::Value* v) const;

 private:
  void visit(torch::jit::Block* block);
  void visit(torch::jit::Node* n);
  const std::vector<std::int64_t>* shape(const torch::jit::Value* v) const;
  void set(const torch::jit::Value* v, Axes axes);

  const Shapes& shapes_;
  std::unordered_map<const torch::jit::Value*, Axes> axes_;
  std::unordered_map<const torch::jit::Value*, std::vector<Axes>> lists_;  // Tensor[] values
};

/// How an activation's dimensions map to (N, C, spatial...).
struct Layout {
  enum Kind { channels_first, channels_last, tokens };
  Kind kind = channels_first;
  int batch_dim = 0, channel_dim = 1;
  std::vector<int> spatial_dims;  ///< not tokens: the dimensions of spatial axes 0, 1, ...
  int token_dim = -1;             ///< tokens: the dimension holding prefix + grid + suffix
  std::int64_t prefix = 0;        ///< tokens before the grid (class, distillation, registers)
  std::vector<std::int64_t> grid;  ///< tokens: the grid's size per spatial axis
  /// Sizes of the spatial axes for the probe input.
  std::vector<std::int64_t> spatial;

  /// "channels-first", "channels-last" or "tokens".
  std::string name() const;
  /// E.g. "(N, C, H, W)", "(N, H, W, C)", "(N, 1 + 14x14, C)".
  std::string describe() const;
};

/// The layout of a value with labels `axes` and probe sizes `sizes`; on failure returns false
/// and says why in `why` (e.g. "dimension 2 (size 49) is not a batch, channel or spatial axis").
bool layout_of(const Axes& axes, const std::vector<std::int64_t>& sizes, Layout* out,
               std::string* why);

/// Whether the value's spatial extent (product of spatial sizes) exceeds 1.
bool has_extent(const Layout& layout);

/// The activation as (N, C, s1, ..., sd), a view of `raw` wherever possible (a token layout
/// drops its prefix tokens). Throws Error(input) when `raw` does not fit the layout (a token
/// count that does not hold the grid).
at::Tensor channels_first(const at::Tensor& raw, const Layout& layout);

/// Labels for a dimension list, for messages: "(batch, channel, space 0, space 1)".
std::string describe_axes(const Axes& axes);

}  // namespace camkit::detail
