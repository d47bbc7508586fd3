// io/container_check.hpp — private: structural checks that run before OpenCV decodes an image.
//
// libjpeg decodes a truncated JPEG into a grey-filled picture with only a warning on stderr, and
// a PNG cut after its pixel data decodes without complaint, so neither failure reaches imdecode's
// result; a short BMP fails, but only after OpenCV prints its exception to stderr. Walking the
// container's markers/chunks/header finds these cases without a decoder. TIFF needs no check:
// libtiff fails cleanly on missing strips.
#pragma once

#include <cstddef>
#include <string>

namespace camkit::io {

/// Empty when the bytes hold a complete JPEG/PNG/BMP container, or are neither format (those are
/// left to the decoder); otherwise the reason, e.g. "truncated JPEG (no end-of-image marker)".
std::string container_problem(const unsigned char* data, std::size_t size);

}  // namespace camkit::io
