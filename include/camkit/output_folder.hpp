// camkit/output_folder.hpp — the output folder of a run: writes confined to it, camkit's own
// temporaries, and the locks that keep two runs of the same work apart (docs/guarantees.md).
//
// Usage:
//   camkit::OutputFolder out("camkit-out");                 // created when missing
//   out.write("cat/1.json", text);                          // temp file + rename, inside only
//   std::optional<std::string> old = out.read("cat/1.json");
//   out.remove_stale_temporaries("cat");                     // this host's dead processes' only
//   camkit::RunLock lock = camkit::RunLock::acquire(out, 0, 4);   // shard 0 of 4
//
// Confinement: a relative path is normalised lexically and refused when it is absolute or
// climbs out ("..", after normalisation). Every folder between the root and the file is opened
// with O_NOFOLLOW, so a symbolic link inside the output folder is never written through (the
// root itself may be a link: that is the user's choice of folder). A final name that is a link
// is replaced by the new file (rename), never followed. Nothing is ever written through a path
// string alone, so a folder swapped for a link between a check and a write cannot redirect it.
//
// Threading: an OutputFolder may be used from many threads at once (it only holds the root's
// descriptor); RunLock is owned by one run.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace camkit {

/// The folder a run writes into. Move-only; holds a descriptor of the root.
class OutputFolder {
 public:
  /// Opens `root`, creating it (and its parents) when missing. Throws Error(usage) naming it when
  /// it cannot be created or opened, or is not a folder.
  explicit OutputFolder(const std::string& root);
  ~OutputFolder();
  OutputFolder(OutputFolder&& other) noexcept;
  OutputFolder& operator=(OutputFolder&& other) noexcept;
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  const std::string& root() const { return root_; }
  /// root / relative, for messages and for readers that take a path.
  std::string path(const std::string& relative) const;

  /// Writes `bytes` to a camkit temporary beside the final name (temporary_name()), then renames
  /// it over `relative`; creates the folders in between. Throws Error(input) naming the final
  /// path when the path leaves the folder, crosses a symbolic link or a non-folder, or the write
  /// or rename fails (e.g. a folder stands at the final name); no temporary is left behind.
  void write(const std::string& relative, std::string_view bytes) const;

  /// The bytes of a regular file at `relative`, or nothing when it is missing, not a regular
  /// file, outside the folder or behind a symbolic link (a link there is not trusted).
  std::optional<std::string> read(const std::string& relative) const;

  /// Whether read() would find a regular file there (without reading it).
  bool exists(const std::string& relative) const;

  /// Removes, directly inside the folder `relative` (never below it, never through a link), the
  /// temporaries that camkit processes of this host left when they died (killed runs). Names
  /// that are not camkit temporaries, other hosts' temporaries and live processes' are kept.
  /// Returns how many were removed; a missing folder has none.
  std::size_t remove_stale_temporaries(const std::string& relative = "") const;

  /// A descriptor of the folder at `relative` (created when `create`), or -1 when it is missing,
  /// a link or not a folder; the caller closes it. Throws Error(input) like write() for paths
  /// that leave the folder.
  int open_folder(const std::string& relative, bool create) const;

  int fd() const { return fd_; }

 private:
  std::string root_;
  int fd_ = -1;
};

/// `relative` normalised lexically ("a/./b//c" -> "a/b/c"); throws Error(input) naming
/// `root`/`relative` when it is empty, absolute or climbs out of the folder.
std::string confined_relative(const std::string& root, const std::string& relative);

/// The one lock file of an output folder, ".camkit.lock". Its presence also marks a folder as a
/// camkit output folder (directory walks skip such folders).
inline constexpr const char* kLockFileName = ".camkit.lock";

/// Keeps two runs of the same work off one output folder: POSIX record locks (fcntl) on
/// ".camkit.lock", which the kernel (or the network file system's lock manager) releases when the
/// process ends, however it ends. Shard `index` of `count` holds a shared lock on the byte
/// `count` (runs with another shard count are refused: their shards would overlap) and an
/// exclusive lock on the byte 2^32 + `index` (the same shard twice is refused).
class RunLock {
 public:
  /// Locks shard `index` of `count` (1 <= count <= 2^31, 0 <= index < count) in `folder`.
  /// Throws Error(busy) naming the folder and the holder's pid when another live process holds
  /// the same shard, or any shard of another count. Where the file system has no locks (ENOLCK,
  /// ENOSYS, EOPNOTSUPP), returns an unlocked RunLock and calls `note` with a warning.
  static RunLock acquire(const OutputFolder& folder, int index, int count,
                         const std::function<void(const std::string&)>& note = {});

  /// Throws Error(busy) when any run holds a shard lock in `folder` (e.g. before merging its
  /// indexes). A folder without a lock file is idle. POSIX drops all of a process's locks on a
  /// file when it closes any descriptor of it: call this before acquiring a lock in the same
  /// folder, never while holding one there.
  static void check_idle(const OutputFolder& folder);

  RunLock() = default;
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace camkit
