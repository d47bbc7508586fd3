// prepare_volume(): a scan or a clip as the input of a 3-D model (docs/volumes3d.md).
//   scans:  channels -> intensity (window or z-score) -> trilinear resampling -> mean/std
//   clips:  channels -> per frame: resize (bilinear, no antialias, 8-bit rounding) -> centre
//           crop -> mean/std, as torchvision's VideoClassification preset on uint8 frames
// Resampling is camkit's one definition of linear interpolation (render: upsample_trilinear),
// the pixel-centre convention of torch's interpolate(align_corners=False).
#include <cmath>
#include <string>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"
#include "preprocess/crop.hpp"

namespace camkit {
namespace {

float channel_value(const std::vector<float>& values, int c, float fallback) {
  if (values.empty()) return fallback;
  return values.size() == 1 ? values[0] : values[static_cast<std::size_t>(c)];
}

void check_recipe(const Preprocess& r) {
  auto fail = [](const std::string& what) { throw Error(ErrorCode::usage, "preprocess: " + what); };
  if (r.channels < 1) fail("channels must be at least 1");
  if (r.size_depth < 0 || r.size_height < 0 || r.size_width < 0 || r.crop_height < 0 ||
      r.crop_width < 0 || r.frames < 0)
    fail("sizes must not be negative");
  if ((r.size_height > 0) != (r.size_width > 0)) fail("size needs both a height and a width");
  if ((r.crop_height > 0) != (r.crop_width > 0)) fail("crop needs both a height and a width");
  if (r.window && !(r.window->second > 0)) fail("the window's width must be > 0");
  for (const auto* v : {&r.mean, &r.std})
    if (!v->empty() && v->size() != 1 && static_cast<int>(v->size()) != r.channels)
      fail("mean and std need 1 or " + std::to_string(r.channels) + " values");
  for (float s : r.std)
    if (!std::isfinite(s) || s == 0.0f) fail("std values must be finite and non-zero");
}

// The volume's samples of channel c as a map (depth x height x width).
Map channel_map(const Volume& v, int c) {
  Map m;
  m.depth = v.depth;
  m.height = v.height;
  m.width = v.width;
  m.data.resize(static_cast<std::size_t>(v.depth) * v.height * v.width);
  const std::size_t C = static_cast<std::size_t>(v.channels);
  for (std::size_t i = 0; i < m.data.size(); ++i)
    m.data[i] = v.data[i * C + static_cast<std::size_t>(c)];
  return m;
}

// Grey volumes feed 3-channel models replicated; other mismatches are refused (a 4-D NIfTI's
// fourth dimension, or colour into a grey model).
int source_channel(const Volume& v, int c, int channels, const std::string& label) {
  if (v.channels == channels) return c;
  if (v.channels == 1) return 0;
  throw Error(ErrorCode::input, label + ": has " + std::to_string(v.channels) + " channels" +
                                    (v.kind == "nifti" ? " (the 4th NIfTI dimension)" : "") +
                                    ", the model takes " + std::to_string(channels));
}

// Window (MONAI ScaleIntensityRange with clip) or z-score, over all samples of the volume.
void scale_intensity(std::vector<Map>& planes, const Preprocess& r) {
  if (r.window) {
    const double lo = r.window->first - r.window->second / 2, width = r.window->second;
    for (Map& m : planes)
      for (float& v : m.data)
        v = static_cast<float>(std::min(1.0, std::max(0.0, (v - lo) / width)));
  } else if (r.zscore) {
    double sum = 0, sq = 0, n = 0;
    for (const Map& m : planes)
      for (float v : m.data) sum += v, n += 1;
    const double mean = sum / n;
    for (const Map& m : planes)
      for (float v : m.data) sq += (v - mean) * (v - mean);
    // A constant volume has no spread: it becomes zeros (MONAI divides by 1 then).
    const double sd = sq > 0 ? std::sqrt(sq / n) : 1.0;
    for (Map& m : planes)
      for (float& v : m.data) v = static_cast<float>((v - mean) / sd);
  }
}

Prepared planar(const std::vector<Map>& planes, const Preprocess& r) {
  Prepared out;
  out.channels = static_cast<int>(planes.size());
  out.depth = planes.front().depth;
  out.height = planes.front().height;
  out.width = planes.front().width;
  out.chw.reserve(planes.size() * planes.front().data.size());
  for (int c = 0; c < out.channels; ++c) {
    const float mean = channel_value(r.mean, c, 0.0f), sd = channel_value(r.std, c, 1.0f);
    for (float v : planes[static_cast<std::size_t>(c)].data) out.chw.push_back((v - mean) / sd);
  }
  return out;
}

}  // namespace

Prepared prepare_volume(const Volume& v, const Preprocess& recipe, const std::string& source) {
  check_recipe(recipe);
  const std::string label = source.empty() ? "volume" : source;
  const std::size_t expected = static_cast<std::size_t>(std::max(v.depth, 0)) *
                               std::max(v.height, 0) * std::max(v.width, 0) *
                               std::max(v.channels, 0);
  if (expected == 0 || v.data.size() != expected)
    throw Error(ErrorCode::input, label + ": empty or inconsistent volume");
  InputGeometry g;
  g.image_depth = g.resized_depth = g.input_depth = v.depth;
  g.image_height = g.resized_height = g.input_height = v.height;
  g.image_width = g.resized_width = g.input_width = v.width;
  std::vector<Map> planes;
  for (int c = 0; c < recipe.channels; ++c)
    planes.push_back(channel_map(v, source_channel(v, c, recipe.channels, label)));

  if (recipe.frames > 0) {
    // A clip: the frames were sampled by the reader; each is resized and cropped as an image.
    if (v.kind != "video" && v.depth != recipe.frames)
      throw Error(ErrorCode::input, label + ": a clip of " + std::to_string(v.depth) +
                                        " frames, the model takes " +
                                        std::to_string(recipe.frames));
    if (recipe.size_height > 0)
      g.resized_height = recipe.size_height, g.resized_width = recipe.size_width;
    if (recipe.crop_height > 0) {
      if (recipe.crop_height > g.resized_height || recipe.crop_width > g.resized_width)
        throw Error(ErrorCode::input, label + ": frames of " + std::to_string(g.resized_width) +
                                          "x" + std::to_string(g.resized_height) +
                                          " are smaller than the crop " +
                                          std::to_string(recipe.crop_width) + "x" +
                                          std::to_string(recipe.crop_height));
      g.crop_y = detail::center_offset(g.resized_height - recipe.crop_height);
      g.crop_x = detail::center_offset(g.resized_width - recipe.crop_width);
      g.input_height = recipe.crop_height;
      g.input_width = recipe.crop_width;
    } else {
      g.input_height = g.resized_height;
      g.input_width = g.resized_width;
    }
    for (Map& m : planes) {
      // torchvision resizes uint8 frames as floats of their levels and rounds the result back
      // to uint8 (half to even): interpolated here on the levels too, so ties stay exact.
      const bool levels = v.bit_depth == 8;
      if (levels)
        for (float& x : m.data) x = std::nearbyint(x * 255.0f);
      Map frames = upsample_bilinear(m, g.resized_height, g.resized_width);
      if (levels)
        for (float& x : frames.data)
          x = std::nearbyint(std::min(255.0f, std::max(0.0f, x))) / 255.0f;
      Map cropped;
      cropped.depth = frames.depth;
      cropped.height = g.input_height;
      cropped.width = g.input_width;
      cropped.data.reserve(static_cast<std::size_t>(cropped.depth) * cropped.height *
                           cropped.width);
      for (int z = 0; z < frames.depth; ++z)
        for (int y = 0; y < g.input_height; ++y)
          for (int x = 0; x < g.input_width; ++x)
            cropped.data.push_back(frames.at(z, y + g.crop_y, x + g.crop_x));
      m = std::move(cropped);
    }
  } else {
    // A scan is resampled whole: a shorter-side resize or a crop would silently change what
    // the map covers.
    if (recipe.resize > 0 || recipe.crop_height > 0)
      throw Error(ErrorCode::usage,
                  "preprocess: resize and crop apply to video frames (frames); a scan takes "
                  "size [D, H, W]");
    scale_intensity(planes, recipe);
    const int d = recipe.size_depth > 0 ? recipe.size_depth : v.depth;
    const int h = recipe.size_height > 0 ? recipe.size_height : v.height;
    const int w = recipe.size_width > 0 ? recipe.size_width : v.width;
    if (d != v.depth || h != v.height || w != v.width)
      for (Map& m : planes) m = upsample_trilinear(m, d, h, w);
    g.resized_depth = g.input_depth = d;
    g.resized_height = g.input_height = h;
    g.resized_width = g.input_width = w;
  }
  Prepared out = planar(planes, recipe);
  out.geometry = g;
  return out;
}

}  // namespace camkit
