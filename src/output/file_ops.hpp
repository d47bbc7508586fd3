// Private to the output area: whole-file writes and reads relative to a folder descriptor.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace camkit::output_detail {

/// Writes `bytes` to temporary_name(name) in the folder `dirfd`, then renames it to `name`
/// (replacing a link or file there). Throws Error(input) "<shown>: cannot write: <reason>".
void write_at(int dirfd, const std::string& name, std::string_view bytes, const std::string& shown);

/// The bytes of the regular file `name` in `dirfd` (not following a link), or nothing.
std::optional<std::string> read_at(int dirfd, const std::string& name);

/// Whether a process with this pid runs on this host (EPERM counts as running).
bool process_alive(long long pid);

}  // namespace camkit::output_detail
