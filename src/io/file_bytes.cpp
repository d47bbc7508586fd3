#include "io/file_bytes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/limits.hpp"

namespace camkit::io {

namespace {

std::string cannot_read(int err) {
  return std::string("cannot read (") + std::strerror(err) + ")";
}

const char* kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

}  // namespace

Error input_error(const std::string& path, const std::string& reason) {
  return Error(ErrorCode::input, path + ": " + reason);
}

RegularFile::RegularFile(const std::string& path, std::uint64_t max_bytes)
    : path_(path), max_bytes_(max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever. It changes
  // nothing for regular files, the only kind read. One descriptor serves both the type check
  // and the reads, so the file cannot be swapped in between.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw input_error(path, "no such file");
    if (err == EISDIR) throw input_error(path, "is a directory");
    throw input_error(path, cannot_read(err));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw input_error(path, cannot_read(err));
  }
  std::string problem;
  if (S_ISDIR(st.st_mode)) {
    problem = "is a directory";
  } else if (!S_ISREG(st.st_mode)) {
    problem = std::string("not a regular file (") + kind_of(st.st_mode) + ")";
  } else if (st.st_size <= 0) {
    problem = "empty file";
  } else if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    problem =
        over_limit("file of " + std::to_string(st.st_size) + " bytes", max_bytes, kFileSizeFlag);
  }
  if (!problem.empty()) {
    ::close(fd_);
    throw input_error(path, problem);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      size_(other.size_),
      max_bytes_(other.max_bytes_),
      consumed_(other.consumed_) {
  other.fd_ = -1;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t RegularFile::read_more(std::vector<unsigned char>& bytes, std::size_t count) {
  const std::size_t start = bytes.size();
  bytes.resize(start + count);
  std::size_t got = 0;
  while (got < count) {
    const ssize_t n = ::read(fd_, bytes.data() + start + got, count - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      bytes.resize(start + got);
      throw input_error(path_, cannot_read(err));
    }
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(start + got);
  consumed_ += got;
  return got;
}

void RegularFile::read_rest(std::vector<unsigned char>& bytes) {
  if (size_ > consumed_) bytes.reserve(bytes.size() + static_cast<std::size_t>(size_ - consumed_));
  for (;;) {
    // What fstat() reported is asked for in one read, then small reads to find the end; never
    // more than one byte past the cap, so that a file that grew beyond it is noticed.
    const std::uint64_t room = max_bytes_ - std::min(max_bytes_, consumed_);
    const std::uint64_t expected = size_ > consumed_ ? size_ - consumed_ : 0;
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(room + 1, expected > 0 ? expected + 1 : 4096));
    if (read_more(bytes, want) == 0) break;
    if (consumed_ > max_bytes_) {
      throw input_error(path_,
                        over_limit("file (grown while being read)", max_bytes_, kFileSizeFlag));
    }
  }
  if (bytes.empty()) throw input_error(path_, "empty file");
}

std::vector<unsigned char> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  RegularFile file(path, max_bytes);
  std::vector<unsigned char> bytes;
  file.read_rest(bytes);
  return bytes;
}

}  // namespace camkit::io
