// Writes confined to the output folder: every folder on the way is opened relative to the one
// before it with O_NOFOLLOW, so no symbolic link inside the output folder is written through.
#include "camkit/output_folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "output/file_ops.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> components(const std::string& relative) {
  std::vector<std::string> out;
  for (const fs::path& part : fs::path(relative))
    if (!part.empty() && part != ".") out.push_back(part.string());
  return out;
}

// `root`/`relative` split into its folder and its file name.
std::pair<std::string, std::string> split(const std::string& relative) {
  const fs::path p(relative);
  return {p.parent_path().generic_string(), p.filename().string()};
}

}  // namespace

std::string confined_relative(const std::string& root, const std::string& relative) {
  const fs::path p(relative);
  const std::string shown = (fs::path(root) / p).string();
  if (relative.empty() || p.is_absolute())
    throw Error(ErrorCode::input, shown + ": cannot write: not a path inside the output folder");
  const fs::path norm = p.lexically_normal();
  for (const fs::path& part : norm)
    if (part == "..")
      throw Error(ErrorCode::input, shown + ": cannot write: leaves the output folder");
  std::string out = norm.generic_string();
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out == "." ? std::string() : out;
}

OutputFolder::OutputFolder(const std::string& root) : root_(root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  fd_ = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0)
    throw Error(ErrorCode::usage, root + ": cannot use as the output folder: " +
                                      std::string(ec ? ec.message() : std::strerror(errno)));
}

OutputFolder::~OutputFolder() {
  if (fd_ >= 0) ::close(fd_);
}

OutputFolder::OutputFolder(OutputFolder&& other) noexcept
    : root_(std::move(other.root_)), fd_(other.fd_) {
  other.fd_ = -1;
}

OutputFolder& OutputFolder::operator=(OutputFolder&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    root_ = std::move(other.root_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

std::string OutputFolder::path(const std::string& relative) const {
  return relative.empty() ? root_ : (fs::path(root_) / relative).string();
}

int OutputFolder::open_folder(const std::string& relative, bool create) const {
  const std::string rel = relative.empty() ? relative : confined_relative(root_, relative);
  int cur = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (cur < 0) throw Error(ErrorCode::input, root_ + ": " + std::strerror(errno));
  std::string walked;
  for (const std::string& part : components(rel)) {
    walked = walked.empty() ? part : walked + "/" + part;
    int next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur, part.c_str(), 0777) != 0 && errno != EEXIST) {
        const int err = errno;
        ::close(cur);
        throw Error(ErrorCode::input,
                    path(walked) + ": cannot create the folder: " + std::strerror(err));
      }
      next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    const int err = errno;
    ::close(cur);
    if (next >= 0) {
      cur = next;
      continue;
    }
    if (!create) return -1;
    struct stat st {};
    const bool link =
        ::fstatat(fd_, walked.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    throw Error(ErrorCode::input,
                path(walked) + (link ? ": is a symbolic link inside the output folder; camkit "
                                       "does not write through it"
                                     : ": cannot use as a folder: " +
                                           std::string(err == ENOTDIR ? "a file stands there"
                                                                      : std::strerror(err))));
  }
  return cur;
}

void OutputFolder::write(const std::string& relative, std::string_view bytes) const {
  const std::string rel = confined_relative(root_, relative);
  const auto [dir, name] = split(rel);
  if (name.empty())
    throw Error(ErrorCode::input, path(relative) + ": cannot write: not a file name");
  const int dirfd = open_folder(dir, true);
  try {
    output_detail::write_at(dirfd, name, bytes, path(rel));
  } catch (...) {
    ::close(dirfd);
    throw;
  }
  ::close(dirfd);
}

std::optional<std::string> OutputFolder::read(const std::string& relative) const {
  std::string rel;
  try {
    rel = confined_relative(root_, relative);
  } catch (const Error&) {
    return std::nullopt;
  }
  const auto [dir, name] = split(rel);
  const int dirfd = open_folder(dir, false);
  if (dirfd < 0) return std::nullopt;
  std::optional<std::string> out = output_detail::read_at(dirfd, name);
  ::close(dirfd);
  return out;
}

bool OutputFolder::exists(const std::string& relative) const {
  std::string rel;
  try {
    rel = confined_relative(root_, relative);
  } catch (const Error&) {
    return false;
  }
  const auto [dir, name] = split(rel);
  const int dirfd = open_folder(dir, false);
  if (dirfd < 0) return false;
  struct stat st {};
  const bool ok =
      ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
  ::close(dirfd);
  return ok;
}

std::size_t OutputFolder::remove_stale_temporaries(const std::string& relative) const {
  int dirfd = -1;
  try {
    dirfd = open_folder(relative, false);
  } catch (const Error&) {
    return 0;
  }
  if (dirfd < 0) return 0;
  const int listfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  DIR* d = listfd >= 0 ? ::fdopendir(listfd) : nullptr;
  if (!d) {
    if (listfd >= 0) ::close(listfd);
    ::close(dirfd);
    return 0;
  }
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::optional<TemporaryOwner> owner = temporary_owner(e->d_name);
    // Another host's pids mean nothing here, and a live process may still rename its file.
    if (!owner || owner->host != host_id() || output_detail::process_alive(owner->pid)) continue;
    stale.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::size_t removed = 0;
  for (const std::string& name : stale) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    removed += ::unlinkat(dirfd, name.c_str(), 0) == 0;
  }
  ::close(dirfd);
  return removed;
}

}  // namespace camkit
