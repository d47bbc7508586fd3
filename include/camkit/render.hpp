// camkit/render.hpp — raw maps to pixels: upsampling, normalisation, colormaps, overlays, boxes.
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
//    INTER_LINEAR; torch.nn.functional.interpolate(mode="bilinear") default), trilinear for
//    the maps of volumes and clips (a Map with depth > 1), with the same convention;
//  - min-max normalisation maps to [0,1]; a constant map becomes all zeros, never NaN;
//  - colormaps are matplotlib's (what plt.imshow(cmap=...) shows), as 256-entry 8-bit tables.
//
// Errors: invalid arguments (a map or picture whose data size does not match its shape, an
// alpha or threshold out of range, a non-positive size or thickness) throw
// Error(ErrorCode::usage). Results are returned by value; nothing keeps references.
//
// Threading: all functions are reentrant (no global mutable state); none starts threads.
// shrink_to_fit resizes with OpenCV, which may use its own thread pool (cv::setNumThreads).
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
  std::vector<float> data;  ///< depth * height * width samples, (z, y, x) row-major
  /// Maps of volumes and video clips (docs/volumes3d.md) are stacks of `depth` planes. Images
  /// have depth 1, where every definition below is its 2-D form: one definition serves both.
  int depth = 1;

  float at(int y, int x) const { return data[static_cast<std::size_t>(y) * width + x]; }
  float at(int z, int y, int x) const {
    return data[(static_cast<std::size_t>(z) * height + y) * width + x];
  }
};

/// An 8-bit RGB picture, interleaved, row-major.
struct Rgb8 {
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> data;  ///< height * width * 3
};

/// Bilinear resize with pixel-centre alignment (align_corners=False), no antialiasing, also
/// when shrinking. Output sample (y, x) reads the source at src = (dst + 0.5) * in / out - 0.5
/// per axis; a negative src reads sample 0 and neighbours past the edge repeat the last sample,
/// exactly as torch.nn.functional.interpolate(mode="bilinear", align_corners=False) and
/// cv2.resize(INTER_LINEAR) do (equal to torch up to float rounding: a few ulps; equal
/// neighbours interpolate exactly, so a constant map stays constant where torch can be 1 ulp off).
/// Throws Error(usage) for an empty map or a non-positive output size. A map of depth > 1 is
/// resized plane by plane (its depth kept).
Map upsample_bilinear(const Map& map, int height, int width);

/// Trilinear resize of a map of any depth with the same pixel-centre rule on all three axes,
/// exactly torch.nn.functional.interpolate(mode="trilinear", align_corners=False) up to float
/// rounding (separable: along x, then y, then z; an axis of unchanged size is copied). With
/// depth 1 in and out it is upsample_bilinear. Throws Error(usage) as upsample_bilinear does.
Map upsample_trilinear(const Map& map, int depth, int height, int width);

/// In place: (v - min) / (max - min), so the result lies in [0,1]; a constant or empty map
/// becomes all zeros. Non-finite samples do not take part in min and max and never leave a
/// NaN behind: NaN and -Inf become 0, +Inf becomes 1; a map with no two distinct finite
/// values becomes all zeros.
void normalize_minmax(Map& map);

/// The display map, by definition in this order: ReLU max(v, 0) (when `relu`; NaN becomes 0),
/// then upsample_bilinear to height x width, then normalize_minmax. Without ReLU a NaN sample
/// spreads over its bilinear neighbourhood, which normalisation then sets to 0.
Map display_map(const Map& raw, int height, int width, bool relu);

/// The display map of a volume's or clip's map: ReLU (when `relu`), upsample_trilinear to
/// depth x height x width, normalize_minmax over the whole volume.
Map display_map(const Map& raw, int depth, int height, int width, bool relu);

/// A box in pixel-edge coordinates: covers columns [x0, x1) and rows [y0, y1); 3-D boxes
/// (volumes, clips) also planes [z0, z1) of the depth axis. A 2-D box spans the unit depth
/// [0, 1), so areas, volumes and IoU are one definition for both.
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double z0 = 0, z1 = 1;
};

/// CAM-paper box: pixels with value >= threshold * max(map), 8-connected components
/// (26-connected through the planes of a 3-D map), the bounding box of the largest one by
/// pixel count (ties: the one containing the highest value, i.e. the global maximum; then the
/// first in raster order, (z, y, x)). The box is in the map's pixel edges: a lone pixel at
/// column 3, row 4 gives x0=3, x1=4, y0=4, y1=5 (and z0=0, z1=1 on a 2-D map).
/// Returns nullopt for an empty map or when max(map) <= 0 (e.g. all zero).
/// Throws Error(usage) when threshold is outside [0, 1].
std::optional<Box> largest_component_box(const Map& display, float threshold);

/// Plane `index` of a map of depth > 1 across `axis` (0: a plane of constant z, height x
/// width; 1: constant y, depth x width; 2: constant x, depth x height), as a 2-D map: what the
/// slice pictures of a volume show. Throws Error(usage) for an axis or index out of range.
Map map_plane(const Map& volume, int axis, int index);

enum class Colormap { jet, turbo, inferno, viridis, bone, gray };

/// "jet", "turbo", "inferno", "viridis", "bone", "gray"; nullopt otherwise.
std::optional<Colormap> parse_colormap(std::string_view name);
std::string colormap_name(Colormap map);

/// RGB of `value` in [0,1] under the colormap: entry round(clamp(value, 0, 1) * 255) of the
/// 256-entry table (NaN reads entry 0). The tables are matplotlib's colormaps with N=256,
/// rounded to 8 bits: jet and bone from matplotlib's segment data, viridis and inferno from
/// its listed tables, turbo from Google's published table (which matplotlib ships), gray the
/// identity. Note: jet is matplotlib's, not cv::applyColorMap's COLORMAP_JET, which differs
/// slightly; matplotlib itself indexes by floor(value * 256) and truncates to bytes, so its
/// output can differ from camkit's by one table step or one level.
void colormap_rgb(Colormap map, float value, std::uint8_t rgb[3]);

/// The image as 8-bit RGB for display: 8-bit samples as they were (round(v * 255)), 16-bit
/// and float samples min-max stretched over the image to 0..255 (a constant image becomes
/// black); 3 channels kept as RGB; 1 channel (or any count other than 3: the first channel)
/// shown as grey, replicated or mapped through `grey_map` when given (e.g. bone for X-rays).
/// Throws Error(usage) when the data size does not match the shape.
Rgb8 to_rgb8(const Image& image, std::optional<Colormap> grey_map = std::nullopt);

/// `picture` shrunk so that its longer side is at most `max_side` pixels, for display copies and
/// overlays of large inputs: each side scaled by max_side / longer side and rounded (at least 1),
/// samples averaged over the area they cover (cv::INTER_AREA). Returned unchanged when it already
/// fits. Throws Error(usage) when max_side < 1.
Rgb8 shrink_to_fit(const Rgb8& picture, int max_side);

/// The region of the picture a display map covers, in picture pixels (pixel edges; may be
/// fractional, e.g. the crop window of a resize-and-crop mapped back onto the original).
struct Region {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// Blends the colour-mapped display map over `base` inside `region`: map pixel (i, j) covers
/// x in region.x0 + (j .. j+1) * (x1 - x0) / width (likewise y), and every picture pixel whose
/// centre lies in the region reads the map bilinearly (pixel-centre rule of upsample_bilinear)
/// at that centre; out = round((1 - alpha) * base + alpha * colour). Pixels whose centre lies
/// outside the region are unchanged. With region = the whole picture this is exactly
/// colormap(upsample_bilinear(display, H, W)) blended. Throws Error(usage) unless
/// 0 <= alpha <= 1, and for a display map of depth > 1 (draw one plane: map_plane).
Rgb8 overlay(const Rgb8& base, const Map& display, const Region& region, Colormap map, float alpha);

/// Draws a rectangle outline of the given colour and thickness (pixels, >= 1, else
/// Error(usage)). Box edges (picture pixel edges) snap to the nearest integer edge; the
/// outline lies inside the box and is clipped to the picture.
void draw_box(Rgb8& picture, const Box& box, const std::uint8_t rgb[3], int thickness);

}  // namespace camkit
