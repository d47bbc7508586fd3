#include "preprocess/channels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "camkit/error.hpp"

namespace camkit::detail {
namespace {

// PIL's L24 macro (Convert.c rgb2l): 299/587/114 as 16.16 fixed point, rounded half up.
// Exact for 8-bit levels; applied unchanged to 16-bit levels (PIL has no 16-bit RGB mode).
std::int64_t luma(std::int64_t r, std::int64_t g, std::int64_t b) {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

}  // namespace

Image match_channels(const Image& image, int channels, const std::string& label) {
  if (image.channels == channels) return image;
  // Grey to RGB replicates the channel, exact for any sample type (windowed DICOM, float .npy);
  // RGB to grey needs the integer levels PIL's conversion works on.
  const bool integer = image.bit_depth == 8 || image.bit_depth == 16;
  const bool convertible =
      (image.channels == 1 && channels == 3) || (integer && image.channels == 3 && channels == 1);
  if (!convertible) {
    throw Error(ErrorCode::input, label + ": has " + std::to_string(image.channels) +
                                      " channels, the model takes " + std::to_string(channels));
  }

  Image out;
  out.height = image.height;
  out.width = image.width;
  out.channels = channels;
  out.bit_depth = image.bit_depth;
  const std::size_t pixels = static_cast<std::size_t>(image.height) * image.width;
  out.data.resize(pixels * channels);
  if (channels == 3) {
    for (std::size_t i = 0; i < pixels; ++i) {
      std::fill_n(&out.data[i * 3], 3, image.data[i]);
    }
    return out;
  }
  // The samples are levels / max; recover the integer levels, convert, and scale back with the
  // same float division the decoder uses.
  const float max_level = image.bit_depth == 16 ? 65535.0f : 255.0f;
  auto level = [max_level](float v) {
    return std::clamp<std::int64_t>(std::lround(v * max_level), 0,
                                    static_cast<std::int64_t>(max_level));
  };
  for (std::size_t i = 0; i < pixels; ++i) {
    const float* rgb = &image.data[i * 3];
    out.data[i] = static_cast<float>(luma(level(rgb[0]), level(rgb[1]), level(rgb[2]))) / max_level;
  }
  return out;
}

}  // namespace camkit::detail
