#include <algorithm>
#include <cmath>

#include "camkit/explain.hpp"

namespace camkit {

std::optional<Box> image_box(const Map& display, const InputGeometry& g, float threshold) {
  const std::optional<Box> b = largest_component_box(display, threshold);
  if (!b) return std::nullopt;
  const double w = g.image_width, h = g.image_height;
  Box out;
  out.x0 = std::clamp(std::floor(g.to_image_x(b->x0)), 0.0, w);
  out.y0 = std::clamp(std::floor(g.to_image_y(b->y0)), 0.0, h);
  out.x1 = std::clamp(std::ceil(g.to_image_x(b->x1)), 0.0, w);
  out.y1 = std::clamp(std::ceil(g.to_image_y(b->y1)), 0.0, h);
  const double d = g.image_depth;
  out.z0 = std::clamp(std::floor(g.to_image_z(b->z0)), 0.0, d);
  out.z1 = std::clamp(std::ceil(g.to_image_z(b->z1)), 0.0, d);
  return out;
}

Localization localize(const Map& raw, const Prepared& input, float threshold, bool relu) {
  const InputGeometry& g = input.geometry;
  Localization loc;
  loc.display = display_map(raw, input.depth, input.height, input.width, relu);
  loc.region = {g.to_image_x(0), g.to_image_y(0), g.to_image_x(input.width),
                g.to_image_y(input.height)};
  loc.box = image_box(loc.display, g, threshold);
  const auto& d = loc.display.data;
  const size_t peak = static_cast<size_t>(std::max_element(d.begin(), d.end()) - d.begin());
  const size_t w = static_cast<size_t>(std::max(1, loc.display.width));
  const size_t h = static_cast<size_t>(std::max(1, loc.display.height));
  loc.peak_x = g.to_image_x(static_cast<double>(peak % w) + 0.5);
  loc.peak_y = g.to_image_y(static_cast<double>(peak / w % h) + 0.5);
  loc.peak_z = g.to_image_z(static_cast<double>(peak / (w * h)) + 0.5);
  return loc;
}

}  // namespace camkit
