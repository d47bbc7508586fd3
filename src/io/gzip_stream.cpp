#include "io/gzip_stream.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "io/file_bytes.hpp"

namespace camkit::io {

bool is_gzip(const unsigned char* bytes, std::size_t size) {
  return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

struct GzipStream::State {
  std::string path;
  const unsigned char* data = nullptr;
  std::size_t size = 0, consumed = 0;
  z_stream z{};
  bool open = false, ended = false;
};

GzipStream::GzipStream(const std::string& path, const unsigned char* data, std::size_t size)
    : state_(std::make_unique<State>()) {
  state_->path = path;
  state_->data = data;
  state_->size = size;
  // 15 + 16: a gzip wrapper (header and CRC checked by zlib).
  if (inflateInit2(&state_->z, 15 + 16) != Z_OK) throw input_error(path, "cannot inflate");
  state_->open = true;
}

GzipStream::~GzipStream() {
  if (state_ && state_->open) inflateEnd(&state_->z);
}

GzipStream::GzipStream(GzipStream&&) noexcept = default;

void GzipStream::fill(std::vector<unsigned char>& out, std::size_t size) {
  State& s = *state_;
  while (!s.ended && out.size() < size) {
    const std::size_t have = out.size();
    const std::size_t want = std::min<std::size_t>(size - have, 1 << 20);
    out.resize(have + want);
    s.z.next_in = const_cast<unsigned char*>(s.data + s.consumed);
    s.z.avail_in = static_cast<uInt>(std::min<std::size_t>(s.size - s.consumed, UINT_MAX));
    s.z.next_out = out.data() + have;
    s.z.avail_out = static_cast<uInt>(want);
    const int status = inflate(&s.z, Z_NO_FLUSH);
    s.consumed = static_cast<std::size_t>(s.z.next_in - s.data);
    out.resize(have + (want - s.z.avail_out));
    if (status == Z_STREAM_END) {
      // Another member may follow (concatenated gzip files are one stream to gunzip).
      if (s.consumed < s.size && is_gzip(s.data + s.consumed, s.size - s.consumed)) {
        inflateReset(&s.z);
        continue;
      }
      s.ended = true;
    } else if (status == Z_BUF_ERROR || (status == Z_OK && out.size() == have)) {
      // No progress with room to write: the input ran out before the end of the stream.
      throw input_error(s.path, "truncated gzip data (the stream ends early)");
    } else if (status != Z_OK) {
      throw input_error(s.path, std::string("cannot inflate gzip data (") +
                                    (s.z.msg ? s.z.msg : "corrupt data") + ")");
    }
  }
}

bool GzipStream::ended() const {
  return state_->ended;
}

}  // namespace camkit::io
