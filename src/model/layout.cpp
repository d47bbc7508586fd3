// Layouts of labelled values, and the channels-first view the methods read (layout.hpp).
#include "model/layout.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>

#include "camkit/error.hpp"

namespace camkit::detail {
namespace {

using Sizes = std::vector<std::int64_t>;

std::int64_t product(const Sizes& s) {
  return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>());
}

}  // namespace

std::string Layout::name() const {
  switch (kind) {
    case tokens:
      return "tokens";
    case channels_last:
      return "channels-last";
    default:
      return "channels-first";
  }
}

std::string Layout::describe() const {
  static const char* names2[] = {"H", "W"};
  static const char* names3[] = {"D", "H", "W"};
  const size_t d = kind == tokens ? grid.size() : spatial_dims.size();
  auto space = [&](size_t i) { return std::string(d == 3 ? names3[i] : d == 2 ? names2[i] : "S"); };
  std::ostringstream s;
  if (kind == tokens) {
    s << "(N, " << (prefix ? std::to_string(prefix) + " + " : "");
    for (size_t i = 0; i < grid.size(); ++i) s << (i ? "x" : "") << grid[i];
    s << ", C)";
    return s.str();
  }
  std::vector<std::string> dims(1 + 1 + spatial_dims.size());
  dims[static_cast<size_t>(batch_dim)] = "N";
  dims[static_cast<size_t>(channel_dim)] = "C";
  for (size_t i = 0; i < spatial_dims.size(); ++i)
    if (static_cast<size_t>(spatial_dims[i]) < dims.size())
      dims[static_cast<size_t>(spatial_dims[i])] = space(i);
  s << "(";
  for (size_t i = 0; i < dims.size(); ++i) s << (i ? ", " : "") << dims[i];
  s << ")";
  return s.str();
}

bool layout_of(const Axes& axes, const Sizes& sizes, Layout* out, std::string* why) {
  Layout l;
  int batch = -1, channel = -1, grid = -1;
  std::map<int, int> space;  // spatial axis -> dimension
  for (size_t d = 0; d < axes.size(); ++d) {
    const Axis& a = axes[d];
    const int dim = static_cast<int>(d);
    const std::string at = "dimension " + std::to_string(d) + " (size " +
                           std::to_string(d < sizes.size() ? sizes[d] : -1) + ")";
    switch (a.kind) {
      case Axis::batch:
        if (batch >= 0) return *why = "two batch dimensions " + describe_axes(axes), false;
        batch = dim;
        break;
      case Axis::channel:
        if (channel >= 0) return *why = "two channel dimensions " + describe_axes(axes), false;
        channel = dim;
        break;
      case Axis::space:
        if (space.count(a.axis)) return *why = "a spatial axis appears twice", false;
        space[a.axis] = dim;
        break;
      case Axis::grid:
        if (grid >= 0) return *why = "two token dimensions", false;
        grid = dim;
        break;
      case Axis::pooled:
        return *why = at + " is globally pooled: the value lies after a global pooling", false;
      default:
        if (d < sizes.size() && sizes[d] == 1) break;  // a unit dimension, squeezed away
        return *why = at + " is not a batch, channel or spatial axis " + describe_axes(axes), false;
    }
  }
  if (batch < 0) return *why = "no batch dimension " + describe_axes(axes), false;
  for (int d = 0; d < batch; ++d)
    if (axes[static_cast<size_t>(d)].kind != Axis::unknown)
      return *why = "the batch is not the first dimension " + describe_axes(axes), false;
  if (channel < 0) return *why = "no channel dimension " + describe_axes(axes), false;
  if (grid >= 0 && !space.empty())
    return *why = "spatial axes both as tokens and as dimensions", false;
  l.batch_dim = batch;
  l.channel_dim = channel;
  if (grid >= 0) {
    const Axis& g = axes[static_cast<size_t>(grid)];
    if (g.suffix != 0) return *why = "tokens after the patch grid are not supported", false;
    l.kind = Layout::tokens;
    l.token_dim = grid;
    l.prefix = g.prefix;
    std::vector<std::pair<int, std::int64_t>> cells = g.cells;
    for (size_t i = 0; i < cells.size(); ++i)
      if (cells[i].first != static_cast<int>(i))
        return *why = "the token grid is not in row-major spatial order", false;
    for (const auto& c : cells) l.grid.push_back(c.second), l.spatial.push_back(c.second);
  } else {
    if (space.empty()) return *why = "no spatial axis " + describe_axes(axes), false;
    int expect = 0;
    for (const auto& [axis, dim] : space) {
      if (axis != expect++) return *why = "a spatial axis is missing " + describe_axes(axes), false;
      l.spatial_dims.push_back(dim);
      l.spatial.push_back(static_cast<size_t>(dim) < sizes.size() ? sizes[dim] : 0);
    }
    const int lo = *std::min_element(l.spatial_dims.begin(), l.spatial_dims.end());
    const int hi = *std::max_element(l.spatial_dims.begin(), l.spatial_dims.end());
    if (channel < lo)
      l.kind = Layout::channels_first;
    else if (channel > hi)
      l.kind = Layout::channels_last;
    else
      return *why = "the channels lie between the spatial axes " + describe_axes(axes), false;
  }
  *out = l;
  return true;
}

bool has_extent(const Layout& layout) {
  return product(layout.spatial) > 1;
}

at::Tensor channels_first(const at::Tensor& raw, const Layout& l) {
  // Unit dimensions of no meaning are squeezed first; indices shift accordingly.
  std::vector<int> meaning(static_cast<size_t>(raw.dim()), -1);  // -1: squeeze
  meaning[static_cast<size_t>(l.batch_dim)] = 0;
  meaning[static_cast<size_t>(l.channel_dim)] = 1;
  if (l.kind == Layout::tokens) {
    meaning[static_cast<size_t>(l.token_dim)] = 2;
  } else {
    for (size_t i = 0; i < l.spatial_dims.size(); ++i)
      meaning[static_cast<size_t>(l.spatial_dims[i])] = static_cast<int>(2 + i);
  }
  at::Tensor t = raw;
  for (int d = static_cast<int>(raw.dim()) - 1; d >= 0; --d)
    if (meaning[static_cast<size_t>(d)] < 0) {
      if (raw.size(d) != 1)
        throw Error(ErrorCode::input, "the layer's output " + c10::str(raw.sizes()) +
                                          " does not have the layout found for the probe input");
      t = t.squeeze(d);
      meaning.erase(meaning.begin() + d);
    }
  std::vector<std::int64_t> order(meaning.size());
  for (size_t d = 0; d < meaning.size(); ++d)
    order[static_cast<size_t>(meaning[d])] = static_cast<std::int64_t>(d);
  t = t.permute(order);  // (N, C, tokens) or (N, C, spatial...)
  if (l.kind != Layout::tokens) return t;
  const std::int64_t cells = product(l.grid);
  if (t.size(2) < l.prefix + cells)
    throw Error(ErrorCode::input, "the layer has " + std::to_string(t.size(2)) +
                                      " tokens; the model's grid needs " +
                                      std::to_string(l.prefix + cells) +
                                      " (inputs must have the model's input size)");
  std::vector<std::int64_t> shape{t.size(0), t.size(1)};
  shape.insert(shape.end(), l.grid.begin(), l.grid.end());
  return t.narrow(2, l.prefix, cells).reshape(shape);
}

}  // namespace camkit::detail
