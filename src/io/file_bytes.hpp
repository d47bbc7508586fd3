// io/file_bytes.hpp — private: bounded reads of regular files, with the io area's one-line
// error messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "camkit/error.hpp"

namespace camkit::io {

/// Error(ErrorCode::input, "<path>: <reason>"), the only shape of failure the io area reports.
Error input_error(const std::string& path, const std::string& reason);

/// One open regular file, read at most `max_bytes` in all (ReadOptions::max_file_bytes).
/// Opening never blocks: the file is opened non-blocking and refused unless fstat() says it is a
/// regular file, so a FIFO, a device such as /dev/zero or a socket fails at once
/// ("not a regular file (FIFO)"). A size over `max_bytes` is refused before anything is read.
/// Throws input_error for "no such file", "is a directory", "empty file" and
/// "cannot read (<strerror>)" too. Move-only; closes the file when destroyed.
class RegularFile {
 public:
  RegularFile(const std::string& path, std::uint64_t max_bytes);
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&&) = delete;
  ~RegularFile();

  /// The size fstat() reported when the file was opened (> 0, <= max_bytes).
  std::uint64_t size() const { return size_; }
  /// The open descriptor (owned by this object), e.g. for /proc/self/fd/<n>.
  int descriptor() const { return fd_; }

  /// Appends up to `count` more bytes to `bytes` (fewer at the end of the file); returns how
  /// many were appended.
  std::size_t read_more(std::vector<unsigned char>& bytes, std::size_t count);

  /// Appends the rest of the file. The size is taken from the bytes actually read, never from
  /// stat(), so a file that shrinks while being read cannot cause an over-read later; a file that
  /// grows past `max_bytes` while being read is refused.
  void read_rest(std::vector<unsigned char>& bytes);

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0, max_bytes_ = 0, consumed_ = 0;
};

/// The whole file: RegularFile(path, max_bytes) read to its end.
std::vector<unsigned char> read_file_bytes(const std::string& path, std::uint64_t max_bytes);

}  // namespace camkit::io
