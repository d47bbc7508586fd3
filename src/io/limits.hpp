// io/limits.hpp — private: the checks behind ReadOptions' limits, and their one message shape:
// "<what>, over the limit of <limit> (raise it with <flag>)". Each check runs on sizes a file
// declares, before anything of that size is allocated.
#pragma once

#include <cstdint>
#include <string>

#include "camkit/image.hpp"

namespace camkit::io {

inline constexpr const char* kFileSizeFlag = "--max-file-size";
inline constexpr const char* kPixelsFlag = "--max-pixels";
inline constexpr const char* kSlicesFlag = "--max-slices";
inline constexpr const char* kDecodedFlag = "--max-decoded-size";

/// "<what>, over the limit of <limit> (raise it with <flag>)".
std::string over_limit(const std::string& what, std::uint64_t limit, const char* flag);

/// a * b, or UINT64_MAX when that overflows: sizes from headers may be anything.
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b);

/// Throws input_error when width x height exceeds options.max_pixels. `what` names the picture,
/// e.g. "image", "frame", "slice".
void check_pixels(const std::string& path, const std::string& what, std::uint64_t width,
                  std::uint64_t height, const ReadOptions& options);

/// Throws input_error when `count` exceeds options.max_slices; `what` describes the count,
/// e.g. "NumberOfFrames 60000".
void check_slices(const std::string& path, std::uint64_t count, const std::string& what,
                  const ReadOptions& options);

/// Throws input_error when `samples` float32 samples exceed options.max_decoded_bytes; `what`
/// describes the source, e.g. "array of shape (20000, 20000)".
void check_decoded(const std::string& path, const std::string& what, std::uint64_t samples,
                   const ReadOptions& options);

}  // namespace camkit::io
