#include "io/nifti_bytes.hpp"

#include <algorithm>

namespace camkit::io {

NiftiBytes::NiftiBytes(const std::string& path, const ReadOptions& options) : path_(path) {
  file_.emplace(path, options.max_file_bytes);
  file_->read_more(raw_, 2);
  if (is_gzip(raw_.data(), raw_.size())) {
    file_->read_rest(raw_);
    file_.reset();
    gzip_.emplace(path_, raw_.data(), raw_.size());
  }
}

NiftiBytes::NiftiBytes(const std::string& path, std::vector<unsigned char> bytes)
    : path_(path), raw_(std::move(bytes)) {
  if (is_gzip(raw_.data(), raw_.size())) gzip_.emplace(path_, raw_.data(), raw_.size());
}

void NiftiBytes::fill(std::vector<unsigned char>& bytes, std::size_t size) {
  if (bytes.size() >= size) return;
  if (gzip_) {
    gzip_->fill(bytes, size);
    return;
  }
  if (file_) {
    // The two bytes read to sniff the format come first.
    if (raw_used_ < raw_.size()) {
      bytes.insert(bytes.end(), raw_.begin() + static_cast<long>(raw_used_), raw_.end());
      raw_used_ = raw_.size();
    }
    if (bytes.size() < size) file_->read_more(bytes, size - bytes.size());
    return;
  }
  const std::size_t take = std::min(size - bytes.size(), raw_.size() - raw_used_);
  bytes.insert(bytes.end(), raw_.begin() + static_cast<long>(raw_used_),
               raw_.begin() + static_cast<long>(raw_used_ + take));
  raw_used_ += take;
}

}  // namespace camkit::io
