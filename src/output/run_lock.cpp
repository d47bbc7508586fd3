// RunLock: POSIX record locks on <out>/.camkit.lock. Record locks (not flock, not O_EXCL files)
// because the kernel drops them when the holder dies, however it dies, and because NFS (lockd,
// NFSv4 leases), Lustre (mounted with -o flock), GPFS and CephFS carry them between hosts.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "camkit/error.hpp"
#include "camkit/output_folder.hpp"

namespace camkit {
namespace {

constexpr off_t kShardBase = off_t{1} << 32;  // shard i locks byte kShardBase + i
constexpr off_t kCountEnd = off_t{1} << 31;   // counts lock bytes 1 .. 2^31

constexpr const char* kLockText =
    "camkit output folder. camkit runs hold record locks (fcntl) on this file so that two runs\n"
    "of the same work never share the folder; it is never deleted while in use. See\n"
    "docs/guarantees.md.\n";

bool unsupported(int err) {
  return err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL;
}

struct flock range(short type, off_t start, off_t len) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = start;
  l.l_len = len;
  return l;
}

// The first lock another process holds in [start, start + len), if any (len 0 is no range here,
// not fcntl's "to the end").
bool holder(int fd, off_t start, off_t len, struct flock* found) {
  if (len <= 0) return false;
  *found = range(F_WRLCK, start, len);
  return ::fcntl(fd, F_GETLK, found) == 0 && found->l_type != F_UNLCK;
}

std::string describe(const struct flock& l) {
  const std::string pid = l.l_pid > 0 ? " (pid " + std::to_string(l.l_pid) + ")" : "";
  if (l.l_start >= kShardBase)
    return "shard " + std::to_string(l.l_start - kShardBase) + " of a sharded run" + pid;
  if (l.l_start == 1) return "an unsharded run" + pid;
  return "a run with --shard i/" + std::to_string(l.l_start) + pid;
}

int open_lock_file(const OutputFolder& folder, bool create) {
  if (create) {
    const int fd = ::openat(folder.fd(), kLockFileName,
                            O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      const std::string text = kLockText;
      if (::write(fd, text.data(), text.size()) < 0) {
        // The text is only a note for people; the lock works without it.
      }
      return fd;
    }
    if (errno != EEXIST) return -1;
  }
  int fd = ::openat(folder.fd(), kLockFileName, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && !create && (errno == EACCES || errno == EROFS))
    fd = ::openat(folder.fd(), kLockFileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  return fd;
}

}  // namespace

RunLock RunLock::acquire(const OutputFolder& folder, int index, int count,
                         const std::function<void(const std::string&)>& note) {
  const std::string file = folder.path(kLockFileName);
  if (count < 1 || index < 0 || index >= count)
    throw Error(ErrorCode::usage, "shard " + std::to_string(index) + "/" + std::to_string(count) +
                                      ": use i/N with 0 <= i < N");
  const int fd = open_lock_file(folder, true);
  if (fd < 0)
    throw Error(ErrorCode::usage, file + ": cannot open the lock file: " + std::strerror(errno));
  RunLock lock(fd);
  struct flock shared = range(F_RDLCK, count, 1);
  if (::fcntl(fd, F_SETLK, &shared) != 0) {
    const int err = errno;
    if (unsupported(err)) {
      if (note)
        note("note: " + file + ": the file system refuses locks (" + std::strerror(err) +
             "): a second run of the same work on this folder cannot be detected");
      return RunLock();
    }
    throw Error(ErrorCode::usage, file + ": cannot lock: " + std::strerror(err));
  }
  // Shared first, then look for other counts: of two runs with different counts starting at
  // once, at least one sees the other (both may give up; neither proceeds alone unseen).
  struct flock other {};
  if (holder(fd, 1, count - 1, &other) || holder(fd, count + 1, kCountEnd - count, &other))
    throw Error(ErrorCode::busy, folder.root() + ": in use by " + describe(other) +
                                     "; every run on one output folder must use the same "
                                     "shard count (this one: " +
                                     std::to_string(count) + ")");
  struct flock mine = range(F_WRLCK, kShardBase + index, 1);
  if (::fcntl(fd, F_SETLK, &mine) != 0) {
    const int err = errno;
    if (err != EAGAIN && err != EACCES)
      throw Error(ErrorCode::usage, file + ": cannot lock: " + std::strerror(err));
    struct flock held {};
    const bool known = holder(fd, kShardBase + index, 1, &held);
    const std::string what = count == 1
                                 ? std::string("an unsharded run on this folder")
                                 : "shard " + std::to_string(index) + "/" + std::to_string(count);
    throw Error(ErrorCode::busy,
                folder.root() + ": " + what + " is already running" +
                    (known && held.l_pid > 0 ? " (pid " + std::to_string(held.l_pid) + ")" : "") +
                    "; a second run of the same work would only repeat it");
  }
  return lock;
}

void RunLock::check_idle(const OutputFolder& folder) {
  const int fd = open_lock_file(folder, false);
  if (fd < 0) return;
  struct flock found {};
  const bool busy = holder(fd, 1, kShardBase + kCountEnd, &found);
  ::close(fd);
  if (busy)
    throw Error(ErrorCode::busy, folder.root() + ": " + describe(found) + " is still running");
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases every record lock of this process on the file
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

}  // namespace camkit
