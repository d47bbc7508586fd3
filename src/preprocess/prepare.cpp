// prepare(): the torchvision 0.14 pipeline on PIL images, step by step:
//   convert (channels) -> Resize -> CenterCrop -> ToTensor -> Normalize.
// Resize(int) and CenterCrop follow torchvision.transforms.functional (resize,
// _compute_resized_output_size, center_crop) to the integer, including where they truncate and
// where they round half to even.
#include <algorithm>
#include <cmath>
#include <string>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"
#include "preprocess/channels.hpp"
#include "preprocess/crop.hpp"

namespace camkit {
namespace {

std::string dims(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

void check_recipe(const Preprocess& r) {
  auto fail = [](const std::string& what) { throw Error(ErrorCode::usage, "preprocess: " + what); };
  if (r.channels != 1 && r.channels != 3) fail("channels must be 1 or 3");
  if (r.resize < 0 || r.crop_height < 0 || r.crop_width < 0 || r.size_height < 0 ||
      r.size_width < 0) {
    fail("sizes must not be negative");
  }
  if ((r.crop_height > 0) != (r.crop_width > 0)) fail("crop needs both a height and a width");
  if ((r.size_height > 0) != (r.size_width > 0)) fail("size needs both a height and a width");
  auto count_ok = [&r](const std::vector<float>& v) {
    return v.empty() || v.size() == 1 || static_cast<int>(v.size()) == r.channels;
  };
  if (!count_ok(r.mean) || !count_ok(r.std)) {
    fail("mean and std need 1 or " + std::to_string(r.channels) + " values");
  }
  for (float m : r.mean) {
    if (!std::isfinite(m)) fail("mean values must be finite");
  }
  for (float s : r.std) {
    if (!std::isfinite(s) || s == 0.0f) fail("std values must be finite and non-zero");
  }
}

// torchvision's Resize(size) with an int: the shorter side becomes `size`, the longer one
// int(size * long / short). Python's size * long is an exact integer and its true division is
// correctly rounded, as is the double division here; int() truncates.
struct Size {
  int height, width;
};
Size resized_size(int height, int width, int size) {
  const int short_side = std::min(height, width);
  const int long_side = std::max(height, width);
  const int new_long =
      static_cast<int>(static_cast<double>(static_cast<long long>(size) * long_side) / short_side);
  return width <= height ? Size{new_long, size} : Size{size, new_long};
}

float channel_value(const std::vector<float>& values, int c, float fallback) {
  if (values.empty()) return fallback;
  return values.size() == 1 ? values[0] : values[c];
}

}  // namespace

namespace {

// The model's input must be finite, and small enough that no layer overflows float32: an input
// near 3e38, or a std of 1e-45, gives Inf and NaN inside the network, which the optimised
// graph's ReLU turns back into finite garbage. Refused here, identically for every graph.
// (Normalised images are O(1); raw CT or 16-bit intensities are O(1e4).)
constexpr float kMaxInputMagnitude = 1e12f;

void check_values(const std::vector<float>& chw, const std::string& label) {
  for (float v : chw) {
    if (!std::isfinite(v))
      throw Error(ErrorCode::input, label +
                                        ": the prepared input is not finite (NaN or Inf; "
                                        "check --mean/--std and the input's values)");
    if (std::fabs(v) > kMaxInputMagnitude)
      throw Error(ErrorCode::input, label + ": the prepared input has values of magnitude " +
                                        std::to_string(std::fabs(v)) +
                                        " (over 1e12: the model "
                                        "would overflow float32; check --mean/--std and the "
                                        "input's values)");
  }
}

}  // namespace

Prepared prepare(const Image& image, const Preprocess& recipe, const std::string& source) {
  check_recipe(recipe);
  const std::string label = source.empty() ? "image" : source;
  const std::size_t expected = static_cast<std::size_t>(std::max(image.height, 0)) *
                               std::max(image.width, 0) * std::max(image.channels, 0);
  if (expected == 0 || image.data.size() != expected) {
    throw Error(ErrorCode::input, label + ": empty or inconsistent image");
  }

  // `im` points at the image in the model's channels and size: the input itself when it already
  // is (no full-size copy), else `converted` / `resized`.
  Image converted;
  const Image* im = &image;
  if (image.channels != recipe.channels) {
    converted = detail::match_channels(image, recipe.channels, label);
    im = &converted;
  }
  InputGeometry g;
  g.image_height = image.height;
  g.image_width = image.width;

  // An input already at the model's size (a pre-processed .npy, say) is used as it is.
  const bool at_input_size = recipe.input_height() > 0 && image.height == recipe.input_height() &&
                             image.width == recipe.input_width();
  const bool direct = recipe.size_height > 0;
  g.resized_height = image.height;
  g.resized_width = image.width;
  if (!at_input_size && direct) {
    g.resized_height = recipe.size_height;
    g.resized_width = recipe.size_width;
  } else if (!at_input_size && recipe.resize > 0) {
    const Size s = resized_size(image.height, image.width, recipe.resize);
    g.resized_height = s.height;
    g.resized_width = s.width;
  }
  // torchvision returns the image untouched when the size already matches; so does PIL.
  Image resized;
  if (g.resized_height != image.height || g.resized_width != image.width) {
    resized = resize_bilinear_antialias(*im, g.resized_height, g.resized_width, im->bit_depth == 8);
    im = &resized;
    converted = Image();
  }

  g.input_height = g.resized_height;
  g.input_width = g.resized_width;
  if (!at_input_size && !direct && recipe.crop_height > 0) {
    // torchvision pads a too-small image with zeros; a CAM over padding explains nothing, so
    // this is refused instead.
    if (recipe.crop_height > g.resized_height || recipe.crop_width > g.resized_width) {
      const bool resized = g.resized_height != image.height || g.resized_width != image.width;
      throw Error(ErrorCode::input,
                  label + ": image " + dims(image.width, image.height) +
                      (resized ? " (resized to " + dims(g.resized_width, g.resized_height) + ")"
                               : std::string()) +
                      " is smaller than the crop " + dims(recipe.crop_width, recipe.crop_height));
    }
    g.crop_y = detail::center_offset(g.resized_height - recipe.crop_height);
    g.crop_x = detail::center_offset(g.resized_width - recipe.crop_width);
    g.input_height = recipe.crop_height;
    g.input_width = recipe.crop_width;
  }

  // Crop, HWC -> CHW, and Normalize's (x - mean) / std in float32 as torch computes it.
  Prepared out;
  out.channels = im->channels;
  out.height = g.input_height;
  out.width = g.input_width;
  out.geometry = g;
  out.chw.resize(static_cast<std::size_t>(out.channels) * out.height * out.width);
  float* dst = out.chw.data();
  for (int c = 0; c < out.channels; ++c) {
    const float mean = channel_value(recipe.mean, c, 0.0f);
    const float sd = channel_value(recipe.std, c, 1.0f);
    for (int y = 0; y < out.height; ++y) {
      for (int x = 0; x < out.width; ++x) {
        *dst++ = (im->at(y + g.crop_y, x + g.crop_x, c) - mean) / sd;
      }
    }
  }
  check_values(out.chw, label);
  return out;
}

}  // namespace camkit
