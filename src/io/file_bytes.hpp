// io/file_bytes.hpp — private: whole-file reads with the io area's one-line error messages.
#pragma once

#include <string>
#include <vector>

#include "camkit/error.hpp"

namespace camkit::io {

/// Error(ErrorCode::input, "<path>: <reason>"), the only shape of failure the io area reports.
Error input_error(const std::string& path, const std::string& reason);

/// Returns the file's bytes. Throws input_error for "no such file", "is a directory",
/// "empty file" and "cannot read (<strerror>)". The size is taken from the bytes actually read,
/// never from stat(), so a file that shrinks while being read cannot cause an over-read later.
std::vector<unsigned char> read_file_bytes(const std::string& path);

}  // namespace camkit::io
