#include "io/limits.hpp"

#include <limits>

#include "io/file_bytes.hpp"

namespace camkit::io {

std::string over_limit(const std::string& what, std::uint64_t limit, const char* flag) {
  return what + ", over the limit of " + std::to_string(limit) + " (raise it with " + flag + ")";
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return a * b;
}

void check_pixels(const std::string& path, const std::string& what, std::uint64_t width,
                  std::uint64_t height, const ReadOptions& options) {
  const std::uint64_t pixels = saturating_mul(width, height);
  if (pixels <= options.max_pixels) return;
  throw input_error(
      path, over_limit(what + " of " + std::to_string(width) + " x " + std::to_string(height) +
                           " = " + std::to_string(pixels) + " pixels",
                       options.max_pixels, kPixelsFlag));
}

void check_slices(const std::string& path, std::uint64_t count, const std::string& what,
                  const ReadOptions& options) {
  if (count <= options.max_slices) return;
  throw input_error(path, over_limit(what, options.max_slices, kSlicesFlag));
}

void check_decoded(const std::string& path, const std::string& what, std::uint64_t samples,
                   const ReadOptions& options) {
  const std::uint64_t bytes = saturating_mul(samples, sizeof(float));
  if (bytes <= options.max_decoded_bytes) return;
  throw input_error(path,
                    over_limit(what + " decodes to " + std::to_string(samples) +
                                   " samples = " + std::to_string(bytes) + " bytes as float32",
                               options.max_decoded_bytes, kDecodedFlag));
}

}  // namespace camkit::io
