#include "io/dicom_source.hpp"

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "io/limits.hpp"

namespace camkit::io {

namespace {

constexpr const char* kDeflated = "1.2.840.10008.1.2.1.99";
constexpr const char* kExplicitLittle = "1.2.840.10008.1.2.1";
constexpr std::size_t kPreamble = 132;           // 128 bytes, then "DICM"
constexpr std::size_t kMetaHeaderMax = 1 << 16;  // meta headers are a few hundred bytes

std::uint32_t le(const unsigned char* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Where the TransferSyntaxUID value lies in an explicit little-endian meta header (PS3.10 7.1),
// and where the header ends; nullopt when the header cannot be walked (DCMTK then judges it).
struct MetaHeader {
  std::size_t end = 0, uid_at = 0, uid_length = 0;
};

std::optional<MetaHeader> walk_meta(const std::vector<unsigned char>& b) {
  // The first element must be the group length, (0002,0000) UL of 4 bytes.
  if (b.size() < kPreamble + 12 || le(&b[kPreamble], 2) != 2 || le(&b[kPreamble + 2], 2) != 0 ||
      std::memcmp(&b[kPreamble + 4], "UL", 2) != 0) {
    return std::nullopt;
  }
  MetaHeader m;
  m.end = kPreamble + 12 + le(&b[kPreamble + 8], 4);
  if (m.end > b.size()) return std::nullopt;
  for (std::size_t p = kPreamble + 12; p + 8 <= m.end;) {
    const std::uint32_t element = le(&b[p + 2], 2);
    const bool long_form = std::memcmp(&b[p + 4], "OB", 2) == 0 ||
                           std::memcmp(&b[p + 4], "UN", 2) == 0 ||
                           std::memcmp(&b[p + 4], "OW", 2) == 0;
    const std::size_t header = long_form ? 12 : 8;
    if (p + header > m.end) return std::nullopt;
    const std::size_t length = long_form ? le(&b[p + 8], 4) : le(&b[p + 6], 2);
    if (length > m.end - p - header) return std::nullopt;
    if (le(&b[p], 2) == 2 && element == 0x10) {
      m.uid_at = p + header;
      m.uid_length = length;
    }
    p += header + length;
  }
  return m;
}

bool is_uid(const std::vector<unsigned char>& b, const MetaHeader& m, const char* uid) {
  std::size_t n = m.uid_length;
  while (n > 0 && (b[m.uid_at + n - 1] == 0 || b[m.uid_at + n - 1] == ' ')) --n;
  return n == std::strlen(uid) && std::memcmp(&b[m.uid_at], uid, n) == 0;
}

// Raw deflate (PS3.5 A.5), or a zlib stream, which some writers produce; at most `cap` bytes.
std::vector<unsigned char> inflate_data_set(const std::string& path, const unsigned char* in,
                                            std::size_t size, std::uint64_t cap) {
  const bool wrapped = size >= 2 && (in[0] & 0x0F) == 8 && ((in[0] << 8) | in[1]) % 31 == 0;
  z_stream z{};
  if (inflateInit2(&z, wrapped ? 15 : -15) != Z_OK) throw input_error(path, "cannot inflate");
  std::vector<unsigned char> out;
  z.next_in = const_cast<unsigned char*>(in);
  z.avail_in = static_cast<uInt>(size);
  int status = Z_OK;
  while (status == Z_OK) {
    if (out.size() > cap) break;
    const std::size_t at = out.size();
    out.resize(at + (1 << 16));
    z.next_out = out.data() + at;
    z.avail_out = 1 << 16;
    status = inflate(&z, Z_NO_FLUSH);
    out.resize(at + (1 << 16) - z.avail_out);
    if (status == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended without a stream end
  }
  inflateEnd(&z);
  if (out.size() > cap) {
    throw input_error(path, over_limit("deflated data set inflating to more than " +
                                           std::to_string(cap) + " bytes",
                                       cap, kFileSizeFlag));
  }
  if (status != Z_STREAM_END) {
    throw input_error(path, std::string("truncated or corrupt deflated data set (zlib: ") +
                                (z.msg != nullptr ? z.msg : "premature end") + ")");
  }
  return out;
}

bool write_all(int fd, const unsigned char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

DicomSource::DicomSource(const std::string& path, const ReadOptions& options)
    : file_(path, options.max_file_bytes) {
  std::vector<unsigned char> head;
  if (file_.read_more(head, kPreamble) != kPreamble ||
      std::memcmp(head.data() + 128, "DICM", 4) != 0) {
    throw input_error(path, "not a DICOM file (no 'DICM' marker at byte 128)");
  }
  file_.read_more(head, kMetaHeaderMax);
  const std::optional<MetaHeader> meta = walk_meta(head);
  size_ = file_.size();
  const bool deflated = meta && meta->uid_length > 0 && is_uid(head, *meta, kDeflated);
  // DCMTK would inflate a deflated data set that this walk could not find itself, allocating as
  // it goes: such a file is refused instead.
  const std::string text(head.begin(), head.end());
  if (!deflated && text.find(kDeflated) != std::string::npos) {
    throw input_error(path, "deflated data set behind a meta header that cannot be read");
  }
  if (!deflated) {
    const std::string by_fd = "/proc/self/fd/" + std::to_string(file_.descriptor());
    name_ = ::access(by_fd.c_str(), R_OK) == 0 ? by_fd : path;
    return;
  }
  file_.read_rest(head);
  const std::vector<unsigned char> data = inflate_data_set(
      path, head.data() + meta->end, head.size() - meta->end, options.max_file_bytes);
  // Same length as the deflated UID, padded with NULs, so the meta header's lengths still hold.
  std::memset(&head[meta->uid_at], 0, meta->uid_length);
  std::memcpy(&head[meta->uid_at], kExplicitLittle, std::strlen(kExplicitLittle));
  copy_ = ::memfd_create("camkit-dicom", MFD_CLOEXEC);
  if (copy_ < 0 || !write_all(copy_, head.data(), meta->end) ||
      !write_all(copy_, data.data(), data.size())) {
    const int err = errno;
    if (copy_ >= 0) ::close(copy_);  // the destructor does not run for a throwing constructor
    throw input_error(
        path, "cannot hold the inflated data set (" + std::string(std::strerror(err)) + ")");
  }
  name_ = "/proc/self/fd/" + std::to_string(copy_);
  size_ = meta->end + data.size();
}

DicomSource::~DicomSource() {
  if (copy_ >= 0) ::close(copy_);
}

}  // namespace camkit::io
