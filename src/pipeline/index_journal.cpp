#include "pipeline/index_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace camkit::pipeline {
namespace {

void write_all(int fd, const char* data, std::size_t size, const std::string& shown) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(ErrorCode::usage,
                  shown + ": cannot write the index: " + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<std::size_t>(n);
  }
}

// Calls f(line) for every line of the file (without the '\n'; a torn last line is dropped).
template <class F>
void for_each_line(int fd, F&& f) {
  std::string pending;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      f(pending.substr(start, nl - start));
    pending.erase(0, start);
  }
}

}  // namespace

IndexJournal::IndexJournal(const OutputFolder& out, std::string name,
                           const std::vector<PipelineInput>& inputs, double interval_seconds)
    : out_(out),
      name_(std::move(name)),
      journal_(temporary_name(name_)),
      inputs_(inputs),
      base_interval_(interval_seconds),
      interval_(interval_seconds),
      last_(std::chrono::steady_clock::now()) {
  fd_ = ::openat(out.fd(), journal_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0666);
  if (fd_ < 0)
    throw Error(ErrorCode::usage,
                out.path(name_) + ": cannot write the index: " + std::strerror(errno));
}

IndexJournal::~IndexJournal() {
  if (fd_ < 0) return;
  if (!finished_) {
    try {
      snapshot();
    } catch (const std::exception&) {
      // The index found stays as it was: still never shorter.
    }
  }
  ::close(fd_);
  if (!finished_) ::unlinkat(out_.fd(), journal_.c_str(), 0);
}

void IndexJournal::append(const std::string& line) {
  write_all(fd_, line.data(), line.size(), out_.path(name_));
  bytes_ += line.size();
  ++committed_;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  snapshot();
  const auto done = std::chrono::steady_clock::now();
  // Rewriting costs the index's size each time: keep it to a twentieth of the run at most.
  interval_ = std::max(base_interval_, 20 * std::chrono::duration<double>(done - now).count());
  last_ = done;
}

void IndexJournal::snapshot() {
  if (committed_ == 0 || finished_) return;  // the index found is already what it would be
  const std::string shown = out_.path(name_);
  const std::string tmp = temporary_name(name_);
  int fd =
      ::openat(out_.fd(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0)
    throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
  try {
    char buf[1 << 16];
    for (std::size_t off = 0; off < bytes_;) {
      const ssize_t n =
          ::pread(fd_, buf, std::min(sizeof buf, bytes_ - off), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(ErrorCode::usage, shown + ": cannot read back the index journal");
      write_all(fd, buf, static_cast<std::size_t>(n), shown);
      off += static_cast<std::size_t>(n);
    }
    // Lines of the index found for the inputs still to come, so it never gets shorter.
    const int old =
        ::openat(out_.fd(), name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st {};
    if (old >= 0 && ::fstat(old, &st) == 0 && S_ISREG(st.st_mode)) {
      std::vector<bool> kept(inputs_.size(), false);
      for_each_line(old, [&](const std::string& text) {
        const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
            !j.contains("input") || !j["input"].is_string())
          return;
        const std::size_t seq = j["seq"].get<std::size_t>();
        const auto it = std::lower_bound(
            inputs_.begin() + static_cast<std::ptrdiff_t>(committed_), inputs_.end(), seq,
            [](const PipelineInput& in, std::size_t s) { return in.seq < s; });
        if (it == inputs_.end() || it->seq != seq || it->path != j["input"].get<std::string>())
          return;
        const std::size_t pos = static_cast<std::size_t>(it - inputs_.begin());
        if (kept[pos]) return;
        kept[pos] = true;
        write_all(fd, text.data(), text.size(), shown);
        write_all(fd, "\n", 1, shown);
      });
    }
    if (old >= 0) ::close(old);
    if (::fdatasync(fd) != 0 && errno != EINVAL && errno != EROFS)
      throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0)
      throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
    if (::renameat(out_.fd(), tmp.c_str(), out_.fd(), name_.c_str()) != 0)
      throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlinkat(out_.fd(), tmp.c_str(), 0);
    throw;
  }
}

void IndexJournal::finish() {
  const std::string shown = out_.path(name_);
  if (::fdatasync(fd_) != 0 && errno != EINVAL && errno != EROFS)
    throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
  if (::renameat(out_.fd(), journal_.c_str(), out_.fd(), name_.c_str()) != 0)
    throw Error(ErrorCode::usage, shown + ": cannot write the index: " + std::strerror(errno));
  finished_ = true;
}

}  // namespace camkit::pipeline
