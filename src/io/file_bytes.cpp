#include "io/file_bytes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace camkit::io {

namespace {

// Closes the descriptor on every path out of read_file_bytes, throws included.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string cannot_read(int err) {
  return std::string("cannot read (") + std::strerror(err) + ")";
}

}  // namespace

Error input_error(const std::string& path, const std::string& reason) {
  return Error(ErrorCode::input, path + ": " + reason);
}

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  // One descriptor for both the type check and the read, so the file cannot be swapped between.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw input_error(path, "no such file");
    if (err == EISDIR) throw input_error(path, "is a directory");
    throw input_error(path, cannot_read(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw input_error(path, cannot_read(errno));
  if (S_ISDIR(st.st_mode)) throw input_error(path, "is a directory");

  std::vector<unsigned char> bytes;
  if (S_ISREG(st.st_mode) && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  unsigned char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw input_error(path, cannot_read(errno));
    }
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  if (bytes.empty()) throw input_error(path, "empty file");
  return bytes;
}

}  // namespace camkit::io
