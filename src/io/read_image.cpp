#include <climits>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "io/container_check.hpp"
#include "io/file_bytes.hpp"
#include "io/image_codecs.hpp"
#include "io/image_decode.hpp"
#include "io/limits.hpp"

namespace camkit {

namespace {

std::string depth_name(int depth) {
  switch (depth) {
    case CV_8S:
      return "8-bit signed";
    case CV_16S:
      return "16-bit signed";
    case CV_32S:
      return "32-bit integer";
    case CV_32F:
      return "32-bit float";
    case CV_64F:
      return "64-bit float";
    case CV_16F:
      return "16-bit float";
    default:
      return "depth " + std::to_string(depth);
  }
}

// Division rather than multiplication by a reciprocal so that values match ToTensor's
// `img.float().div(255)` bit for bit.
template <typename T>
void copy_scaled(const cv::Mat& m, float full_scale, Image& im) {
  const int src_channels = m.channels();
  // OpenCV stores colour as BGR(A); the contract is RGB with alpha dropped.
  const int order[3] = {im.channels == 3 ? 2 : 0, 1, 0};
  float* out = im.data.data();
  for (int y = 0; y < im.height; ++y) {
    const T* row = m.ptr<T>(y);
    for (int x = 0; x < im.width; ++x) {
      const T* px = row + static_cast<std::size_t>(x) * src_channels;
      for (int c = 0; c < im.channels; ++c) *out++ = static_cast<float>(px[order[c]]) / full_scale;
    }
  }
}

// RGB-ordered samples from libpng/libjpeg, divided as copy_scaled does.
Image from_pixels(const io::Pixels& p) {
  Image im;
  im.height = p.height;
  im.width = p.width;
  im.channels = p.channels;
  im.bit_depth = p.bit_depth;
  if (p.bit_depth == 16) {
    im.data.resize(p.wide.size());
    for (std::size_t i = 0; i < p.wide.size(); ++i)
      im.data[i] = static_cast<float>(p.wide[i]) / 65535.0f;
  } else {
    im.data.resize(p.narrow.size());
    for (std::size_t i = 0; i < p.narrow.size(); ++i)
      im.data[i] = static_cast<float>(p.narrow[i]) / 255.0f;
  }
  return im;
}

// BMP and TIFF go through OpenCV, after their declared size has been checked. OpenCV prints
// the exception of a decoder that throws before returning an empty image; the container checks
// catch the BMP cases known to do that.
Image decode_with_opencv(const std::string& path, const unsigned char* data, std::size_t size) {
  const cv::Mat encoded(1, static_cast<int>(size), CV_8UC1, const_cast<unsigned char*>(data));
  cv::Mat m;
  try {
    // IMREAD_UNCHANGED keeps 16-bit samples and skips EXIF rotation, as PIL's Image.open does.
    m = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    m.release();  // OpenCV throws for oversized headers; that is one more undecodable file
  }
  if (m.empty() || m.dims != 2) throw io::input_error(path, "cannot decode image");

  const int depth = m.depth();
  if (depth != CV_8U && depth != CV_16U) {
    throw io::input_error(path, "unsupported sample type (" + depth_name(depth) +
                                    "; only 8- and 16-bit unsigned images are read)");
  }
  const int src_channels = m.channels();
  if (src_channels != 1 && src_channels != 3 && src_channels != 4) {
    throw io::input_error(path, "unsupported channel count " + std::to_string(src_channels));
  }

  Image im;
  im.height = m.rows;
  im.width = m.cols;
  im.channels = src_channels == 1 ? 1 : 3;
  im.data.resize(static_cast<std::size_t>(im.height) * im.width * im.channels);
  if (depth == CV_8U) {
    im.bit_depth = 8;
    copy_scaled<unsigned char>(m, 255.0f, im);
  } else {
    im.bit_depth = 16;
    copy_scaled<unsigned short>(m, 65535.0f, im);
  }
  return im;
}

}  // namespace

namespace io {

Image decode_image(const std::string& path, const unsigned char* data, std::size_t size,
                   const ReadOptions& options) {
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw input_error(path, "file too large to decode (over 2 GiB)");
  }
  const std::string problem = container_problem(data, size);
  if (!problem.empty()) throw input_error(path, problem);

  static const unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPngSignature, 8) == 0) {
    return from_pixels(decode_png(path, data, size, options));
  }
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    return from_pixels(decode_jpeg(path, data, size, options));
  }
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') {
    const std::optional<DeclaredSize> declared = bmp_size(data, size);
    if (!declared) throw input_error(path, "cannot decode image (unknown BMP header)");
    check_pixels(path, "image", declared->width, declared->height, options);
  } else if (is_tiff(data, size)) {
    check_tiff(path, data, size, options);
  } else {
    // Only formats whose size can be checked before decoding are handed to a decoder.
    throw input_error(path, "cannot decode image (not PNG, JPEG, BMP or TIFF data)");
  }
  return decode_with_opencv(path, data, size);
}

}  // namespace io

Image read_image(const std::string& path, const ReadOptions& options) {
  const std::vector<unsigned char> bytes = io::read_file_bytes(path, options.max_file_bytes);
  return io::decode_image(path, bytes.data(), bytes.size(), options);
}

}  // namespace camkit
