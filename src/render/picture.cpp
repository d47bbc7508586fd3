// Pictures: decoded images to 8-bit RGB, and colour-mapped display maps blended over them.
#include <algorithm>
#include <cmath>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/render.hpp"
#include "render/colormap_lut.hpp"
#include "render/detail.hpp"
#include "render/sampling.hpp"

namespace camkit {
namespace {

std::uint8_t to_byte(float v) {  // v in [0, 1] expected; NaN -> 0
  return static_cast<std::uint8_t>(render_detail::colormap_index(v));
}

void check_picture(const Rgb8& picture, const char* what) {
  if (picture.height < 0 || picture.width < 0 ||
      picture.data.size() != static_cast<std::size_t>(picture.height) * picture.width * 3) {
    throw Error(ErrorCode::usage, std::string(what) + ": picture data size does not match " +
                                      std::to_string(picture.height) + "x" +
                                      std::to_string(picture.width) + "x3");
  }
}

// First and one-past-last pixel whose centre p + 0.5 lies in [lo, hi), clipped to [0, size).
std::pair<int, int> covered(double lo, double hi, int size) {
  if (!(hi > lo)) return {0, 0};  // empty or NaN
  const double first = std::ceil(std::clamp(lo - 0.5, -1.0, static_cast<double>(size)));
  const double last = std::ceil(std::clamp(hi - 0.5, -1.0, static_cast<double>(size)));
  const int a = std::max(static_cast<int>(first), 0);
  const int b = std::min(static_cast<int>(last), size);
  return {a, std::max(a, b)};
}

}  // namespace

Rgb8 to_rgb8(const Image& image, std::optional<Colormap> grey_map) {
  const std::size_t pixels = static_cast<std::size_t>(std::max(image.height, 0)) *
                             static_cast<std::size_t>(std::max(image.width, 0));
  if (image.height < 0 || image.width < 0 || image.channels < 1 ||
      image.data.size() != pixels * image.channels) {
    throw Error(ErrorCode::usage,
                "to_rgb8: image data size does not match " + std::to_string(image.height) + "x" +
                    std::to_string(image.width) + "x" + std::to_string(image.channels));
  }
  // Colour images keep their three channels; any other count shows its first channel as grey.
  const int used = image.channels == 3 ? 3 : 1;
  const int stride = image.channels;

  // 8-bit sources hold s / 255 exactly: scale back. Others: stretch min..max to 0..1.
  float lo = 0.0f;
  float scale = 1.0f;
  if (image.bit_depth != 8) {
    float mn = 0.0f;
    float mx = 0.0f;
    if (used == stride) {
      render_detail::finite_range(image.data.data(), image.data.size(), 1, mn, mx);
    } else {
      render_detail::finite_range(image.data.data(), pixels, stride, mn, mx);
    }
    lo = mn;
    scale = mx > mn ? 1.0f / (mx - mn) : 0.0f;  // constant (or non-finite) image -> black
  }

  Rgb8 out;
  out.height = image.height;
  out.width = image.width;
  out.data.resize(pixels * 3);
  if (used == 3 && stride == 3) {
    // Colour: one flat loop over the samples, 16 at a time where SSE2 is there, with
    // colormap_index's rounding (maxps(v, 0) gives 0 for NaN, as its comparison does).
    const float* in = image.data.data();
    std::uint8_t* px = out.data.data();
    const std::size_t n = pixels * 3;
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), lo4 = _mm_set1_ps(lo),
                 scale4 = _mm_set1_ps(scale), k255 = _mm_set1_ps(255.0f), half = _mm_set1_ps(0.5f);
    auto bytes4 = [&](const float* p) {
      __m128 v = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(p), lo4), scale4);
      v = _mm_min_ps(_mm_max_ps(v, zero), one);
      return _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(v, k255), half));
    };
    for (; i + 16 <= n; i += 16) {
      const __m128i a = _mm_packs_epi32(bytes4(in + i), bytes4(in + i + 4));
      const __m128i b = _mm_packs_epi32(bytes4(in + i + 8), bytes4(in + i + 12));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(px + i), _mm_packus_epi16(a, b));
    }
#endif
    for (; i < n; ++i) px[i] = to_byte((in[i] - lo) * scale);
    return out;
  }
  const std::uint8_t* lut = grey_map ? render_detail::colormap_lut(*grey_map) : nullptr;
  for (std::size_t i = 0; i < pixels; ++i) {
    const float* in = image.data.data() + i * stride;
    std::uint8_t* px = out.data.data() + i * 3;
    if (used == 3) {
      for (int c = 0; c < 3; ++c) px[c] = to_byte((in[c] - lo) * scale);
    } else {
      const std::uint8_t b = to_byte((in[0] - lo) * scale);
      if (lut) {
        std::copy(lut + 3 * b, lut + 3 * b + 3, px);
      } else {
        px[0] = px[1] = px[2] = b;
      }
    }
  }
  return out;
}

Rgb8 shrink_to_fit(const Rgb8& picture, int max_side) {
  check_picture(picture, "shrink_to_fit");
  if (max_side < 1) {
    throw Error(ErrorCode::usage,
                "shrink_to_fit: max_side must be at least 1, got " + std::to_string(max_side));
  }
  const int long_side = std::max(picture.width, picture.height);
  if (long_side <= max_side) return picture;
  const double scale = static_cast<double>(max_side) / long_side;
  Rgb8 out;
  out.width = std::max(1, static_cast<int>(std::lround(picture.width * scale)));
  out.height = std::max(1, static_cast<int>(std::lround(picture.height * scale)));
  out.data.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  const cv::Mat src(picture.height, picture.width, CV_8UC3,
                    const_cast<std::uint8_t*>(picture.data.data()));
  cv::Mat dst(out.height, out.width, CV_8UC3, out.data.data());
  cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_AREA);
  return out;
}

Rgb8 overlay(const Rgb8& base, const Map& display, const Region& region, Colormap map,
             float alpha) {
  check_picture(base, "overlay");
  render_detail::check_map(display, "overlay");
  if (display.depth != 1) {
    throw Error(ErrorCode::usage, "overlay: a map of depth " + std::to_string(display.depth) +
                                      " (draw one of its planes)");
  }
  if (!(alpha >= 0.0f && alpha <= 1.0f)) {
    throw Error(ErrorCode::usage, "overlay alpha must be in [0, 1], got " + std::to_string(alpha));
  }
  Rgb8 out = base;
  const auto [cx0, cx1] = covered(region.x0, region.x1, base.width);
  const auto [cy0, cy1] = covered(region.y0, region.y1, base.height);
  if (display.data.empty() || cx0 == cx1 || cy0 == cy1) return out;

  // Map pixel j spans region.x0 + (j .. j+1) * (x1 - x0) / w: sample it at the picture pixel
  // centres with the same pixel-centre bilinear rule (and the same order) as upsample_bilinear.
  const int cols = cx1 - cx0;
  const render_detail::LinearTaps xt = render_detail::linear_taps(
      cols, cx0, region.x0, display.width / (region.x1 - region.x0), display.width);
  const render_detail::LinearTaps yt = render_detail::linear_taps(
      cy1 - cy0, cy0, region.y0, display.height / (region.y1 - region.y0), display.height);
  std::vector<float> rows(static_cast<std::size_t>(display.height) * cols);
  for (int y = 0; y < display.height; ++y) {
    const float* in = display.data.data() + static_cast<std::size_t>(y) * display.width;
    float* r = rows.data() + static_cast<std::size_t>(y) * cols;
    for (int x = 0; x < cols; ++x) r[x] = render_detail::lerp(in[xt.i0[x]], in[xt.i1[x]], xt.w1[x]);
  }

  // The blend's two terms as tables: (1 - alpha) * base level, alpha * colour level.
  const std::uint8_t* lut = render_detail::colormap_lut(map);
  float kept[256];
  float added[768];
  for (int i = 0; i < 256; ++i) kept[i] = (1.0f - alpha) * static_cast<float>(i);
  for (int i = 0; i < 768; ++i) added[i] = alpha * static_cast<float>(lut[i]);
  for (int py = cy0; py < cy1; ++py) {
    const int k = py - cy0;
    const float* r0 = rows.data() + static_cast<std::size_t>(yt.i0[k]) * cols;
    const float* r1 = rows.data() + static_cast<std::size_t>(yt.i1[k]) * cols;
    const float w1 = yt.w1[k];
    std::uint8_t* px = out.data.data() + (static_cast<std::size_t>(py) * out.width + cx0) * 3;
    for (int x = 0; x < cols; ++x, px += 3) {
      const float* colour =
          added + 3 * render_detail::colormap_index(render_detail::lerp(r0[x], r1[x], w1));
      for (int c = 0; c < 3; ++c) {
        px[c] = static_cast<std::uint8_t>(kept[px[c]] + colour[c] + 0.5f);  // round, >= 0
      }
    }
  }
  return out;
}

}  // namespace camkit
