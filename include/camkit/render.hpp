// camkit/render.hpp — from raw maps to pixels: upsampling, normalisation, colormaps, overlays, boxes.
//
// Usage:
//   camkit::Map raw = ...;                                     // h x w, from an Explanation
//   camkit::Map disp = camkit::display_map(raw, 224, 224, /*relu=*/true);
//   std::optional<camkit::Box> box = camkit::largest_component_box(disp, 0.2f);
//   camkit::Rgb8 base = camkit::to_rgb8(image);                // the decoded input
//   camkit::Rgb8 out = camkit::overlay(base, disp, region, camkit::Colormap::jet, 0.5f);
//
// One definition of each step, used by every method and output:
//  - upsampling is bilinear with pixel centres aligned (align_corners=False; cv2.resize
//    INTER_LINEAR; torch.nn.functional.interpolate(mode="bilinear") default);
//  - min-max normalisation maps to [0,1]; a constant map becomes all zeros, never NaN.
//
// Threading: all functions are reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camkit/image.hpp"

namespace camkit {

/// A single-channel float map, row-major.
struct Map {
  int height = 0;
  int width = 0;
  std::vector<float> data;

  float at(int y, int x) const { return data[static_cast<std::size_t>(y) * width + x]; }
};

/// An 8-bit RGB picture, interleaved, row-major.
struct Rgb8 {
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> data;  ///< height * width * 3
};

/// Bilinear resize with pixel-centre alignment (align_corners=False), no antialiasing.
Map upsample_bilinear(const Map& map, int height, int width);

/// In place: (v - min) / (max - min); a constant map (max == min) becomes all zeros.
void normalize_minmax(Map& map);

/// The display map: ReLU (when `relu`), bilinear upsampling to height x width, min-max.
Map display_map(const Map& raw, int height, int width, bool relu);

/// A box in pixel-edge coordinates: covers columns [x0, x1) and rows [y0, y1).
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// CAM-paper box: pixels with value >= threshold * max(map), 8-connected components, the
/// bounding box of the largest one (ties: the one containing the highest value).
/// Returns nullopt for an all-zero map.
std::optional<Box> largest_component_box(const Map& display, float threshold);

enum class Colormap { jet, turbo, inferno, viridis, bone, gray };

/// "jet", "turbo", "inferno", "viridis", "bone", "gray"; nullopt otherwise.
std::optional<Colormap> parse_colormap(std::string_view name);
std::string colormap_name(Colormap map);

/// RGB of `value` in [0,1] under the colormap (values outside are clamped).
void colormap_rgb(Colormap map, float value, std::uint8_t rgb[3]);

/// The image as 8-bit RGB for display: 8-bit samples as they are, 16-bit and float samples
/// min-max stretched to 0..255; grey replicated (or mapped through `grey_map` when given).
Rgb8 to_rgb8(const Image& image, std::optional<Colormap> grey_map = std::nullopt);

/// The region of the picture a display map covers, in picture pixels (pixel edges).
struct Region {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// Blends the colour-mapped display map over `base` inside `region` (the map is resampled
/// bilinearly to the region): out = (1 - alpha) * base + alpha * colour. Outside the region
/// the picture is unchanged.
Rgb8 overlay(const Rgb8& base, const Map& display, const Region& region, Colormap map,
             float alpha);

/// Draws a rectangle outline (edges in picture pixels) of the given colour and thickness.
void draw_box(Rgb8& picture, const Box& box, const std::uint8_t rgb[3], int thickness);

}  // namespace camkit
