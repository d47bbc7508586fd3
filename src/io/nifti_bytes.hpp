// io/nifti_bytes.hpp — private: the bytes of a .nii or .nii.gz file, read (or inflated) only as
// far as asked, and the reader behind read_nifti, for the fuzzing seam.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "camkit/volume.hpp"
#include "io/file_bytes.hpp"
#include "io/gzip_stream.hpp"

namespace camkit::io {

/// A NIfTI file's bytes: plain files are read through RegularFile as far as asked; gzip files
/// are read whole (within options.max_file_bytes) and inflated as far as asked.
class NiftiBytes {
 public:
  NiftiBytes(const std::string& path, const ReadOptions& options);
  /// The same over bytes already in memory (the fuzzers).
  NiftiBytes(const std::string& path, std::vector<unsigned char> bytes);

  /// Appends to `bytes` until it holds `size` bytes or the file ends.
  void fill(std::vector<unsigned char>& bytes, std::size_t size);
  bool compressed() const { return gzip_.has_value(); }

 private:
  std::string path_;
  std::optional<RegularFile> file_;
  std::vector<unsigned char> raw_;  ///< the compressed file, or an in-memory plain file
  std::size_t raw_used_ = 0;        ///< bytes of raw_ handed out (plain, in memory)
  std::optional<GzipStream> gzip_;
};

/// The volume read_nifti returns, from `source`.
Volume nifti_volume(const std::string& path, NiftiBytes& source, const ReadOptions& options);

}  // namespace camkit::io
