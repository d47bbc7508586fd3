// io/gzip_stream.hpp — private: gzip data inflated in steps, never beyond what is asked for, so
// that a small .nii.gz claiming a huge image is judged on its header before anything large is
// inflated (a compressed file can expand a thousandfold).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace camkit::io {

/// True when `bytes` start with the gzip magic (1f 8b).
bool is_gzip(const unsigned char* bytes, std::size_t size);

/// Inflates a gzip stream (concatenated members too) held in memory. Move-only.
class GzipStream {
 public:
  /// `data` must outlive the stream. `path` names the file in messages.
  GzipStream(const std::string& path, const unsigned char* data, std::size_t size);
  ~GzipStream();
  GzipStream(GzipStream&&) noexcept;
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  GzipStream& operator=(GzipStream&&) = delete;

  /// Appends inflated bytes to `out` until it holds `size` bytes or the stream ends. Throws
  /// input_error for corrupt data ("cannot inflate gzip data (...)") and for data that ends
  /// before the stream does ("truncated gzip data ...").
  void fill(std::vector<unsigned char>& out, std::size_t size);
  /// Whether the whole stream has been inflated.
  bool ended() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace camkit::io
