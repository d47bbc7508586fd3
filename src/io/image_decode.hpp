// io/image_decode.hpp — private: read_image's work on bytes already in memory (the fuzzing seam).
#pragma once

#include <cstddef>
#include <string>

#include "camkit/image.hpp"

namespace camkit::io {

/// What read_image returns for a file holding these bytes; `path` only names it in errors.
/// PNG and JPEG are decoded through io/image_codecs.hpp, BMP and TIFF through OpenCV once their
/// declared size passed options.max_pixels; other content is refused.
Image decode_image(const std::string& path, const unsigned char* data, std::size_t size,
                   const ReadOptions& options);

}  // namespace camkit::io
