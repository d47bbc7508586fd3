// A port of Pillow 9.4's separable resampler (libImaging/Resample.c) for the BILINEAR filter, which
// is what torchvision's Resize does to PIL images. Reproduced on purpose rather than replaced by
// cv::resize: OpenCV's INTER_LINEAR neither widens the kernel when shrinking (no antialiasing) nor
// rounds to 8 bits between the passes, so its output differs from PIL by many grey levels.
//
// PIL's steps, kept here in the same order:
//   precompute_coeffs: for each output sample, center = (i + 0.5) * scale in input coordinates;
//     the triangle filter's support is 1 input pixel, widened to `scale` when shrinking; taps are
//     input pixels [xmin, xmax) with both ends rounded by (int)(v + 0.5), weights normalised to 1.
//   8-bit images: weights become fixed point with PRECISION_BITS = 22 fraction bits, each pass
//     accumulates integers from a half-unit bias and clips to 0..255 (clip8), so the intermediate
//     image of the horizontal pass is itself rounded to whole grey levels.
//   float images (mode "F"): the same weights in double, accumulated in double, stored as float.
//   The horizontal pass runs first, and a pass whose size does not change is skipped.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <type_traits>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"

namespace camkit {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Filter taps along one axis: output sample i reads `count[i]` inputs from `first[i]` with
// weights weights[i * ksize ...].
struct Taps {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<double> weights;
};

Taps precompute_coeffs(int in_size, int out_size) {
  // PIL passes the box edges as float; (in1 - in0) is exact for any realistic size.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // BILINEAR's support, widened when shrinking

  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<std::size_t>(out_size) * taps.ksize, 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // PIL's "(int)(v + 0.5)" rounding, kept as is: it truncates toward zero (a start of -0.3
    // becomes 0, not -1), and the start is clamped to 0 right after anyway.
    // NOLINTBEGIN(bugprone-incorrect-roundings)
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    // NOLINTEND(bugprone-incorrect-roundings)
    double* k = &taps.weights[static_cast<std::size_t>(xx) * taps.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bilinear_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    if (ww != 0.0) {
      for (int x = 0; x < xmax; ++x) k[x] /= ww;
    }
    taps.first[xx] = xmin;
    taps.count[xx] = std::max(xmax, 0);
  }
  return taps;
}

// normalize_coeffs_8bpc: round half away from zero to PRECISION_BITS fraction bits.
std::vector<std::int32_t> fixed_point(const std::vector<double>& weights) {
  std::vector<std::int32_t> out(weights.size());
  const double one = static_cast<double>(1 << kPrecisionBits);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double w = weights[i] * one;
    out[i] = static_cast<std::int32_t>(w < 0 ? w - 0.5 : w + 0.5);
  }
  return out;
}

std::uint8_t clip8(std::int32_t acc) {
  // PIL looks up acc >> PRECISION_BITS in a table that saturates to 0..255.
  return static_cast<std::uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255));
}

// The horizontal pass: output pixel x of a row sums input pixels first[x] .. in tap order, all of
// its channels at once, each channel's sum in tap order as one channel at a time would (integer
// sums for 8 bits, double sums in the same order otherwise: identical results). N is the channel
// count when known at compile time, 0 for `channels`.
template <int N, typename T>
void horizontal_pass(const T* in, T* out, int rows, int out_cols, std::size_t row_stride,
                     const Taps& taps, const std::vector<std::int32_t>& kint, int channels = N) {
  constexpr bool kFixed = std::is_same_v<T, std::uint8_t>;
  using Acc = std::conditional_t<kFixed, std::int32_t, double>;
  constexpr int kMax = 4;
  const int ch = N > 0 ? N : channels;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < out_cols; ++x) {
      const T* src = in + y * row_stride + static_cast<std::size_t>(taps.first[x]) * ch;
      const std::size_t kbase = static_cast<std::size_t>(x) * taps.ksize;
      T* dst = out + (static_cast<std::size_t>(y) * out_cols + x) * ch;
      for (int c0 = 0; c0 < ch; c0 += kMax) {  // kMax channels at a time
        const int cn = N > 0 ? N : std::min(kMax, ch - c0);
        Acc acc[kMax];
        for (int c = 0; c < cn; ++c) acc[c] = kFixed ? Acc(1 << (kPrecisionBits - 1)) : Acc(0);
        for (int t = 0; t < taps.count[x]; ++t) {
          const T* px = src + static_cast<std::size_t>(t) * ch + c0;
          if constexpr (kFixed) {
            const std::int32_t w = kint[kbase + t];
            for (int c = 0; c < cn; ++c) acc[c] += px[c] * w;
          } else {
            const double w = taps.weights[kbase + t];
            for (int c = 0; c < cn; ++c) acc[c] += static_cast<double>(px[c]) * w;
          }
        }
        for (int c = 0; c < cn; ++c) {
          if constexpr (kFixed) {
            dst[c0 + c] = clip8(acc[c]);
          } else {
            dst[c0 + c] = static_cast<float>(acc[c]);
          }
        }
      }
    }
  }
}

// One pass over an interleaved buffer of `rows` x `cols` x `channels` samples, resampling along
// rows (horizontal) or columns (vertical). T is std::uint8_t (fixed point) or float.
template <typename T>
std::vector<T> resample_pass(const std::vector<T>& in, int rows, int cols, int channels,
                             bool horizontal, const Taps& taps) {
  const int out_rows = horizontal ? rows : static_cast<int>(taps.first.size());
  const int out_cols = horizontal ? static_cast<int>(taps.first.size()) : cols;
  std::vector<T> out(static_cast<std::size_t>(out_rows) * out_cols * channels);
  std::vector<std::int32_t> kint;
  if constexpr (std::is_same_v<T, std::uint8_t>) kint = fixed_point(taps.weights);

  const std::size_t row_stride = static_cast<std::size_t>(cols) * channels;
  if (!horizontal) {
    // Output row y sums input rows first[y] .. in tap order, a whole row at a time (the input
    // is read along its rows, not down its columns); each sample sees the same terms in the
    // same order as one sample at a time would, so the result is identical.
    using Acc = std::conditional_t<std::is_same_v<T, std::uint8_t>, std::int32_t, double>;
    std::vector<Acc> acc(row_stride);
    for (int y = 0; y < out_rows; ++y) {
      std::fill(acc.begin(), acc.end(),
                std::is_same_v<T, std::uint8_t> ? Acc(1 << (kPrecisionBits - 1)) : Acc(0));
      const std::size_t kbase = static_cast<std::size_t>(y) * taps.ksize;
      for (int t = 0; t < taps.count[y]; ++t) {
        const T* src = &in[static_cast<std::size_t>(taps.first[y] + t) * row_stride];
        if constexpr (std::is_same_v<T, std::uint8_t>) {
          const std::int32_t w = kint[kbase + t];
          for (std::size_t j = 0; j < row_stride; ++j) acc[j] += src[j] * w;
        } else {
          const double w = taps.weights[kbase + t];
          for (std::size_t j = 0; j < row_stride; ++j) acc[j] += static_cast<double>(src[j]) * w;
        }
      }
      T* dst = &out[static_cast<std::size_t>(y) * row_stride];
      for (std::size_t j = 0; j < row_stride; ++j) {
        if constexpr (std::is_same_v<T, std::uint8_t>) {
          dst[j] = clip8(acc[j]);
        } else {
          dst[j] = static_cast<float>(acc[j]);
        }
      }
    }
    return out;
  }
  switch (channels) {  // the common counts with the channel loop unrolled
    case 1:
      horizontal_pass<1>(in.data(), out.data(), out_rows, out_cols, row_stride, taps, kint);
      break;
    case 3:
      horizontal_pass<3>(in.data(), out.data(), out_rows, out_cols, row_stride, taps, kint);
      break;
    default:
      horizontal_pass<0>(in.data(), out.data(), out_rows, out_cols, row_stride, taps, kint,
                         channels);
  }
  return out;
}

// lround(v * 255) clamped to 0..255, without a libm call per sample: for 0 <= x <= 255 the
// double x + 0.5 is exact, so truncating it rounds half away from zero as lround does; below 0
// and NaN give 0, above 255 255 (maxps and minps give their second operand for NaN).
void to_grey_levels(const float* in, std::uint8_t* out, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128 zero = _mm_setzero_ps(), k255 = _mm_set1_ps(255.0f);
  const __m128d half = _mm_set1_pd(0.5);
  auto levels4 = [&](const float* p) {
    const __m128 x = _mm_min_ps(_mm_max_ps(_mm_mul_ps(_mm_loadu_ps(p), k255), zero), k255);
    const __m128i lo = _mm_cvttpd_epi32(_mm_add_pd(_mm_cvtps_pd(x), half));
    const __m128i hi = _mm_cvttpd_epi32(_mm_add_pd(_mm_cvtps_pd(_mm_movehl_ps(x, x)), half));
    return _mm_unpacklo_epi64(lo, hi);
  };
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_packs_epi32(levels4(in + i), levels4(in + i + 4));
    const __m128i b = _mm_packs_epi32(levels4(in + i + 8), levels4(in + i + 12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(a, b));
  }
#endif
  for (; i < n; ++i) {
    float x = in[i] * 255.0f;
    x = x >= 0.0f ? x : 0.0f;
    x = x <= 255.0f ? x : 255.0f;
    out[i] = static_cast<std::uint8_t>(static_cast<int>(static_cast<double>(x) + 0.5));
  }
}

template <typename T>
std::vector<T> resample(std::vector<T> data, int height, int width, int channels, int out_height,
                        int out_width) {
  if (out_width != width) {
    data = resample_pass(data, height, width, channels, true, precompute_coeffs(width, out_width));
  }
  if (out_height != height) {
    data = resample_pass(data, height, out_width, channels, false,
                         precompute_coeffs(height, out_height));
  }
  return data;
}

}  // namespace

Image resize_bilinear_antialias(const Image& image, int height, int width, bool round_to_8bit) {
  if (height <= 0 || width <= 0) {
    throw Error(ErrorCode::usage, "resize: target size " + std::to_string(width) + "x" +
                                      std::to_string(height) + " must be positive");
  }
  const std::size_t expected =
      static_cast<std::size_t>(image.height) * image.width * image.channels;
  if (image.height <= 0 || image.width <= 0 || image.channels <= 0 ||
      image.data.size() != expected) {
    throw Error(ErrorCode::input, "resize: empty or inconsistent image");
  }

  Image out;
  out.height = height;
  out.width = width;
  out.channels = image.channels;
  out.bit_depth = round_to_8bit ? 8 : image.bit_depth;
  if (round_to_8bit) {
    std::vector<std::uint8_t> grey(image.data.size());
    to_grey_levels(image.data.data(), grey.data(), grey.size());
    grey = resample(std::move(grey), image.height, image.width, image.channels, height, width);
    out.data.resize(grey.size());
    // Same float32 division as ToTensor's img.div(255).
    std::transform(grey.begin(), grey.end(), out.data.begin(),
                   [](std::uint8_t v) { return static_cast<float>(v) / 255.0f; });
  } else {
    out.data = resample(image.data, image.height, image.width, image.channels, height, width);
  }
  return out;
}

}  // namespace camkit
