#include "output/file_ops.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace camkit::output_detail {
namespace {

[[noreturn]] void fail(const std::string& shown, int err) {
  std::string reason = std::strerror(err);
  if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) reason = "a folder stands at that name";
  throw Error(ErrorCode::input, shown + ": cannot write: " + reason);
}

}  // namespace

void write_at(int dirfd, const std::string& name, std::string_view bytes,
              const std::string& shown) {
  const std::string tmp = temporary_name(name);
  const int fd =
      ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) fail(shown, errno);
  std::size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  // close() reports delayed write errors on network file systems.
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    fail(shown, err);
  }
}

std::optional<std::string> read_at(int dirfd, const std::string& name) {
  // O_NONBLOCK: a FIFO planted at a record's name must not hang the run.
  const int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::string bytes;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        bytes.clear();
        break;
      }
      if (n == 0) {
        out = std::move(bytes);
        break;
      }
      bytes.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

bool process_alive(long long pid) {
  if (pid <= 0 || pid > INT_MAX) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace camkit::output_detail
