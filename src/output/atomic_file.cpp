#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "output/file_ops.hpp"

namespace camkit {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw Error(ErrorCode::input, path + ": cannot write: not a file name");
  std::error_code ec;
  fs::create_directories(parent, ec);
  const int dirfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) throw Error(ErrorCode::input, path + ": cannot write: " + std::strerror(errno));
  try {
    output_detail::write_at(dirfd, name, bytes, path);
  } catch (...) {
    ::close(dirfd);
    throw;
  }
  ::close(dirfd);
}

}  // namespace camkit
