// Writing files so that a reader never sees a partial one: write a sibling temporary, then rename.
#pragma once

#include <string>
#include <string_view>

namespace camkit {

/// Writes `bytes` to `path` via "<path>.tmp-<pid>-<n>" and rename(2); creates parent directories.
/// Throws Error(ErrorCode::input) naming `path` on failure, leaving no temporary behind.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace camkit
