// Text from file names made safe to print on a terminal or into a log.
#pragma once

#include <string>
#include <string_view>

namespace camkit::cli {

/// `text` with control characters (C0, DEL, C1), backslashes and bytes that are not UTF-8
/// escaped: "\n", "\r", "\t", "\\", else "\xHH". A file name can then neither move the cursor,
/// recolour the terminal nor start a line of its own (and so forge a summary line).
std::string printable(std::string_view text);

}  // namespace camkit::cli
