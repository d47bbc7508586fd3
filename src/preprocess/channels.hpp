// Matching an image's channel count to the model's, as PIL's convert() would.
#pragma once

#include <string>

#include "camkit/image.hpp"

namespace camkit::detail {

/// Returns `image` with `channels` channels (1 or 3). RGB to grey uses PIL's convert("L")
/// integer arithmetic (ITU-R 601-2 luma, 299/587/114, rounded to whole levels) on 8- and 16-bit
/// sources; grey to RGB replicates. Throws Error(ErrorCode::input) "<label>: has N channels, the
/// model takes M" for floating-point sources (bit_depth 0) whose count differs and for counts
/// other than 1 and 3.
Image match_channels(const Image& image, int channels, const std::string& label);

}  // namespace camkit::detail
