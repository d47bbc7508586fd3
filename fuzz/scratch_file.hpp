// A temporary file the harnesses of file-based readers write each input to (one per process,
// removed at exit): DCMTK and the CSV readers take a path, and that interface is what is fuzzed.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace camkit_fuzz {

inline const std::string& scratch_path(const char* suffix) {
  static const std::string path = [suffix] {
    // Memory-backed when possible: rewriting a file on disk thousands of times a second waits
    // on the file system's flushes.
    const char* dir = std::getenv("TMPDIR");
    if (dir == nullptr) dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string p = std::string(dir) + "/camkit_fuzz_XXXXXX" + suffix;
    const int fd = ::mkstemps(p.data(), static_cast<int>(std::string(suffix).size()));
    if (fd >= 0) ::close(fd);
    std::atexit([] { std::remove(scratch_path("").c_str()); });
    return p;
  }();
  return path;
}

/// Writes the input to the scratch file; returns its path, or "" when it cannot be written.
inline std::string write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string& path = scratch_path(suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return {};
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok ? path : std::string();
}

}  // namespace camkit_fuzz
