// io/dicom_source.hpp — private: the file DCMTK parses for load_dicom, chosen so that DCMTK never
// allocates what a header merely claims.
//
// DCMTK reads by file name. With a file stream it defers values longer than a few KiB and, for
// those, refuses a declared length that exceeds the bytes left in the file before allocating it;
// from a memory buffer or through its inflating filter (Deflated Explicit VR Little Endian) it
// allocates every declared length at once. So DCMTK is always given a plain file:
//  - the checked input itself, through /proc/self/fd/<n> of the descriptor RegularFile opened,
//    so that the file parsed is the one checked (regular, within the size cap);
//  - for a deflated data set, a copy in an anonymous memory file (memfd) holding the meta header,
//    its TransferSyntaxUID rewritten to Explicit VR Little Endian, and the data set inflated by
//    zlib up to the size cap.
#pragma once

#include <cstdint>
#include <string>

#include "camkit/image.hpp"
#include "io/file_bytes.hpp"

namespace camkit::io {

class DicomSource {
 public:
  /// Opens and checks `path` (RegularFile with options.max_file_bytes; the "DICM" marker at byte
  /// 128) and, for a deflated data set, inflates it. Throws input_error for a file that is not
  /// DICOM, corrupt deflated data, or inflated data over options.max_file_bytes.
  DicomSource(const std::string& path, const ReadOptions& options);
  DicomSource(const DicomSource&) = delete;
  DicomSource& operator=(const DicomSource&) = delete;
  ~DicomSource();

  /// The name to give DCMTK; valid while this object lives (DCMTK reopens it for late values).
  const std::string& name() const { return name_; }
  /// Bytes of the file DCMTK reads: no value in it can be longer.
  std::uint64_t size() const { return size_; }

 private:
  RegularFile file_;
  int copy_ = -1;  ///< memfd of the inflated copy, or -1
  std::string name_;
  std::uint64_t size_ = 0;
};

}  // namespace camkit::io
