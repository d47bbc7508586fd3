#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace camkit {
namespace {

std::string encode(const Rgb8& picture, const std::string& ext, const std::vector<int>& params) {
  if (picture.width <= 0 || picture.height <= 0)
    throw Error(ErrorCode::input, "cannot encode an empty picture");
  cv::Mat rgb(picture.height, picture.width, CV_8UC3,
              const_cast<std::uint8_t*>(picture.data.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> buf;
  if (!cv::imencode(ext, bgr, buf, params))
    throw Error(ErrorCode::input, "cannot encode " + ext + " picture");
  return std::string(buf.begin(), buf.end());
}

}  // namespace

std::string encode_png(const Rgb8& picture, int compression) {
  // Levels 1..3 use zlib's run-length strategy: on photographs and overlays it is about a third
  // cheaper than level 3's default strategy and no larger (docs/performance.md); 4..9 keep the
  // default strategy, slower for files about 1% smaller. Either way the pixels are the same.
  if (compression >= 1 && compression <= 3)
    return encode(picture, ".png",
                  {cv::IMWRITE_PNG_COMPRESSION, compression, cv::IMWRITE_PNG_STRATEGY,
                   cv::IMWRITE_PNG_STRATEGY_RLE});
  return encode(picture, ".png", {cv::IMWRITE_PNG_COMPRESSION, compression});
}

std::string encode_jpeg(const Rgb8& picture, int quality) {
  return encode(picture, ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality});
}

namespace {

// NumPy .npy format 1.0: little-endian float32 of the given shape, C order.
std::string npy_bytes(const std::string& shape, const std::vector<const Map*>& maps) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of
  // 64 bytes and ended by a newline, as NumPy writes it.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  for (const Map* m : maps) {
    const size_t bytes = m->data.size() * sizeof(float);
    const size_t offset = out.size();
    out.resize(offset + bytes);
    std::memcpy(out.data() + offset, m->data.data(), bytes);  // x86/ARM hosts are little-endian
  }
  return out;
}

}  // namespace

std::string encode_npy(const Map& map) {
  if (map.depth != 1) return encode_npy_volume(map);
  return npy_bytes(std::to_string(map.height) + ", " + std::to_string(map.width), {&map});
}

std::string encode_npy_volume(const Map& map) {
  if (map.depth < 1 || map.data.size() != static_cast<size_t>(map.depth) * map.height * map.width)
    throw Error(ErrorCode::usage, "encode_npy: map data size does not match its shape");
  return npy_bytes(std::to_string(map.depth) + ", " + std::to_string(map.height) + ", " +
                       std::to_string(map.width),
                   {&map});
}

std::string encode_npy(const std::vector<Map>& stack) {
  std::vector<const Map*> maps;
  for (const Map& m : stack) {
    if (m.height != stack.front().height || m.width != stack.front().width ||
        m.data.size() != static_cast<size_t>(m.height) * m.width)
      throw Error(ErrorCode::usage, "encode_npy: the maps of a stack must have one size");
    maps.push_back(&m);
  }
  const int h = stack.empty() ? 0 : stack.front().height;
  const int w = stack.empty() ? 0 : stack.front().width;
  return npy_bytes(
      std::to_string(stack.size()) + ", " + std::to_string(h) + ", " + std::to_string(w), maps);
}

}  // namespace camkit
